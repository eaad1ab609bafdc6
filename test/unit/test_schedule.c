/*
 * test_schedule.c
 *		Unit tests for the scheduler's timing arithmetic (src/worker/schedule.c).
 */
#include "schedule.h"
#include "unit.h"

static void
test_first_run_is_immediate(void)
{
	ScheduleSlot s;

	schedule_init(&s, 10000, 500);
	CHECK_EQ(s.next_due_ms, 500);
	CHECK_EQ(schedule_next_job(&s, 1, 500), 0);
	CHECK_EQ(schedule_sleep_ms(&s, 1, 500, 60000), 0);
}

static void
test_fixed_rate_from_start(void)
{
	ScheduleSlot s;

	schedule_init(&s, 10000, 0);
	/* A run that started at 0 and took 300 ms is next due at 10000. */
	schedule_ran(&s, 0, 300);
	CHECK_EQ(s.next_due_ms, 10000);
	CHECK_EQ(schedule_next_job(&s, 1, 9999), -1);
	CHECK_EQ(schedule_next_job(&s, 1, 10000), 0);
	CHECK_EQ(schedule_sleep_ms(&s, 1, 300, 60000), 9700);
}

static void
test_overrun_does_not_burst(void)
{
	ScheduleSlot s;

	schedule_init(&s, 1000, 0);
	/* Started at 0, finished at 3500: due again now, not three times. */
	schedule_ran(&s, 0, 3500);
	CHECK_EQ(s.next_due_ms, 3500);
	schedule_ran(&s, 3500, 3600);
	CHECK_EQ(s.next_due_ms, 4500);
}

static void
test_zero_interval_switches_off(void)
{
	ScheduleSlot s;

	schedule_init(&s, 0, 100);
	CHECK(s.next_due_ms == SCHEDULE_NEVER);
	CHECK_EQ(schedule_next_job(&s, 1, INT64_MAX - 1), -1);
	CHECK_EQ(schedule_sleep_ms(&s, 1, 100, 60000), 60000);

	/* Switching on runs it at once; switching off again stops it. */
	schedule_set_interval(&s, 5000, 200);
	CHECK_EQ(s.next_due_ms, 200);
	schedule_ran(&s, 200, 210);
	schedule_set_interval(&s, 0, 300);
	CHECK(s.next_due_ms == SCHEDULE_NEVER);
}

static void
test_shorter_interval_applies_at_once(void)
{
	ScheduleSlot s;

	/* Ran at 0 under a one-hour interval; at 5 s the DBA sets 1 s. */
	schedule_init(&s, 3600000, 0);
	schedule_ran(&s, 0, 10);
	CHECK_EQ(schedule_sleep_ms(&s, 1, 5000, 3600000), 3595000);
	schedule_set_interval(&s, 1000, 5000);
	CHECK_EQ(s.next_due_ms, 5000);
	CHECK_EQ(schedule_next_job(&s, 1, 5000), 0);

	/* Lengthening keeps counting from the last start. */
	schedule_ran(&s, 5000, 5010);
	schedule_set_interval(&s, 60000, 5500);
	CHECK_EQ(s.next_due_ms, 65000);
}

static void
test_longest_waiting_job_first(void)
{
	ScheduleSlot s[3];

	schedule_init(&s[0], 1000, 0);
	schedule_init(&s[1], 1000, 0);
	schedule_init(&s[2], 1000, 0);
	schedule_ran(&s[0], 0, 0);		/* due 1000 */
	schedule_ran(&s[1], 0, 0);
	s[1].next_due_ms = 400;			/* due earlier */
	schedule_ran(&s[2], 0, 0);
	s[2].next_due_ms = 5000;		/* not due yet */
	CHECK_EQ(schedule_next_job(s, 3, 2000), 1);
	schedule_ran(&s[1], 2000, 2000);
	CHECK_EQ(schedule_next_job(s, 3, 2000), 0);
	schedule_ran(&s[0], 2000, 2000);
	CHECK_EQ(schedule_next_job(s, 3, 2000), -1);
	CHECK_EQ(schedule_sleep_ms(s, 3, 2000, 60000), 1000);
	/* The cap bounds a long sleep. */
	CHECK_EQ(schedule_sleep_ms(s, 3, 2000, 10), 10);
}

int
main(void)
{
	RUN(test_first_run_is_immediate);
	RUN(test_fixed_rate_from_start);
	RUN(test_overrun_does_not_burst);
	RUN(test_zero_interval_switches_off);
	RUN(test_shorter_interval_applies_at_once);
	RUN(test_longest_waiting_job_first);
	UNIT_DONE("schedule");
}
