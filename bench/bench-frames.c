/* bench-frames - frame stream throughput through a pipe: one process writes
 * f32 tiles, another reads and validates them (CRC, shape, fields). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "stream/frame.h"
#include "base/opt.h"

static int count = 2000, bands = 4, size = 256;

static const struct ls_opt opts[] = {
	{ "count", LS_OPT_INT, &count, "N", "frames to send" },
	{ "bands", LS_OPT_INT, &bands, "N", "bands per frame" },
	{ "size", LS_OPT_INT, &size, "N", "tile size" },
	{ 0 }
};

static const struct ls_cmd cmd = { "bench-frames", "frame stream throughput through a pipe (write, read, validate)",
				   "[options]", "bench-frames --count 2000", opts };

static void writer(int fd)
{
	struct ls_frame f;
	int64_t shape[3] = { bands, size, size };
	ls_frame_init(&f);
	ls_frame_alloc(&f, LS_F32, 3, shape);
	for (size_t i = 0; i < f.t.nbytes / 4; i++)
		((float *)f.t.data)[i] = (float)i;
	memset(ls_frame_mask(&f), 1, (size_t)size * size);
	ls_frame_set_str(&f.key, "bench");
	snprintf(f.kind, sizeof f.kind, "tile");
	struct ls_writer *w = ls_writer_open(fd, "pipe");
	for (int i = 0; i < count; i++)
		ls_writer_put_or_die(w, &f);
	ls_writer_close_or_die(w);
	ls_frame_free(&f);
}

int main(int argc, char **argv)
{
	struct ls_strlist pos;
	int p[2];
	struct timespec t0, t1;
	ls_opt_parse(&cmd, argc, argv, &pos);
	if (pipe(p) < 0)
		ls_die(1, "pipe failed");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		writer(p[1]);
		_exit(0);
	}
	close(p[1]);
	struct ls_reader *r = ls_reader_open(p[0], "pipe");
	struct ls_frame f;
	int rc;
	ls_frame_init(&f);
	while ((rc = ls_reader_next(r, &f)) == 1)
		;
	if (rc < 0)
		ls_die_err();
	int st;
	waitpid(pid, &st, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
	double gb = (double)ls_reader_bytes(r) / 1e9;
	printf("frames %llu bytes %llu seconds %.3f\n", (unsigned long long)ls_reader_frames(r),
	       (unsigned long long)ls_reader_bytes(r), s);
	printf("frame_stream_gb_per_s %.2f\n", gb / s);
	ls_reader_close(r);
	ls_frame_free(&f);
	return 0;
}
