#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "nn/infer.h"
#include "nn/conv.h"

/* the bands' names when a model records no class names (older models) */
static const char *const class_names[] = { "background", "building", "tree", "road" };

int ls_infer_open(struct ls_infer *in, const char *path, const char *stem)
{
	memset(in, 0, sizeof *in);
	in->batch = 1;
	in->flips = 1;
	if (ls_model_load_members(path, &in->nets, &in->loaded, &in->meta) < 0)
		return -1;
	in->members = in->loaded;
	in->net = in->nets[0];	/* moved: nets[0] is not used again */
	in->path = ls_xstrdup(path);
	in->stem = stem;
	return 0;
}

void ls_infer_set_batch(struct ls_infer *in, int batch)
{
	batch = batch < 1 ? 1 : batch;
	if (batch != in->batch && in->act.arena)
		ls_unet_act_free(&in->act);
	in->batch = batch;
}

void ls_infer_close(struct ls_infer *in)
{
	if (in->act.arena)
		ls_unet_act_free(&in->act);
	free(in->sum);
	ls_unet_free(&in->net);
	for (int m = 1; m < in->loaded; m++)
		ls_unet_free(&in->nets[m]);
	free(in->nets);
	ls_meta_free(&in->meta);
	free(in->path);
	memset(in, 0, sizeof *in);
}

static int pick_stem(struct ls_infer *in, const struct ls_frame *f)
{
	const struct ls_unet_spec *s = &in->net.spec;
	const char *want = in->stem ? in->stem : f->domain;
	int d = ls_unet_domain(s, want);
	if (d < 0 && !in->stem && s->ndom == 1)
		d = 0;
	if (d < 0)
		return ls_err("frame %s: domain '%s' has no input stem in %s (stems: %s%s%s); choose a stem",
			      f->key, want ? want : "(none)", in->path, s->dom[0], s->ndom > 1 ? ", " : "",
			      s->ndom > 1 ? s->dom[1] : "");
	return d;
}

/* Activations for up to in->batch images of h x w, sized once per tile shape. */
static int ensure_act(struct ls_infer *in, int h, int w)
{
	if (in->act.arena && in->act_h == h && in->act_w == w)
		return 0;
	if (in->act.arena)
		ls_unet_act_free(&in->act);
	in->act_h = h;
	in->act_w = w;
	return ls_unet_act_init_infer(&in->act, &in->net, in->batch, h, w);
}

/* One stem and one shape for a whole batch: the batcher groups frames so. */
static int batch_check(struct ls_infer *in, const struct ls_frame *const *f, int n)
{
	if (n > in->batch)
		return ls_err("batch of %d frames, at most %d (ls_infer_set_batch)", n, in->batch);
	for (int i = 1; i < n; i++)
		if (ls_frame_h(f[i]) != ls_frame_h(f[0]) || ls_frame_w(f[i]) != ls_frame_w(f[0]) ||
		    ls_frame_c(f[i]) != ls_frame_c(f[0]))
			return ls_err("frame %s: a batch needs tiles of one shape", f[i]->key);
	return 0;
}

static int check_bands(struct ls_infer *in, const struct ls_frame *f, int d)
{
	char key[64];
	const struct ls_unet_spec *s = &in->net.spec;
	if (f->t.dtype != LS_F32 || f->t.ndim != 3)
		return ls_err("frame %s is %s; the model needs f32 [bands, h, w] tiles (normalise-bands first)", f->key,
			      ls_dtype_name(f->t.dtype));
	if (ls_frame_c(f) != s->bands[d])
		return ls_err("frame %s has %lld bands; %s's stem '%s' takes %d", f->key, (long long)ls_frame_c(f),
			      in->path, s->dom[d], s->bands[d]);
	snprintf(key, sizeof key, "bands.%s", s->dom[d]);
	const char *want = ls_meta_get(&in->meta, key);
	if (want && strcmp(want, "-") && f->bands.n) {
		char got[1024];
		size_t off = 0;
		got[0] = 0;
		for (int b = 0; b < f->bands.n; b++)
			off += (size_t)snprintf(got + off, sizeof got - off, "%s%s", b ? "," : "", f->bands.v[b]);
		if (strcmp(got, want))
			return ls_err("frame %s has bands %s; %s expects %s for '%s' (normalise-bands reorders bands by name)",
				      f->key, got, in->path, want, s->dom[d]);
	}
	return 0;
}

