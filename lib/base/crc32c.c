#include <string.h>

#include "base/crc32c.h"

static uint32_t table[8][256];
static int have_table, have_hw = -1;

static void make_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		table[0][i] = c;
	}
	for (int t = 1; t < 8; t++)
		for (int i = 0; i < 256; i++)
			table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
	have_table = 1;
}

static uint32_t crc_sw(uint32_t c, const unsigned char *p, size_t n)
{
	if (!have_table)
		make_table();
	while (n >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		v ^= c;
		c = table[7][v & 0xff] ^ table[6][(v >> 8) & 0xff] ^ table[5][(v >> 16) & 0xff] ^
		    table[4][(v >> 24) & 0xff] ^ table[3][(v >> 32) & 0xff] ^ table[2][(v >> 40) & 0xff] ^
		    table[1][(v >> 48) & 0xff] ^ table[0][v >> 56];
		p += 8;
		n -= 8;
	}
	while (n--)
		c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
	return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw1(uint32_t c, const unsigned char *p, size_t n)
{
	uint64_t c0 = c;
	while (n >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c0 = __builtin_ia32_crc32di(c0, v);
		p += 8;
		n -= 8;
	}
	while (n--)
		c0 = __builtin_ia32_crc32qi((uint32_t)c0, *p++);
	return (uint32_t)c0;
}

/* The instruction has a latency of 3 cycles and a throughput of 1: three
 * blocks are summed at once and joined by the linear map "advance the CRC
 * state over BLK zero bytes", kept as four byte-indexed tables. */
#define BLK 4096
static uint32_t shift_tab[4][256];
static int have_shift;

static uint32_t shift_blk(uint32_t x)
{
	return shift_tab[0][x & 255] ^ shift_tab[1][(x >> 8) & 255] ^ shift_tab[2][(x >> 16) & 255] ^
	       shift_tab[3][x >> 24];
}

static void make_shift(void)
{
	static const unsigned char zero[BLK];
	uint32_t basis[32];
	for (int i = 0; i < 32; i++)
		basis[i] = crc_hw1(1u << i, zero, BLK);
	for (int k = 0; k < 4; k++)
		for (int b = 0; b < 256; b++) {
			uint32_t v = 0;
			for (int i = 0; i < 8; i++)
				if (b >> i & 1)
					v ^= basis[8 * k + i];
			shift_tab[k][b] = v;
		}
	have_shift = 1;
}

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c, const unsigned char *p, size_t n)
{
	if (n >= 3 * BLK && !have_shift)
		make_shift();
	while (n >= 3 * BLK) {
		uint64_t a = c, b = 0, d = 0;
		for (size_t i = 0; i < BLK; i += 8) {
			uint64_t x, y, z;
			memcpy(&x, p + i, 8);
			memcpy(&y, p + BLK + i, 8);
			memcpy(&z, p + 2 * BLK + i, 8);
			a = __builtin_ia32_crc32di(a, x);
			b = __builtin_ia32_crc32di(b, y);
			d = __builtin_ia32_crc32di(d, z);
		}
		c = shift_blk(shift_blk((uint32_t)a) ^ (uint32_t)b) ^ (uint32_t)d;
		p += 3 * BLK;
		n -= 3 * BLK;
	}
	return crc_hw1(c, p, n);
}
#endif

uint32_t ls_crc32c(uint32_t crc, const void *buf, size_t n)
{
	uint32_t c = ~crc;
#if defined(__x86_64__)
	if (have_hw < 0) {
		__builtin_cpu_init();
		have_hw = __builtin_cpu_supports("sse4.2");
	}
	if (have_hw)
		return ~crc_hw(c, buf, n);
#endif
	return ~crc_sw(c, buf, n);
}
