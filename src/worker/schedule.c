/*
 * schedule.c
 *		Deciding which scheduler job runs next and how long to sleep.
 *
 * Times are milliseconds on a monotonic clock supplied by the caller, so a
 * change of the wall clock (NTP step, DST, a DBA fixing the date) neither
 * stalls jobs nor makes them run in a burst.
 *
 * A job runs at a fixed rate measured from the start of its previous run.
 * When a run takes longer than the interval, or the worker was held up, the
 * missed runs are not made up: the job is simply due again at once.  Among
 * several due jobs the one that has waited longest goes first, so a job that
 * always overruns cannot starve the others.
 *
 * This file must not include PostgreSQL headers: test/unit links it alone.
 */
#include "schedule.h"

void
schedule_init(ScheduleSlot *slot, int64_t interval_ms, int64_t now_ms)
{
	slot->interval_ms = interval_ms;
	slot->last_start_ms = SCHEDULE_NEVER;
	/* Run once soon after the worker starts, so status is filled at once. */
	slot->next_due_ms = interval_ms > 0 ? now_ms : SCHEDULE_NEVER;
}

void
schedule_ran(ScheduleSlot *slot, int64_t started_ms, int64_t now_ms)
{
	slot->last_start_ms = started_ms;
	if (slot->interval_ms <= 0)
	{
		slot->next_due_ms = SCHEDULE_NEVER;
		return;
	}
	slot->next_due_ms = started_ms + slot->interval_ms;
	if (slot->next_due_ms < now_ms)
		slot->next_due_ms = now_ms;
}

/*
 * A new interval takes effect from the last start, as if it had always been
 * in force: shortening a long interval makes the job due at once if it is
 * already overdue under the new one, rather than after the old sleep ends.
 */
void
schedule_set_interval(ScheduleSlot *slot, int64_t interval_ms, int64_t now_ms)
{
	slot->interval_ms = interval_ms;
	if (interval_ms <= 0)
		slot->next_due_ms = SCHEDULE_NEVER;
	else if (slot->last_start_ms == SCHEDULE_NEVER)
		slot->next_due_ms = now_ms;
	else
	{
		slot->next_due_ms = slot->last_start_ms + interval_ms;
		if (slot->next_due_ms < now_ms)
			slot->next_due_ms = now_ms;
	}
}

/* The due job that has waited longest, or -1 when none is due. */
int
schedule_next_job(const ScheduleSlot *slots, int nslots, int64_t now_ms)
{
	int			best = -1;

	for (int i = 0; i < nslots; i++)
	{
		if (slots[i].next_due_ms > now_ms)
			continue;
		if (best < 0 || slots[i].next_due_ms < slots[best].next_due_ms)
			best = i;
	}
	return best;
}

/* How long to wait for the next due job: 0 if one is due, at most max_ms. */
int64_t
schedule_sleep_ms(const ScheduleSlot *slots, int nslots, int64_t now_ms,
				  int64_t max_ms)
{
	int64_t		sleep = max_ms;

	for (int i = 0; i < nslots; i++)
	{
		int64_t		wait;

		if (slots[i].next_due_ms == SCHEDULE_NEVER)
			continue;
		wait = slots[i].next_due_ms - now_ms;
		if (wait <= 0)
			return 0;
		if (wait < sleep)
			sleep = wait;
	}
	return sleep;
}
