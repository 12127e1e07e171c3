/* json.h - small helpers for writing JSON lines (frame-info, metrics). */
#ifndef LS_JSON_H
#define LS_JSON_H

#include <stdio.h>

void ls_json_str(FILE *out, const char *s);	/* quoted and escaped; null for NULL */
void ls_json_num(FILE *out, double v);	/* null for NaN/Inf */

#endif
