#include <math.h>

#include "base/rng.h"

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void ls_rng_seed(struct ls_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t ls_rng_u64(struct ls_rng *r)
{
	uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

double ls_rng_uniform(struct ls_rng *r)
{
	return (ls_rng_u64(r) >> 11) * 0x1.0p-53;
}

double ls_rng_normal(struct ls_rng *r)
{
	double u = ls_rng_uniform(r), v = ls_rng_uniform(r);
	return sqrt(-2 * log(1 - u)) * cos(2 * M_PI * v);
}
