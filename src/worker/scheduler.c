/*
 * scheduler.c
 *		The scheduler background worker: runs apikit's periodic jobs in
 *		apikit.database, each in its own transaction, and publishes how they
 *		went in shared memory for apikit.worker_status().
 *
 * Built on the worker_spi skeleton:
 *	- SIGHUP re-reads the configuration; a changed interval takes effect at
 *	  once (schedule_set_interval), not after the sleep that was under way.
 *	- SIGTERM (die) ends the worker at the next CHECK_FOR_INTERRUPTS, also in
 *	  the middle of a job; SIGINT (pg_cancel_backend) cancels only the job.
 *	- The worker sleeps on its latch until the next job is due and exits on
 *	  postmaster death (WL_EXIT_ON_PM_DEATH); it never busy-waits.
 *	- A job that raises an error is rolled back, recorded and logged, and the
 *	  loop goes on.  The same error repeated run after run is logged once,
 *	  then only counted, so a misconfiguration does not flood the log; the
 *	  recovery is logged too.
 *	- After a crash the postmaster reinitialises shared memory and starts the
 *	  worker again after bgw_restart_time.
 *
 * Scheduling uses a monotonic clock (schedule.c); the wall clock is used only
 * for the times shown to people.
 */
#include "postgres.h"

/* These are always necessary for a bgworker */
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"

/* these headers are used by this particular worker's code */
#include <time.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "pgstat.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "tcop/tcopprot.h"

#include "apikit.h"
#include "compat.h"
#include "guc.h"
#include "schedule.h"
#include "scheduler.h"

PGDLLEXPORT void apikit_scheduler_main(Datum main_arg);

ApikitSchedulerShared *apikit_scheduler_shared = NULL;

/* Worker-local: timing and the last error message of each job. */
static ScheduleSlot slots[APIKIT_MAX_JOBS];
static char *last_logged_error[APIKIT_MAX_JOBS];
static int64 consecutive_failures[APIKIT_MAX_JOBS];

Size
apikit_scheduler_shmem_size(void)
{
	return sizeof(ApikitSchedulerShared);
}

void
apikit_scheduler_shmem_startup(void *ptr, bool found)
{
	apikit_scheduler_shared = (ApikitSchedulerShared *) ptr;
	if (found)
		return;

	memset(apikit_scheduler_shared, 0, sizeof(ApikitSchedulerShared));
	SpinLockInit(&apikit_scheduler_shared->mutex);
	apikit_scheduler_shared->njobs = apikit_njobs;
	for (int i = 0; i < apikit_njobs; i++)
	{
		strlcpy(apikit_scheduler_shared->jobs[i].name, apikit_jobs[i].name, NAMEDATALEN);
		apikit_scheduler_shared->jobs[i].interval_ms = *apikit_jobs[i].interval_ms;
	}
}

void
apikit_scheduler_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	/* Also on a hot standby: jobs that write say so and are skipped there. */
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "apikit");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "apikit_scheduler_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "apikit scheduler");
	snprintf(worker.bgw_type, BGW_MAXLEN, "apikit scheduler");
	RegisterBackgroundWorker(&worker);
}

/* Clear the published pid when the worker exits, whatever the reason. */
static void
scheduler_detach(int code pg_attribute_unused(), Datum arg pg_attribute_unused())
{
	SpinLockAcquire(&apikit_scheduler_shared->mutex);
	apikit_scheduler_shared->pid = 0;
	SpinLockRelease(&apikit_scheduler_shared->mutex);
}

static int64
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Publish the intervals and next start times after they changed. */
static void
publish_schedule(int64 now_ms)
{
	TimestampTz wall = GetCurrentTimestamp();

	SpinLockAcquire(&apikit_scheduler_shared->mutex);
	for (int i = 0; i < apikit_njobs; i++)
	{
		ApikitJobStatus *st = &apikit_scheduler_shared->jobs[i];

		st->interval_ms = slots[i].interval_ms;
		if (slots[i].next_due_ms == SCHEDULE_NEVER)
			st->next_start = 0;
		else
			st->next_start = wall + (Max(slots[i].next_due_ms - now_ms, 0)) * 1000;
	}
	SpinLockRelease(&apikit_scheduler_shared->mutex);
}

static void
reload_intervals(int64 now_ms)
{
	for (int i = 0; i < apikit_njobs; i++)
		if (slots[i].interval_ms != *apikit_jobs[i].interval_ms)
			schedule_set_interval(&slots[i], *apikit_jobs[i].interval_ms, now_ms);
	publish_schedule(now_ms);
}

static void
job_error_context(void *arg)
{
	errcontext("apikit scheduler job \"%s\"", ((const ApikitJob *) arg)->name);
}

