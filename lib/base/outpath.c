/* outpath.c - outputs that would destroy an input or a special file (outpath.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/err.h"
#include "base/outpath.h"

int ls_same_file(const char *a, const char *b)
{
	struct stat x, y;
	if (!a || !b || !strcmp(a, "-") || !strcmp(b, "-") || stat(a, &x) < 0 || stat(b, &y) < 0)
		return 0;
	return x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

static char held[4200];

/* The lock file goes when its holder ends normally, removed while still
 * held: a program that opened it a moment before finds, after its flock,
 * that the name no longer leads to it, and starts again (below). */
static void unlink_held(void)
{
	if (held[0])
		unlink(held);
}

int ls_lock_output(const char *path)
{
	char lk[sizeof held];
	if (snprintf(lk, sizeof lk, "%s.lock", path) >= (int)sizeof lk)
		return ls_err("%s: the path is too long", path);
	for (int tries = 0; tries < 100; tries++) {
		struct stat a, b;
		int fd = open(lk, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return ls_err("cannot create the lock %s: %s", lk, strerror(errno));
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd);
			return ls_err("another program is writing %s (it holds %s)", path, lk);
		}
		if (fstat(fd, &a) == 0 && stat(lk, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
			if (!held[0])
				atexit(unlink_held);
			memcpy(held, lk, sizeof lk);
			return fd;
		}
		close(fd);	/* its holder removed it as we opened it: take the new one */
	}
	return ls_err("cannot take the lock %s: it keeps being replaced", lk);
}

int ls_output_ok(const char *out, const char *const *in, int n)
{
	struct stat st;
	if (!out || stat(out, &st) < 0)
		return 0;
	if (!S_ISREG(st.st_mode))
		return ls_err("%s is %s, not a regular file: refusing to replace it", out,
			      S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO"
			      : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : "a special file");
	for (int i = 0; i < n; i++)
		if (ls_same_file(out, in[i]))
			return ls_err("%s is the input %s: refusing to overwrite it (give another output)", out, in[i]);
	return 0;
}
