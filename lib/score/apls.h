/* apls.h - APLS, the average path length similarity of two road graphs.
 *
 * The metric SpaceNet 3 ranked road networks by (Van Etten et al. 2018,
 * CosmiQ Works' apls; docs/methods.md "Road scores"). Each network is a set
 * of noded polylines in metres (lines meet only at their ends): a graph whose
 * nodes are the ends, merged within 1 cm, and whose edges weigh their length.
 * Control nodes are injected every `spacing` metres along every edge. For the
 * direction ground truth -> proposal, every ground-truth node is snapped onto
 * the proposal (a node injected at the nearest point of its nearest edge) when
 * that point is within `snap` metres. Over the pairs (a, b) of ground-truth
 * nodes joined by a path of length L, a pair scores 1 - min(1, |L - L'| / L),
 * L' the shortest path between their snapped nodes in the proposal; a node
 * that did not snap or a missing path scores 0. The direction's score is the
 * mean over its pairs; APLS is the harmonic mean of both directions (0 when
 * either is 0; a side without pairs while the other has them counts 0).
 * With more than max_nodes nodes, max_nodes of them, evenly spread through
 * the node list, are the pairs' ends. */
#ifndef LS_APLS_H
#define LS_APLS_H

/* n polylines: line i has len[i] points x, y at xy[i]. */
struct ls_lines {
	int n, cap;
	int *len;
	double **xy;
};

struct ls_apls {
	double score, gt_to_prop, prop_to_gt;	/* NaN where nothing can be compared */
	long pairs_gp, pairs_pg;
	int gt_nodes, prop_nodes;		/* after control nodes were injected */
};

void ls_lines_add(struct ls_lines *l, const double *xy, int npts);
void ls_lines_free(struct ls_lines *l);

void ls_apls(const struct ls_lines *gt, const struct ls_lines *prop, double spacing, double snap,
	     int max_nodes, struct ls_apls *a);

#endif