/*
 * Run one job in its own transaction and record the outcome.  Errors are
 * caught here; FATAL (shutdown, postmaster death) is not an error and ends
 * the process as usual.
 */
static void
run_job(int i, MemoryContext loopcxt)
{
	const ApikitJob *job = &apikit_jobs[i];
	TimestampTz start = GetCurrentTimestamp();
	char	   *error = NULL;
	bool		log_error = false;
	ErrorContextCallback errcallback;

	SpinLockAcquire(&apikit_scheduler_shared->mutex);
	apikit_scheduler_shared->jobs[i].last_start = start;
	apikit_scheduler_shared->jobs[i].runs++;
	SpinLockRelease(&apikit_scheduler_shared->mutex);

	errcallback.callback = job_error_context;
	errcallback.arg = (void *) job;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, job->name);

		job->run();

		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(loopcxt);
		edata = CopyErrorData();
		error = pstrdup(edata->message ? edata->message : "unknown error");

		/* Log the first of a run of identical errors, with its context. */
		log_error = last_logged_error[i] == NULL ||
			strcmp(last_logged_error[i], error) != 0;
		if (log_error)
			EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		RESUME_INTERRUPTS();
	}
	PG_END_TRY();

	error_context_stack = errcallback.previous;
	pgstat_report_stat(true);
	pgstat_report_activity(STATE_IDLE, NULL);

	if (error != NULL)
	{
		consecutive_failures[i]++;
		if (log_error)
		{
			if (last_logged_error[i])
				pfree(last_logged_error[i]);
			last_logged_error[i] = MemoryContextStrdup(TopMemoryContext, error);
		}
	}
	else if (consecutive_failures[i] > 0)
	{
		ereport(LOG,
				(errmsg("apikit scheduler job \"%s\" succeeded after %lld failed runs",
						job->name, (long long) consecutive_failures[i])));
		consecutive_failures[i] = 0;
		pfree(last_logged_error[i]);
		last_logged_error[i] = NULL;
	}

	SpinLockAcquire(&apikit_scheduler_shared->mutex);
	{
		ApikitJobStatus *st = &apikit_scheduler_shared->jobs[i];

		st->last_duration_us = GetCurrentTimestamp() - start;
		if (error != NULL)
		{
			st->failures++;
			strlcpy(st->last_error, error, APIKIT_JOB_ERROR_LEN);
		}
		else
			st->last_error[0] = '\0';
	}
	SpinLockRelease(&apikit_scheduler_shared->mutex);
}

void
apikit_scheduler_main(Datum main_arg pg_attribute_unused())
{
	MemoryContext loopcxt;
	uint32		wait_event;
	int64		now;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(apikit_database, NULL, 0);
	pgstat_report_appname("apikit scheduler");
	wait_event = apikit_wait_event("ApikitSchedulerMain");

	SpinLockAcquire(&apikit_scheduler_shared->mutex);
	apikit_scheduler_shared->pid = MyProcPid;
	SpinLockRelease(&apikit_scheduler_shared->mutex);
	before_shmem_exit(scheduler_detach, 0);

	loopcxt = AllocSetContextCreate(TopMemoryContext, "apikit scheduler loop",
									ALLOCSET_DEFAULT_SIZES);

	now = monotonic_ms();
	for (int i = 0; i < apikit_njobs; i++)
		schedule_init(&slots[i], *apikit_jobs[i].interval_ms, now);
	publish_schedule(now);

	ereport(LOG,
			(errmsg("apikit scheduler started in database \"%s\"", apikit_database)));

	for (;;)
	{
		int			i;
		int64		sleep_ms;

		CHECK_FOR_INTERRUPTS();

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			reload_intervals(monotonic_ms());
		}

		while ((i = schedule_next_job(slots, apikit_njobs, now = monotonic_ms())) >= 0)
		{
			if (apikit_jobs[i].needs_primary && RecoveryInProgress())
				schedule_ran(&slots[i], now, now);	/* skipped, not failed */
			else
			{
				MemoryContextSwitchTo(loopcxt);
				run_job(i, loopcxt);
				schedule_ran(&slots[i], now, monotonic_ms());
				MemoryContextReset(loopcxt);
			}
			publish_schedule(monotonic_ms());
			CHECK_FOR_INTERRUPTS();
			if (ConfigReloadPending)
				break;
		}

		/* WaitLatch takes a long; an hour's nap is re-checked on waking. */
		sleep_ms = schedule_sleep_ms(slots, apikit_njobs, monotonic_ms(),
									 60 * 60 * 1000);
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 (long) sleep_ms, wait_event);
		ResetLatch(MyLatch);
	}
}
