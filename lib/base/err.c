#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"

const char *ls_prog = "landshift";
int ls_quiet;

/* room for two paths of PATH_MAX and the reason: a message is shortened
 * when printed (emit), never cut while it is built */
static char msg[16384];
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
	static char ctx[8192], old[sizeof msg];
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
	/* die now: this thread may not be the main one, which must not go on
	 * (and exit 1 on the temporaries just removed) while a raised signal
	 * waits for the handler to return */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	signal(sig, SIG_DFL);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
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

/* Length of the valid UTF-8 sequence at s (1 to 4), or 0. */
static int utf8_len(const unsigned char *s)
{
	int n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 && s[0] >= 0xc2 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
		: (s[0] & 0xf8) == 0xf0 && s[0] <= 0xf4 ? 4 : 0;
	for (int i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* s[0..n) appended to out at o, escaped: control characters and bytes
 * that are not UTF-8 as \n or \xNN. Returns the new o. */
static size_t escape(char *out, size_t o, size_t cap, const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n && o + 8 < cap;) {
		int k = utf8_len(s + i);
		if (k > 1 || (k == 1 && s[i] >= 0x20 && s[i] != 0x7f)) {
			memcpy(out + o, s + i, k);
			o += k, i += k;
		} else {
			o += snprintf(out + o, cap - o, s[i] == '\n' ? "\\n" : "\\x%02x", s[i]);
			i++;
		}
	}
	return o;
}

/* One line on stderr, "prog: tag line", escaped so that a file name cannot
 * break the line or the terminal; a word (a path) longer than 160 bytes
 * shortened to its first 60 and last 90 bytes, so the reason after it
 * always shows. */
static void emit(const char *tag, const char *line)
{
	static char out[4096];
	size_t o = 0;
	const unsigned char *s = (const unsigned char *)line;
	while (*s && o + 16 < sizeof out) {
		size_t w = strcspn((const char *)s, " ");
		if (w > 160) {
			size_t a = 60, b = w - 90;
			while (a > 0 && (s[a] & 0xc0) == 0x80)	/* at character boundaries */
				a--;
			while (b < w && (s[b] & 0xc0) == 0x80)
				b++;
			o = escape(out, o, sizeof out, s, a);
			o = escape(out, o, sizeof out, (const unsigned char *)"...", 3);
			o = escape(out, o, sizeof out, s + b, w - b);
		} else {
			o = escape(out, o, sizeof out, s, w);
		}
		s += w;
		if (*s == ' ')
			o = escape(out, o, sizeof out, s++, 1);
	}
	out[o] = 0;
	fprintf(stderr, "%s: %s%s\n", ls_prog ? ls_prog : "landshift", tag, out);
}

void ls_die(int code, const char *fmt, ...)
{
	static char line[sizeof msg];
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(line, sizeof line, fmt, ap);
		va_end(ap);
	} else {
		snprintf(line, sizeof line, "%s", ls_errmsg());
	}
	fflush(stdout);
	emit("", line);
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

void ls_flush_stdout(void)
{
	errno = 0;
	if (fflush(stdout) || ferror(stdout))
		ls_die(LS_EXIT_DATA, "writing stdout: %s", errno ? strerror(errno) : "write error");
}

void ls_warn(const char *fmt, ...)
{
	static char line[sizeof msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	emit("warning: ", line);
}

void ls_info(const char *fmt, ...)
{
	static char line[sizeof msg];
	va_list ap;
	if (ls_quiet)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	emit("", line);
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
