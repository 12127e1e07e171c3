/* Fuzz target: the frame reader (every field of every frame, the CRC,
 * the trailer, concatenated streams). Built with libFuzzer by `make fuzz`;
 * `make test` replays tests/fuzz/corpus/frame through it without libFuzzer. */
#include <stdint.h>
#include <string.h>

#include "stream/frame.h"

struct src {
	const uint8_t *d;
	size_t n, off;
};

static ssize_t from_memory(void *ctx, void *buf, size_t n)
{
	struct src *s = ctx;
	size_t k = s->n - s->off < n ? s->n - s->off : n;
	memcpy(buf, s->d + s->off, k);
	s->off += k;
	return (ssize_t)k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct src s = { data, size, 0 };
	struct ls_frame f;
	struct ls_reader *r = ls_reader_open_fn(from_memory, &s, "fuzz");
	ls_reader_set_max_frame(r, (size_t)1 << 22);
	if (size && data[0] & 1)
		ls_reader_set_chunk(r, 7);	/* odd reads: frames split across calls */
	ls_frame_init(&f);
	volatile uint64_t sink = 0;
	while (ls_reader_next(r, &f) == 1) {
		/* touch what a filter touches */
		sink += (uint64_t)ls_frame_h(&f) + (uint64_t)ls_frame_w(&f) + (uint64_t)ls_frame_c(&f);
		const uint8_t *p = f.t.data;
		for (size_t i = 0; i < f.t.nbytes; i += 61)
			sink += p[i];
		for (int e = 0; e < f.nextra; e++)
			sink += f.extra[e].nbytes;
	}
	(void)sink;
	ls_frame_free(&f);
	ls_reader_close(r);
	return 0;
}
