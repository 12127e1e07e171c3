/* Fuzz target: the band-statistics file reader (normalise-bands --stats). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "geo/bandstats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd = memfd_create("fuzz.stats", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	struct ls_stats s;
	memset(&s, 0, sizeof s);
	if (ls_stats_read(&s, path) == 0)
		(void)ls_stats_find(&s, "red");
	ls_stats_free(&s);
	close(fd);
	return 0;
}
