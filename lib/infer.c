#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "infer.h"

static const char *const class_names[] = { "background", "building", "tree", "road" };

int ls_infer_open(struct ls_infer *in, const char *path, const char *stem)
{
	memset(in, 0, sizeof *in);
	if (ls_model_load(path, &in->net, &in->meta) < 0)
		return -1;
	in->path = ls_xstrdup(path);
	in->stem = stem;
	return 0;
}

void ls_infer_close(struct ls_infer *in)
{
	if (in->act.arena)
		ls_unet_act_free(&in->act);
	ls_unet_free(&in->net);
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
		return ls_err("frame %s: domain '%s' has no input stem in %s (stems: %s%s%s); choose one with --stem",
			      f->key, want ? want : "(none)", in->path, s->dom[0], s->ndom > 1 ? ", " : "",
			      s->ndom > 1 ? s->dom[1] : "");
	return d;
}

static int ensure_act(struct ls_infer *in, int h, int w)
{
	if (in->act.arena && in->act_h == h && in->act_w == w)
		return 0;
	if (in->act.arena)
		ls_unet_act_free(&in->act);
	in->act_h = h;
	in->act_w = w;
	return ls_unet_act_init(&in->act, &in->net, 1, h, w);
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
			return ls_err("frame %s has bands %s; %s expects %s for '%s' (normalise-bands --bands reorders)",
				      f->key, got, in->path, want, s->dom[d]);
	}
	return 0;
}

int ls_infer_stem(struct ls_infer *in, const struct ls_frame *f)
{
	int d = pick_stem(in, f);
	return d < 0 || check_bands(in, f, d) < 0 ? -1 : d;
}

static int run_encoder(struct ls_infer *in, const struct ls_frame *f, int *dom)
{
	int d = ls_infer_stem(in, f);
	if (d < 0 || ensure_act(in, (int)ls_frame_h(f), (int)ls_frame_w(f)) < 0)
		return -1;
	struct ls_t4 x = ls_t4_make(in->act.in, 1, (int)ls_frame_c(f), (int)ls_frame_h(f), (int)ls_frame_w(f));
	memcpy(x.d, f->t.data, f->t.nbytes);
	ls_unet_encode(&in->net, &in->act, &x, d, 0);
	*dom = d;
	return 0;
}

static void copy_out(struct ls_tensor *t, const struct ls_t4 *a)
{
	int64_t shape[3] = { a->c, a->h, a->w };
	ls_tensor_alloc(t, LS_F32, 3, shape);
	memcpy(t->data, a->d, t->nbytes);
}

int ls_infer_encode(struct ls_infer *in, const struct ls_frame *f, struct ls_frame *out)
{
	int dom, D = in->net.spec.depth;
	char name[32];
	if (run_encoder(in, f, &dom) < 0)
		return -1;
	ls_frame_copy_meta(out, f);
	out->nextra = 0;
	snprintf(out->kind, sizeof out->kind, "features");
	ls_frame_set_str(&out->domain, in->net.spec.dom[dom]);
	ls_strlist_free(&out->bands);
	ls_norm_alloc(&out->norm, 0);
	copy_out(&out->t, &in->act.ea[0][1]);
	for (int l = 1; l < D; l++) {
		snprintf(name, sizeof name, l == D - 1 ? "bottleneck" : "skip%d", l);
		const struct ls_t4 *a = &in->act.ea[l][1];
		int64_t shape[3] = { a->c, a->h, a->w };
		struct ls_tensor *t = ls_frame_add_extra(out, name, LS_F32, 3, shape);
		memcpy(t->data, a->d, t->nbytes);
	}
	ls_frame_chain_push(out, "encode");
	return 0;
}

static void probs_out(struct ls_infer *in, struct ls_frame *out, int class_index)
{
	int k = in->net.spec.classes, h = in->act.logits.h, w = in->act.logits.w;
	size_t hw = (size_t)h * w;
	struct ls_t4 p = in->act.logits;
	ls_softmax(&in->act.logits, &p);
	snprintf(out->kind, sizeof out->kind, "probs");
	ls_strlist_free(&out->bands);
	ls_norm_alloc(&out->norm, 0);
	out->has_nodata = 0;
	if (class_index) {
		int64_t shape[3] = { 1, h, w };
		ls_frame_alloc(out, LS_U8, 3, shape);
		uint8_t *c = out->t.data;
		for (size_t i = 0; i < hw; i++) {
			int best = 0;
			for (int j = 1; j < k; j++)
				if (p.d[j * hw + i] > p.d[best * hw + i])
					best = j;
			c[i] = (uint8_t)best;
		}
		ls_strlist_push(&out->bands, "class");
		out->has_nodata = 1;
		out->nodata = 255;
	} else {
		int64_t shape[3] = { k, h, w };
		ls_frame_alloc(out, LS_F32, 3, shape);
		memcpy(out->t.data, p.d, out->t.nbytes);
		for (int j = 0; j < k; j++)
			ls_strlist_push(&out->bands, j < 4 ? class_names[j] : "class");
	}
}

int ls_infer_decode(struct ls_infer *in, const struct ls_frame *f, struct ls_frame *out, int class_index)
{
	const struct ls_unet_spec *s = &in->net.spec;
	int D = s->depth, d = pick_stem(in, f);
	char name[32];
	if (d < 0)
		return -1;
	if (strcmp(f->kind, "features") || f->t.dtype != LS_F32 || ls_frame_c(f) != s->width)
		return ls_err("frame %s is not a features frame of this model (encode --model %s makes them)", f->key,
			      in->path);
	if (ensure_act(in, (int)ls_frame_h(f), (int)ls_frame_w(f)) < 0)
		return -1;
	memcpy(in->act.ea[0][1].d, f->t.data, f->t.nbytes);
	for (int l = 1; l < D; l++) {
		snprintf(name, sizeof name, l == D - 1 ? "bottleneck" : "skip%d", l);
		const struct ls_tensor *t = ls_frame_find_extra(f, name);
		struct ls_t4 *a = &in->act.ea[l][1];
		if (!t || t->dtype != LS_F32 || t->nbytes != ls_t4_len(a) * sizeof(real))
			return ls_err("frame %s: features '%s' missing or of the wrong size for %s", f->key, name, in->path);
		memcpy(a->d, t->data, t->nbytes);
	}
	ls_unet_decode(&in->net, &in->act, d, 0);
	ls_frame_copy_meta(out, f);
	out->nextra = 0;
	probs_out(in, out, class_index);
	ls_frame_chain_push(out, "decode");
	return 0;
}

int ls_infer_predict(struct ls_infer *in, const struct ls_frame *f, struct ls_frame *out, int class_index)
{
	int dom;
	if (run_encoder(in, f, &dom) < 0)
		return -1;
	ls_unet_decode(&in->net, &in->act, dom, 0);
	ls_frame_copy_meta(out, f);
	out->nextra = 0;
	probs_out(in, out, class_index);
	ls_frame_chain_push(out, "encode");
	ls_frame_chain_push(out, "decode");
	return 0;
}
