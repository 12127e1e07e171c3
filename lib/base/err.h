/* err.h - the library reports, the program decides.
 *
 * Library functions that can fail return -1 (or NULL) and leave one line of
 * explanation here; only a program's main prints it (ls_die) and exits.
 * Exit codes: 0 ok, 1 bad data or runtime failure, 2 usage error. */
#ifndef LS_ERR_H
#define LS_ERR_H

#include <stdarg.h>

#define LS_EXIT_DATA 1
#define LS_EXIT_USAGE 2

/* Program name used as prefix of every message; set once by main. */
extern const char *ls_prog;

/* Record an error message (printf format); returns -1 for `return ls_err(...)`. */
int ls_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prepend context to the current message: "ctx: old message". */
int ls_err_ctx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *ls_errmsg(void);

/* Print "prog: msg" (or the recorded message when fmt is NULL) and exit. */
void ls_die(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
/* Print the recorded library message and exit 1. */
void ls_die_err(void) __attribute__((noreturn));
/* Remove half-written outputs and exit without a message. */
void ls_die_quiet(int code) __attribute__((noreturn));
/* Flush stdout; on a failed write die naming the reason ("No space left
 * on device"). */
void ls_flush_stdout(void);
void ls_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Informational line on stderr unless quiet. */
extern int ls_quiet;
void ls_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Files to unlink if the program dies (half-written outputs), also when it
 * is killed by SIGTERM, SIGINT or SIGHUP (then it dies by that signal). */
void ls_cleanup_add(const char *path);
void ls_cleanup_forget(const char *path);

/* Allocation that dies on failure: memory exhaustion is not bad input. */
void *ls_xmalloc(size_t n);
void *ls_xcalloc(size_t n, size_t m);
void *ls_xrealloc(void *p, size_t n);
char *ls_xstrdup(const char *s);
/* align must be a power of two and n a multiple of it (aligned_alloc). */
void *ls_xaligned(size_t align, size_t n);
/* The program's own bug (never bad input): the message, then abort(). */
void ls_bug(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#endif
