#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/progress.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

void ls_progress_start(struct ls_progress *p, const char *what, long total)
{
	p->what = what;
	p->total = total;
	p->start = p->last = now();
	p->tty = isatty(2);
	p->drawn = 0;
	/* seconds between lines into a file or pipe; tests shorten it */
	const char *e = getenv("LANDSHIFT_PROGRESS_SECONDS");
	p->gap = e && atof(e) > 0 ? atof(e) : 10;
}

static void fmt_time(double s, char *buf, size_t n)
{
	long t = (long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
	else
		snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
}

void ls_progress_update(struct ls_progress *p, long done)
{
	double t = now(), gap = p->tty ? 0.5 : p->gap;
	char eta[32] = "?";
	if (ls_quiet || t - p->last < gap || p->total <= 0)
		return;
	p->last = t;
	if (done > 0)
		fmt_time((t - p->start) / done * (p->total - done), eta, sizeof eta);
	fprintf(stderr, "%s%s: %s %3.0f%% (%ld/%ld), %s left%s", p->tty ? "\r" : "", ls_prog, p->what,
		100.0 * done / p->total, done, p->total, eta, p->tty ? "\033[K" : "\n");
	p->drawn = p->tty;
}

void ls_progress_end(struct ls_progress *p)
{
	if (p->drawn && !ls_quiet)
		fprintf(stderr, "\r\033[K");
	p->drawn = 0;
}