int ls_infer_stem(struct ls_infer *in, const struct ls_frame *f)
{
	int d = pick_stem(in, f);
	return d < 0 || check_bands(in, f, d) < 0 ? -1 : d;
}

static int run_encoder(struct ls_infer *in, const struct ls_frame *const *f, int n, int *dom)
{
	int d = ls_infer_stem(in, f[0]);
	if (d < 0 || batch_check(in, f, n) < 0)
		return -1;
	for (int i = 1; i < n; i++) {
		int di = ls_infer_stem(in, f[i]);
		if (di < 0)
			return -1;
		if (di != d)
			return ls_err("frame %s: a batch needs tiles of one domain", f[i]->key);
	}
	if (ensure_act(in, (int)ls_frame_h(f[0]), (int)ls_frame_w(f[0])) < 0)
		return -1;
	struct ls_t4 x = ls_t4_make(in->act.in, n, (int)ls_frame_c(f[0]), (int)ls_frame_h(f[0]), (int)ls_frame_w(f[0]));
	for (int i = 0; i < n; i++)
		memcpy(ls_t4_img(&x, i), f[i]->t.data, f[i]->t.nbytes);
	ls_unet_encode(&in->net, &in->act, &x, d, 0);
	*dom = d;
	return 0;
}

/* image i of activation a as a [c, h, w] tensor */
static void copy_img(struct ls_tensor *t, const struct ls_t4 *a, int i)
{
	int64_t shape[3] = { a->c, a->h, a->w };
	ls_tensor_alloc(t, LS_F32, 3, shape);
	memcpy(t->data, ls_t4_img(a, i), t->nbytes);
}

int ls_infer_encode_batch(struct ls_infer *in, const struct ls_frame *const *f, int n, struct ls_frame **out)
{
	int dom, D = in->net.spec.depth;
	char name[32];
	if (in->members > 1)
		return ls_err("%s is an ensemble of %d networks: its features are no one network's; it maps with "
			      "the decoder in the same process, which averages the members", in->path, in->members);
	if (run_encoder(in, f, n, &dom) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		struct ls_frame *o = out[i];
		ls_frame_copy_meta(o, f[i]);
		o->nextra = 0;
		snprintf(o->kind, sizeof o->kind, "features");
		ls_frame_set_str(&o->domain, in->net.spec.dom[dom]);
		ls_strlist_free(&o->bands);
		ls_norm_alloc(&o->norm, 0);
		copy_img(&o->t, &in->act.ea[0][1], i);
		for (int l = 1; l < D; l++) {
			snprintf(name, sizeof name, l == D - 1 ? "bottleneck" : "skip%d", l);
			const struct ls_t4 *a = &in->act.ea[l][1];
			int64_t shape[3] = { a->c, a->h, a->w };
			struct ls_tensor *t = ls_frame_add_extra(o, name, LS_F32, 3, shape);
			memcpy(t->data, ls_t4_img(a, i), t->nbytes);
		}
		ls_frame_chain_push(o, "encode");
	}
	return 0;
}

/* the probabilities (or classes) of image i of the batch's logits, softmaxed in place */
static void probs_out(struct ls_infer *in, int i, struct ls_frame *out, int class_index)
{
	int k = in->net.spec.classes, h = in->act.logits.h, w = in->act.logits.w;
	size_t hw = (size_t)h * w;
	const real *p = ls_t4_img(&in->act.logits, i);
	snprintf(out->kind, sizeof out->kind, "probs");
	ls_strlist_free(&out->bands);
	ls_norm_alloc(&out->norm, 0);
	out->has_nodata = 0;
	if (class_index) {
		int64_t shape[3] = { 1, h, w };
		ls_frame_alloc(out, LS_U8, 3, shape);
		uint8_t *c = out->t.data;
		for (size_t j = 0; j < hw; j++) {
			int best = 0;
			for (int q = 1; q < k; q++)
				if (p[q * hw + j] > p[best * hw + j])
					best = q;
			c[j] = (uint8_t)best;
		}
		ls_strlist_push(&out->bands, "class");
		out->has_nodata = 1;
		out->nodata = 255;
	} else {
		int64_t shape[3] = { k, h, w };
		ls_frame_alloc(out, LS_F32, 3, shape);
		memcpy(out->t.data, p, out->t.nbytes);
		/* each band named by the model's class (critic-train --class-names) */
		struct ls_strlist names = { 0 };
		const char *mc = ls_meta_get(&in->meta, "classes");
		if (mc)
			ls_strlist_split(&names, mc, ',');
		for (int q = 0; q < k; q++)
			ls_strlist_push(&out->bands, names.n == k ? names.v[q] : q < 4 ? class_names[q] : "class");
		ls_strlist_free(&names);
	}
}

