/* decide.c - parsing a class threshold (see decide.h). */
#include <stdlib.h>

#include "geo/decide.h"
#include "base/err.h"

int ls_decision_parse(void *dst, const char *s)
{
	struct ls_decision *d = dst;
	char *e, *f;
	long c = strtol(s, &e, 10);
	double t = *e == '=' ? strtod(e + 1, &f) : -1;
	if (e == s || *e != '=' || f == e + 1 || *f || c < 1 || c > 254 || !(t >= 0 && t <= 1))
		return ls_err("'%s' is not CLASS=THRESHOLD (a class from 1, a probability from 0 to 1)", s);
	d->cls = (int)c;
	d->t = t;
	return 0;
}
