#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/opt.h"

int ls_threads = 0;

static const struct ls_opt common[] = {
	{ "help", LS_OPT_FLAG, NULL, NULL, "show this help and exit", NULL },
	{ "quiet", LS_OPT_FLAG, &ls_quiet, NULL, "no progress or information on stderr", NULL },
	{ "threads", LS_OPT_INT, &ls_threads, "N", "worker threads (0 = all cores; at most 8 a core)", NULL },
	{ 0 }
};

void ls_strlist_push(struct ls_strlist *l, const char *s)
{
	l->v = ls_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
	l->v[l->n++] = ls_xstrdup(s);
}

void ls_strlist_free(struct ls_strlist *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void ls_strlist_split(struct ls_strlist *l, const char *s, char sep)
{
	const char *p = s;
	while (*p) {
		const char *e = strchr(p, sep);
		size_t n = e ? (size_t)(e - p) : strlen(p);
		char *tok = ls_xmalloc(n + 1);
		memcpy(tok, p, n);
		tok[n] = 0;
		if (n)
			ls_strlist_push(l, tok);
		free(tok);
		p += n;
		if (*p)
			p++;
	}
}

static void default_str(const struct ls_opt *o, char *buf, size_t n)
{
	buf[0] = 0;
	if (!o->dst)
		return;
	switch (o->type) {
	case LS_OPT_INT:
		snprintf(buf, n, "%d", *(int *)o->dst);
		break;
	case LS_OPT_DOUBLE:	/* NaN: no default, the option is required */
		if (!isnan(*(double *)o->dst))
			snprintf(buf, n, "%g", *(double *)o->dst);
		break;
	case LS_OPT_STR:
		if (*(const char **)o->dst)
			snprintf(buf, n, "%s", *(const char **)o->dst);
		break;
	default:
		break;
	}
}

static void help_table(const struct ls_opt *t, FILE *out)
{
	for (; t->name; t++) {
		char lhs[64], def[128];
		snprintf(lhs, sizeof lhs, "--%s%s%s", t->name, t->arg ? " " : "", t->arg ? t->arg : "");
		default_str(t, def, sizeof def);
		fprintf(out, "  %-24s %s", lhs, t->help);
		if (def[0])
			fprintf(out, " (default %s)", def);
		if (t->type == LS_OPT_LIST)
			fprintf(out, " (repeatable)");
		if (t->lo != t->hi)
			fprintf(out, " (%.12g to %.12g)", t->lo, t->hi);
		fputc('\n', out);
	}
}

void ls_opt_help(const struct ls_cmd *cmd, FILE *out)
{
	fprintf(out, "%s - %s\n\nusage: %s %s\n\noptions:\n", cmd->name, cmd->purpose, cmd->name, cmd->usage);
	help_table(cmd->opts, out);
	help_table(common, out);
	if (cmd->example)
		fprintf(out, "\nexample:\n  %s\n", cmd->example);
}

static const struct ls_opt *find(const struct ls_opt *t, const char *name, size_t n)
{
	for (; t->name; t++)
		if (strlen(t->name) == n && !strncmp(t->name, name, n))
			return t;
	return NULL;
}

static void usage_die(const struct ls_cmd *cmd, const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "%s: ", cmd->name);
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, " (usage: %s %s; see --help)\n", cmd->name, cmd->usage);
	exit(LS_EXIT_USAGE);
}

static void range_die(const struct ls_cmd *cmd, const struct ls_opt *o, const char *val)
{
	char lim[96];
	snprintf(lim, sizeof lim, "%.12g to %.12g", o->lo, o->hi);
	fprintf(stderr, "%s: --%s must be %s, not %s\n", cmd->name, o->name, lim, val);
	exit(LS_EXIT_USAGE);
}

static void set_value(const struct ls_cmd *cmd, const struct ls_opt *o, const char *val)
{
	char *end;
	switch (o->type) {
	case LS_OPT_FLAG:
		break;
	case LS_OPT_INT: {
		errno = 0;
		long v = strtol(val, &end, 10);
		if (errno || *end || end == val || v < -2147483647L || v > 2147483647L)
			usage_die(cmd, "--%s: '%s' is not an integer", o->name, val);
		if (o->lo != o->hi && (v < o->lo || v > o->hi))
			range_die(cmd, o, val);
		*(int *)o->dst = (int)v;
		break;
	}
	case LS_OPT_DOUBLE: {
		errno = 0;
		double v = strtod(val, &end);
		if (errno || *end || end == val || v != v)
			usage_die(cmd, "--%s: '%s' is not a number", o->name, val);
		if (o->lo != o->hi && !(v >= o->lo && v <= o->hi))
			range_die(cmd, o, val);
		*(double *)o->dst = v;
		break;
	}
	case LS_OPT_STR:
		*(const char **)o->dst = val;
		break;
	case LS_OPT_LIST:
		ls_strlist_push(o->dst, val);
		break;
	case LS_OPT_CB:
		if (o->cb(o->dst, val) < 0)
			usage_die(cmd, "--%s: %s", o->name, ls_errmsg());
		break;
	}
}

void ls_opt_parse(const struct ls_cmd *cmd, int argc, char **argv, struct ls_strlist *pos)
{
	int only_pos = 0;
	ls_prog = cmd->name;
	memset(pos, 0, sizeof *pos);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (only_pos || a[0] != '-' || !strcmp(a, "-")) {
			ls_strlist_push(pos, a);
			continue;
		}
		if (!strcmp(a, "--")) {
			only_pos = 1;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			ls_opt_help(cmd, stdout);
			exit(0);
		}
		if (a[1] != '-')
			usage_die(cmd, "unknown option '%s'%s", a, "");
		const char *name = a + 2, *eq = strchr(name, '=');
		size_t n = eq ? (size_t)(eq - name) : strlen(name);
		const struct ls_opt *o = find(cmd->opts, name, n);
		if (!o)
			o = find(common, name, n);
		for (const char *const *r = cmd->retired; !o && r && *r; r += 2)
			if (strlen(r[0]) == n && !strncmp(r[0], name, n))
				usage_die(cmd, "--%s was retired: %s", r[0], r[1]);
		if (!o)
			usage_die(cmd, "unknown option '%s'%s", a, "");
		if (o->type == LS_OPT_FLAG) {
			if (eq)
				usage_die(cmd, "--%s takes no value%s", o->name, "");
			if (o->dst)
				*(int *)o->dst = 1;
			continue;
		}
		const char *val = eq ? eq + 1 : NULL;
		if (!val) {
			if (i + 1 >= argc)
				usage_die(cmd, "--%s needs a value (%s)", o->name, o->arg ? o->arg : "");
			val = argv[++i];
		}
		set_value(cmd, o, val);
	}
	long cores = sysconf(_SC_NPROCESSORS_ONLN), most = LS_MAX_THREADS_PER_CORE * (cores > 0 ? cores : 1);
	if (ls_threads < 0 || ls_threads > most) {
		char lim[64];
		snprintf(lim, sizeof lim, "0 (all cores) to %ld", most);
		usage_die(cmd, "--threads must be %s, 8 a core", lim, "");
	}
}
