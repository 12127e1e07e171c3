/* progress.h - a progress line on stderr for long-running filters: the
 * fraction done and an estimated time left. On a terminal it redraws one
 * line at most twice a second; into a file or pipe it writes a whole line
 * at most every 10 seconds (LANDSHIFT_PROGRESS_SECONDS changes that), so logs
 * are not flooded. Silent with --quiet. */
#ifndef LS_PROGRESS_H
#define LS_PROGRESS_H

struct ls_progress {
	const char *what;
	long total;
	double start, last, gap;
	int tty, drawn;
};

void ls_progress_start(struct ls_progress *p, const char *what, long total);
void ls_progress_update(struct ls_progress *p, long done);
void ls_progress_end(struct ls_progress *p);

#endif