/* The batch's probability frames, after the decoder ran: softmax (unless
 * the logits hold probabilities already), then one frame per input with its
 * metadata and the filters it went through. */
static void emit_probs(struct ls_infer *in, const struct ls_frame *const *f, int n, struct ls_frame **out,
		       int class_index, int encoded_here, int softmaxed)
{
	struct ls_t4 p = in->act.logits;
	if (!softmaxed)
		ls_softmax(&in->act.logits, &p);
	for (int i = 0; i < n; i++) {
		ls_frame_copy_meta(out[i], f[i]);
		out[i]->nextra = 0;
		probs_out(in, i, out[i], class_index);
		if (encoded_here)
			ls_frame_chain_push(out[i], "encode");
		ls_frame_chain_push(out[i], "decode");
	}
}

int ls_infer_decode_batch(struct ls_infer *in, const struct ls_frame *const *f, int n, struct ls_frame **out,
			  int class_index)
{
	const struct ls_unet_spec *s = &in->net.spec;
	int D = s->depth, d = pick_stem(in, f[0]);
	char name[32];
	if (d < 0 || batch_check(in, f, n) < 0)
		return -1;
	if (in->members > 1)
		return ls_err("%s is an ensemble of %d networks: features are one network's; it maps with the "
			      "encoder in the same process", in->path, in->members);
	for (int i = 0; i < n; i++) {
		if (strcmp(f[i]->kind, "features") || f[i]->t.dtype != LS_F32 || ls_frame_c(f[i]) != s->width)
			return ls_err("frame %s is not a features frame of this model (encode with %s makes them)",
				      f[i]->key, in->path);
		if (i && pick_stem(in, f[i]) != d)
			return ls_err("frame %s: a batch needs tiles of one domain", f[i]->key);
	}
	if (ensure_act(in, (int)ls_frame_h(f[0]), (int)ls_frame_w(f[0])) < 0)
		return -1;
	for (int l = 0; l < D; l++)
		in->act.ea[l][1].n = n;
	for (int i = 0; i < n; i++) {
		memcpy(ls_t4_img(&in->act.ea[0][1], i), f[i]->t.data, f[i]->t.nbytes);
		for (int l = 1; l < D; l++) {
			snprintf(name, sizeof name, l == D - 1 ? "bottleneck" : "skip%d", l);
			const struct ls_tensor *t = ls_frame_find_extra(f[i], name);
			struct ls_t4 *a = &in->act.ea[l][1];
			size_t img = (size_t)a->c * a->h * a->w * sizeof(real);
			if (!t || t->dtype != LS_F32 || t->nbytes != img)
				return ls_err("frame %s: features '%s' missing or of the wrong size for %s", f[i]->key,
					      name, in->path);
			memcpy(ls_t4_img(a, i), t->data, t->nbytes);
		}
	}
	ls_unet_decode(&in->net, &in->act, d, 0);
	emit_probs(in, f, n, out, class_index, 0, 0);
	return 0;
}

int ls_infer_set_precision(const char *precision)
{
	if (!strcmp(precision, "f32")) {
		ls_conv_bf16 = 0;
		return 0;
	}
	if (strcmp(precision, "bf16"))
		return ls_err("unknown precision '%s' (f32 or bf16)", precision);
	ls_conv_bf16 = ls_conv_bf16_available();
	if (!ls_conv_bf16)
		ls_warn("this CPU has no AVX-512 BF16: the model runs in f32");
	return 0;
}

