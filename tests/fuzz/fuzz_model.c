/* Fuzz target: the model-file loader (header frame, architecture spec,
 * metadata text, every parameter tensor and its optimiser state, integer
 * weights, an ensemble's members): as one network, then every member. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nn/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd = memfd_create("fuzz.model", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	struct ls_unet net;
	struct ls_model_meta meta = { 0 };
	if (ls_model_load(path, &net, &meta) == 0)
		ls_unet_free(&net);
	ls_meta_free(&meta);
	struct ls_unet *nets;
	int n;
	struct ls_model_meta mm = { 0 };
	if (ls_model_load_members(path, &nets, &n, &mm) == 0)
		ls_model_free_members(nets, n);
	ls_meta_free(&mm);
	close(fd);
	return 0;
}
