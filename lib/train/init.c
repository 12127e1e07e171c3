/* init.c - training that starts from a trained model (trainer.h). */
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "nn/model.h"
#include "train/trainer.h"

int ls_train_spec_from(const char *path, struct ls_train_opts *o)
{
	struct ls_unet m;
	struct ls_model_meta meta = { 0 };
	if (ls_model_load(path, &m, &meta) < 0)
		return -1;
	o->width = m.spec.width;
	o->depth = m.spec.depth;
	int rc = m.spec.classes == o->classes ? 0
					      : ls_err("%s maps %d classes, this run trains %d", path, m.spec.classes,
						       o->classes);
	if (rc == 0 && m.spec.bn_per_domain)
		rc = ls_err("%s keeps batch-norm statistics per domain: start from a model with one set", path);
	ls_unet_free(&m);
	ls_meta_free(&meta);
	return rc;
}

/* The model's stem whose band names are those of domain dom of d, or -1. */
static int stem_for(const struct ls_unet *m, const struct ls_model_meta *meta, const struct ls_dataset *d, int dom)
{
	char want[2048] = "", key[96];
	for (int b = 0, n = 0; b < d->bands[dom].n && n < (int)sizeof want; b++)
		n += snprintf(want + n, sizeof want - (size_t)n, "%s%s", b ? "," : "", d->bands[dom].v[b]);
	for (int s = 0; s < m->spec.ndom; s++) {
		snprintf(key, sizeof key, "bands.%s", m->spec.dom[s]);
		const char *have = ls_meta_get(meta, key);
		if (have && want[0] && !strcasecmp(have, want))
			return s;
	}
	return -1;
}

static void copy(struct ls_param *to, const struct ls_param *from)
{
	memcpy(to->w, from->w, to->n * sizeof(real));
}

int ls_train_init_from(struct ls_unet *net, const struct ls_dataset *d, const char *path)
{
	struct ls_unet m;
	struct ls_model_meta meta = { 0 };
	char name[128];
	int rc = 0;
	if (ls_model_load(path, &m, &meta) < 0)
		return -1;
	if (ls_meta_get(&meta, "members"))
		ls_info("%s is an ensemble of %s networks: training starts from the first", path,
			ls_meta_get(&meta, "members"));
	for (int i = 0; i < net->params.n && rc == 0; i++) {
		struct ls_param *p = net->params.p[i];
		if (!strncmp(p->name, "stem.", 5))
			continue;
		struct ls_param *q = ls_params_find(&m.params, p->name);
		if (!q || q->n != p->n)
			rc = ls_err("%s: tensor '%s' does not fit this run's model", path, p->name);
		else
			copy(p, q);
	}
	for (int dom = 0; dom < net->spec.ndom && rc == 0; dom++) {
		int s = stem_for(&m, &meta, d, dom);
		if (s < 0 || m.spec.bands[s] != net->spec.bands[dom]) {
			ls_info("%s has no stem for the bands of domain %s: a new one", path, net->spec.dom[dom]);
			continue;
		}
		for (int i = 0; i < net->params.n; i++) {
			struct ls_param *p = net->params.p[i];
			size_t pre = strlen("stem.") + strlen(net->spec.dom[dom]);
			if (strncmp(p->name, "stem.", 5) || strncmp(p->name + 5, net->spec.dom[dom], pre - 5) ||
			    p->name[pre] != '.')
				continue;
			snprintf(name, sizeof name, "stem.%s%s", m.spec.dom[s], p->name + pre);
			struct ls_param *q = ls_params_find(&m.params, name);
			if (q && q->n == p->n)
				copy(p, q);
		}
		ls_info("domain %s starts from %s's stem %s", net->spec.dom[dom], path, m.spec.dom[s]);
	}
	ls_unet_free(&m);
	ls_meta_free(&meta);
	return rc;
}
