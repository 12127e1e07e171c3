/* check.h - the tiny test harness of the C unit tests: each CHECK prints
 * "PASS name" or "FAIL name: why"; tests/run.sh counts the lines. */
#ifndef LS_CHECK_H
#define LS_CHECK_H

#include <stdio.h>

static int check_failed;

#define CHECK(cond, ...)                                                                                 \
	do {                                                                                             \
		if (cond) {                                                                              \
			printf("PASS ");                                                                 \
			printf(__VA_ARGS__);                                                             \
			printf("\n");                                                                    \
		} else {                                                                                 \
			check_failed++;                                                                  \
			printf("FAIL ");                                                                 \
			printf(__VA_ARGS__);                                                             \
			printf(" (%s:%d: %s)\n", __FILE__, __LINE__, #cond);                            \
		}                                                                                        \
		fflush(stdout);                                                                          \
	} while (0)

#endif
