/* export-safetensors - a trained model's weights as a safetensors file:
 * named float32 tensors with their shapes, readable by the safetensors
 * library (PyTorch, JAX, numpy) or by hand: an 8-byte little-endian header
 * length, a JSON header {name: {dtype, shape, data_offsets}, __metadata__},
 * then the raw little-endian data. The metadata carries the architecture
 * and everything the model file records (band order, normalisation,
 * method). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/outpath.h"
#include "base/json.h"
#include "nn/model.h"
#include "base/opt.h"

static int with_state;

static const struct ls_opt opts[] = {
	{ "optimiser-state", LS_OPT_FLAG, &with_state, NULL, "also export the optimiser moments (NAME.m, NAME.v) when the file has them" },
	{ 0 }
};

static const struct ls_cmd cmd = {
	"export-safetensors", "write a model's weights as a safetensors file (named float32 tensors)",
	"[options] MODEL OUT.safetensors",
	"export-safetensors out/demo/model demo.safetensors; "
	"python3 -c 'from safetensors.numpy import load_file; print(load_file(\"demo.safetensors\").keys())'",
	opts
};

struct entry {
	const char *name;
	const char *suffix;
	const struct ls_param *p;
	const real *data;
};

static void header_tensor(FILE *h, const struct entry *e, size_t *off)
{
	char name[96];
	snprintf(name, sizeof name, "%s%s", e->name, e->suffix);
	ls_json_str(h, name);
	fprintf(h, ":{\"dtype\":\"F32\",\"shape\":[");
	for (int i = 0; i < e->p->ndim; i++)
		fprintf(h, "%s%lld", i ? "," : "", (long long)e->p->shape[i]);
	fprintf(h, "],\"data_offsets\":[%zu,%zu]}", *off, *off + e->p->n * 4);
	*off += e->p->n * 4;
}

int main(int argc, char **argv)
{
	struct ls_strlist pos;
	struct ls_unet net;
	struct ls_model_meta meta = { 0 };
	ls_opt_parse(&cmd, argc, argv, &pos);
	if (pos.n != 2)
		ls_die(LS_EXIT_USAGE, "usage: export-safetensors %s", cmd.usage);
	const char *in = pos.v[0], *out = pos.v[1];
	if (ls_output_ok(out, &in, 1) < 0)
		ls_die_err();
	if (ls_model_load(in, &net, &meta) < 0)
		ls_die_err();
	if (ls_meta_get(&meta, "members"))
		ls_warn("%s is an ensemble of %s networks: %s holds the first", in, ls_meta_get(&meta, "members"), out);
	/* the tensors, in the model's order */
	int ne = 0;
	struct entry *es = ls_xcalloc((size_t)net.params.n * 3, sizeof *es);
	for (int i = 0; i < net.params.n; i++) {
		const struct ls_param *p = net.params.p[i];
		es[ne++] = (struct entry){ p->name, "", p, p->w };
		if (with_state && p->m)
			es[ne++] = (struct entry){ p->name, ".m", p, p->m };
		if (with_state && p->v)
			es[ne++] = (struct entry){ p->name, ".v", p, p->v };
	}
	char *hbuf = NULL, spec[1024];
	size_t hlen = 0, off = 0;
	FILE *h = open_memstream(&hbuf, &hlen);
	ls_unet_spec_format(&net.spec, spec, sizeof spec);
	fprintf(h, "{\"__metadata__\":{\"format\":\"pt\",\"landshift.spec\":");
	ls_json_str(h, spec);
	for (int i = 0; i < meta.keys.n; i++) {
		char key[160];
		snprintf(key, sizeof key, "landshift.%s", meta.keys.v[i]);
		fputc(',', h);
		ls_json_str(h, key);
		fputc(':', h);
		ls_json_str(h, meta.vals.v[i]);
	}
	fputc('}', h);
	for (int i = 0; i < ne; i++) {
		fputc(',', h);
		header_tensor(h, &es[i], &off);
	}
	fputc('}', h);
	while ((ftell(h) + 8) % 8)	/* the data starts 8-byte aligned */
		fputc(' ', h);
	fclose(h);
	/* write to a temporary name, then rename */
	char tmp[4096];
	int to_stdout = !strcmp(out, "-");	/* a stream: the header, then the data */
	if (to_stdout && isatty(1))
		ls_die(LS_EXIT_USAGE, "refusing to write binary safetensors to a terminal");
	if (snprintf(tmp, sizeof tmp, "%s.%d.tmp", out, (int)getpid()) >= (int)sizeof tmp)
		ls_die(LS_EXIT_USAGE, "%s: the output path is too long", out);
	FILE *f = to_stdout ? stdout : fopen(tmp, "wb");
	if (!f)
		ls_die(LS_EXIT_DATA, "cannot write %s: %s", out, strerror(errno));
	if (!to_stdout)
		ls_cleanup_add(tmp);
	unsigned char len8[8];
	for (int i = 0; i < 8; i++)
		len8[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
	fwrite(len8, 1, 8, f);
	fwrite(hbuf, 1, hlen, f);
	float *buf = ls_xmalloc(4096 * sizeof *buf);
	for (int i = 0; i < ne; i++)
		for (size_t j = 0; j < es[i].p->n; j += 4096) {
			size_t k = es[i].p->n - j < 4096 ? es[i].p->n - j : 4096;
			for (size_t q = 0; q < k; q++)
				buf[q] = (float)es[i].data[j + q];
			fwrite(buf, sizeof *buf, k, f);
		}
	if (ferror(f) | (fflush(f) != 0) | (!to_stdout && fsync(fileno(f)) != 0) | (fclose(f) != 0))
		ls_die(LS_EXIT_DATA, "writing %s failed: %s", to_stdout ? "stdout" : out, strerror(errno ? errno : EIO));
	if (!to_stdout && rename(tmp, out) < 0)
		ls_die(LS_EXIT_DATA, "cannot rename %s to %s: %s", tmp, out, strerror(errno));
	if (!to_stdout)
		ls_cleanup_forget(tmp);
	ls_info("wrote %s: %d tensors, %zu bytes of data", out, ne, off);
	free(buf);
	free(hbuf);
	free(es);
	ls_meta_free(&meta);
	ls_unet_free(&net);
	ls_strlist_free(&pos);
	return 0;
}
