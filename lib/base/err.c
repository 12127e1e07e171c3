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
static char *volatile cleanup[32];
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

/* SIGTERM, SIGINT, SIGHUP: the registered temporaries removed, then the
 * default action, so the program still dies by the signal (unlink and
 * raise are async-signal-safe; the list only grows by whole entries) */
static void on_signal(int sig)
{
	for (int i = 0; i < ncleanup; i++)
		if (cleanup[i])
			unlink(cleanup[i]);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void catch_signals(void)
{
	static int done;
	struct sigaction sa;
	if (done++)
		return;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
		struct sigaction old;
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;	/* ignored by the parent (nohup): leave it so */
		sigaction(sigs[i], &sa, NULL);
	}
}

void ls_cleanup_add(const char *path)
{
	catch_signals();
	for (int i = 0; i < ncleanup; i++)	/* a forgotten slot first */
		if (!cleanup[i]) {
			cleanup[i] = ls_xstrdup(path);
			return;
		}
	if (ncleanup < (int)(sizeof cleanup / sizeof *cleanup))
		cleanup[ncleanup++] = ls_xstrdup(path);
}

void ls_cleanup_forget(const char *path)
{
	for (int i = 0; i < ncleanup; i++)
		if (cleanup[i] && !strcmp(cleanup[i], path)) {
			char *p = cleanup[i];
			cleanup[i] = NULL;
			free(p);
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
