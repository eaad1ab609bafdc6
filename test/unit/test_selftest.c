/*
 * test_selftest.c
 *		Checks the unit harness itself.
 *
 * Built normally, every check holds.  Built with -DUNIT_SELFTEST_MUST_FAIL,
 * one check is false, and tools/run-tests.sh requires that program to exit
 * non-zero and to report exactly one failure: if the harness ever swallowed
 * a failure, the run would fail.
 */
#include "unit.h"

static void
test_checks_count(void)
{
	CHECK(1 + 1 == 2);
	CHECK_EQ(INT64_MAX, INT64_MAX);
#ifdef UNIT_SELFTEST_MUST_FAIL
	CHECK_EQ(2 + 2, 5);
#endif
}

int
main(void)
{
	RUN(test_checks_count);
	UNIT_DONE("selftest");
}
