/*
 * unit.h
 *		A minimal unit-test harness for apikit's pure C halves.
 *
 * Each test program calls CHECK() and friends from functions it lists in
 * main() with RUN(), and ends with UNIT_DONE(), which prints
 * "unit <program>: N passed, N failed" and exits non-zero if anything failed.
 * A failed check prints its file, line and expression, plus the values for
 * CHECK_EQ.  tools/run-tests.sh adds the counts to the overall total.
 */
#ifndef APIKIT_UNIT_H
#define APIKIT_UNIT_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static int	unit_passed;
static int	unit_failed;
static const char *unit_current = "";

#define CHECK(cond) \
	do { \
		if (cond) \
			unit_passed++; \
		else \
		{ \
			unit_failed++; \
			printf("FAIL %s: %s:%d: %s\n", unit_current, __FILE__, __LINE__, #cond); \
		} \
	} while (0)

#define CHECK_EQ(actual, expected) \
	do { \
		int64_t unit_a = (int64_t) (actual); \
		int64_t unit_e = (int64_t) (expected); \
		if (unit_a == unit_e) \
			unit_passed++; \
		else \
		{ \
			unit_failed++; \
			printf("FAIL %s: %s:%d: %s == %" PRId64 ", expected %s == %" PRId64 "\n", \
				   unit_current, __FILE__, __LINE__, #actual, unit_a, #expected, unit_e); \
		} \
	} while (0)

#define RUN(fn) \
	do { \
		unit_current = #fn; \
		fn(); \
	} while (0)

#define UNIT_DONE(program) \
	do { \
		printf("unit %s: %d passed, %d failed\n", program, unit_passed, unit_failed); \
		return unit_failed == 0 && unit_passed > 0 ? 0 : 1; \
	} while (0)

#endif							/* APIKIT_UNIT_H */
