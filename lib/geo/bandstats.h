/* bandstats.h - per-band statistics over a stream (valid pixels only) and
 * the text file that stores them (normalise-bands --fit / --stats).
 *
 * Integer bands keep an exact histogram; float bands a seeded reservoir
 * sample of 2^20 values per band for the percentiles. Mean and standard
 * deviation (population, as gdalinfo -stats) are exact. */
#ifndef LS_BANDSTATS_H
#define LS_BANDSTATS_H

#include <stdint.h>

#include "stream/frame.h"
#include "base/rng.h"

struct ls_band {
	char name[64];
	uint64_t count;
	double shift, sum, sumsq, min, max;	/* sums of (v - shift) */
	double mean, std, lo, hi;		/* filled by ls_stats_finish or read from file */
	uint64_t *hist;				/* 65536 bins (i16 offset by 32768) or NULL */
	float *res;
	uint64_t nres;
};

struct ls_stats {
	int nb;
	double plo, phi;	/* percentiles, e.g. 2 and 98 */
	struct ls_band *b;
	struct ls_rng rng;
};

void ls_stats_init(struct ls_stats *s, double plo, double phi);
/* Add the pixels of f that no neighbouring tile also holds (own region). */
int ls_stats_add(struct ls_stats *s, const struct ls_frame *f);
void ls_stats_finish(struct ls_stats *s);
int ls_stats_write(const struct ls_stats *s, const char *path);	/* atomic */
int ls_stats_read(struct ls_stats *s, const char *path);
int ls_stats_find(const struct ls_stats *s, const char *name);	/* band index or -1 */
void ls_stats_free(struct ls_stats *s);

#endif
