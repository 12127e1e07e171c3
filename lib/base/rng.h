/* rng.h - a seeded random generator (xoshiro256**): the same seed gives the
 * same sequence on every machine, so runs are reproducible. */
#ifndef LS_RNG_H
#define LS_RNG_H

#include <stdint.h>

struct ls_rng {
	uint64_t s[4];
};

void ls_rng_seed(struct ls_rng *r, uint64_t seed);
uint64_t ls_rng_u64(struct ls_rng *r);
double ls_rng_uniform(struct ls_rng *r);	/* [0, 1) */
double ls_rng_normal(struct ls_rng *r);

#endif
