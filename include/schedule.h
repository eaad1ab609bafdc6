/*
 * schedule.h
 *		When the scheduler worker's jobs are due: pure arithmetic on a
 *		monotonic millisecond clock, with no PostgreSQL headers, so that it
 *		can be unit-tested on its own.
 */
#ifndef APIKIT_SCHEDULE_H
#define APIKIT_SCHEDULE_H

#include <stdint.h>

/* A job's timing.  An interval of 0 or less means the job is switched off. */
typedef struct ScheduleSlot
{
	int64_t		interval_ms;	/* how often the job should start */
	int64_t		last_start_ms;	/* when it last started; SCHEDULE_NEVER if not yet */
	int64_t		next_due_ms;	/* when it should start next; SCHEDULE_NEVER if off */
} ScheduleSlot;

#define SCHEDULE_NEVER INT64_MAX

extern void schedule_init(ScheduleSlot *slot, int64_t interval_ms, int64_t now_ms);
extern void schedule_ran(ScheduleSlot *slot, int64_t started_ms, int64_t now_ms);
extern void schedule_set_interval(ScheduleSlot *slot, int64_t interval_ms, int64_t now_ms);
extern int	schedule_next_job(const ScheduleSlot *slots, int nslots, int64_t now_ms);
extern int64_t schedule_sleep_ms(const ScheduleSlot *slots, int nslots,
								 int64_t now_ms, int64_t max_ms);

#endif							/* APIKIT_SCHEDULE_H */
