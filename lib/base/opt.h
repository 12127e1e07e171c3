/* opt.h - one table-driven option parser that also writes --help.
 *
 * A filter declares a table of struct ls_opt pointing at its variables (whose
 * initial values are the defaults shown by --help) and calls ls_opt_parse.
 * Options may appear anywhere; "--" ends them; "-" is a positional argument
 * (stdin/stdout). Every filter gets --help, --quiet and --threads. */
#ifndef LS_OPT_H
#define LS_OPT_H

#include <stdio.h>

enum ls_opt_type { LS_OPT_FLAG, LS_OPT_INT, LS_OPT_DOUBLE, LS_OPT_STR, LS_OPT_LIST, LS_OPT_CB };

struct ls_strlist {
	int n;
	char **v;
};

struct ls_opt {
	const char *name;	/* long name without "--" */
	enum ls_opt_type type;
	void *dst;		/* int*, double*, const char**, struct ls_strlist*, or callback ctx */
	const char *arg;	/* argument name in help, NULL for flags */
	const char *help;
	int (*cb)(void *ctx, const char *val);	/* LS_OPT_CB: returns -1 with ls_err set */
	double lo, hi;		/* LS_OPT_INT, LS_OPT_DOUBLE: the values allowed, inclusive
				 * (lo = hi = 0: any), shown by --help */
};

struct ls_cmd {
	const char *name;
	const char *purpose;	/* one line */
	const char *usage;	/* "[options] RASTER... > frames" */
	const char *example;	/* an example pipeline */
	const struct ls_opt *opts;	/* terminated by {0} */
	const char *const *retired;	/* NULL, or pairs: an option no longer offered and why,
					 * ending with NULL (its use is a usage error that says so) */
};

/* Threads requested by --threads (0 = all cores; at most LS_MAX_THREADS_PER_CORE
 * a core: more only thrash, and some OpenMP runtimes fail outright). */
#define LS_MAX_THREADS_PER_CORE 8
extern int ls_threads;

/* Parse argv; positional arguments are returned in *pos (argv-owned strings).
 * Prints help and exits 0 for --help; usage errors exit 2 with a message. */
void ls_opt_parse(const struct ls_cmd *cmd, int argc, char **argv, struct ls_strlist *pos);
void ls_opt_help(const struct ls_cmd *cmd, FILE *out);
void ls_strlist_push(struct ls_strlist *l, const char *s);
void ls_strlist_free(struct ls_strlist *l);
/* Split "a,b,c" into a list (copies). */
void ls_strlist_split(struct ls_strlist *l, const char *s, char sep);

#endif
