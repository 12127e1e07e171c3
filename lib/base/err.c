#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"

const char *ls_prog = "landshift";
int ls_quiet;

static char msg[2048];
static char *cleanup[16];
static int ncleanup;

int ls_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return -1;
}

int ls_err_ctx(const char *fmt, ...)
{
	char ctx[1024], old[sizeof msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof ctx, fmt, ap);
	va_end(ap);
	memcpy(old, msg, sizeof old);
	snprintf(msg, sizeof msg, "%s: %s", ctx, old);
	return -1;
}

const char *ls_errmsg(void)
{
	return msg[0] ? msg : "unknown error";
}

static void run_cleanup(void)
{
	for (int i = 0; i < ncleanup; i++)
		if (cleanup[i])
			unlink(cleanup[i]);
}

void ls_cleanup_add(const char *path)
{
	if (ncleanup < (int)(sizeof cleanup / sizeof *cleanup))
		cleanup[ncleanup++] = ls_xstrdup(path);
}

void ls_cleanup_forget(const char *path)
{
	for (int i = 0; i < ncleanup; i++)
		if (cleanup[i] && !strcmp(cleanup[i], path)) {
			free(cleanup[i]);
			cleanup[i] = NULL;
		}
}

void ls_die(int code, const char *fmt, ...)
{
	char line[2048];
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(line, sizeof line, fmt, ap);
		va_end(ap);
	} else {
		snprintf(line, sizeof line, "%s", ls_errmsg());
	}
	fflush(stdout);
	fprintf(stderr, "%s: %s\n", ls_prog, line);
	run_cleanup();
	exit(code);
}

void ls_die_quiet(int code)
{
	run_cleanup();
	exit(code);
}

void ls_die_err(void)
{
	ls_die(LS_EXIT_DATA, NULL);
}

void ls_warn(const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: warning: %s\n", ls_prog, line);
}

void ls_info(const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	if (ls_quiet)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", ls_prog, line);
}

void *ls_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		ls_die(LS_EXIT_DATA, "out of memory allocating %zu bytes", n);
	return p;
}

void *ls_xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (!p)
		ls_die(LS_EXIT_DATA, "out of memory allocating %zu x %zu bytes", n, m);
	return p;
}

void *ls_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		ls_die(LS_EXIT_DATA, "out of memory allocating %zu bytes", n);
	return q;
}

void *ls_xaligned(size_t align, size_t n)
{
	void *p = aligned_alloc(align, n ? n : align);
	if (!p)
		ls_die(LS_EXIT_DATA, "out of memory allocating %zu bytes", n);
	return p;
}

void ls_bug(const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: internal error: %s\n", ls_prog ? ls_prog : "landshift", line);
	abort();
}

char *ls_xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		ls_die(LS_EXIT_DATA, "out of memory");
	return p;
}