void ls_infer_set_flips(struct ls_infer *in, int flips)
{
	in->flips = flips == 2 || flips == 4 ? flips : 1;
}

/* dst = src mirrored left-right (bit 0 of how) and top-bottom (bit 1), for
 * c planes of h x w, or with add, dst += that; each mirroring is its own
 * inverse, so this both flips a tile and maps its flipped result back */
static void flip_planes(real *dst, const real *src, int c, int h, int w, int how, int add)
{
	for (int k = 0; k < c; k++)
		for (int y = 0; y < h; y++) {
			const real *r = src + ((size_t)k * h + (how & 2 ? h - 1 - y : y)) * w;
			real *o = dst + ((size_t)k * h + y) * w;
			for (int x = 0; x < w; x++)
				o[x] = (add ? o[x] : 0) + r[how & 1 ? w - 1 - x : x];
		}
}

/* Test-time flips and ensembles: the class probabilities averaged over the
 * members and, for each, the tile as it is and mirrored (left-right; with
 * 4, top-bottom and both too), each mapped back before it is added. The
 * mean is left in the logits buffer; the sum buffer is sized once per
 * batch shape, as the activations are. */
static int predict_mean(struct ls_infer *in, const struct ls_frame *const *f, int n)
{
	int dom, h = (int)ls_frame_h(f[0]), w = (int)ls_frame_w(f[0]), c = (int)ls_frame_c(f[0]);
	int k = in->net.spec.classes;
	size_t img = (size_t)k * h * w, len = img * n;
	if (run_encoder(in, f, n, &dom) < 0)	/* checks, and the first pass: the tiles as they are */
		return -1;
	if (len > in->sum_len) {
		free(in->sum);
		if (!(in->sum = malloc(len * sizeof *in->sum))) {
			in->sum_len = 0;
			return ls_err("out of memory for test-time flips (%zu bytes)", len * sizeof *in->sum);
		}
		in->sum_len = len;
	}
	for (int m = 0; m < in->members; m++) {
		struct ls_unet *net = m ? &in->nets[m] : &in->net;
		for (int t = 0; t < in->flips; t++) {
			if (m || t) {
				for (int i = 0; i < n; i++)
					flip_planes(in->act.in + (size_t)i * c * h * w, f[i]->t.data, c, h, w, t, 0);
				struct ls_t4 x = ls_t4_make(in->act.in, n, c, h, w);
				ls_unet_encode(net, &in->act, &x, dom, 0);
			}
			ls_unet_decode(net, &in->act, dom, 0);
			struct ls_t4 p = in->act.logits;
			ls_softmax(&in->act.logits, &p);
			for (int i = 0; i < n; i++)
				flip_planes(in->sum + i * img, ls_t4_img(&in->act.logits, i), k, h, w, t, m || t);
		}
	}
	real inv = (real)1 / (real)(in->flips * in->members);
	for (size_t j = 0; j < len; j++)
		in->act.logits.d[j] = in->sum[j] * inv;
	return 0;
}

int ls_infer_predict_batch(struct ls_infer *in, const struct ls_frame *const *f, int n, struct ls_frame **out,
			   int class_index)
{
	int dom;
	if (in->flips > 1 || in->members > 1) {
		if (predict_mean(in, f, n) < 0)
			return -1;
		emit_probs(in, f, n, out, class_index, 1, 1);
		return 0;
	}
	if (run_encoder(in, f, n, &dom) < 0)
		return -1;
	ls_unet_decode(&in->net, &in->act, dom, 0);
	emit_probs(in, f, n, out, class_index, 1, 0);
	return 0;
}

int ls_infer_encode(struct ls_infer *in, const struct ls_frame *f, struct ls_frame *out)
{
	return ls_infer_encode_batch(in, &f, 1, &out);
}

int ls_infer_decode(struct ls_infer *in, const struct ls_frame *f, struct ls_frame *out, int class_index)
{
	return ls_infer_decode_batch(in, &f, 1, &out, class_index);
}

int ls_infer_predict(struct ls_infer *in, const struct ls_frame *f, struct ls_frame *out, int class_index)
{
	return ls_infer_predict_batch(in, &f, 1, &out, class_index);
}
