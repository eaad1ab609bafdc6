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
 *	  the middle of a job; SIGINT (pg_cancel_backend) cancels only the job,
 *	  and means nothing between jobs.
 *	- The worker sleeps on its latch until the next job is due and exits on
 *	  postmaster death (WL_EXIT_ON_PM_DEATH); it never busy-waits.  It runs
 *	  at most one job per pass of the loop and passes through WaitLatch
 *	  every time, even with nothing to wait for, because that is where
 *	  postmaster death is noticed: jobs that overrun their interval must not
 *	  keep an orphaned worker alive.
 *	- A job that raises an error is rolled back, recorded and logged, and the
 *	  loop goes on.  The same error repeated run after run is logged once,
 *	  then only counted, so a misconfiguration does not flood the log; the
 *	  recovery is logged too.
 *	- After a crash the postmaster reinitialises shared memory and starts the
 *	  worker again.  When the worker exits with an error (apikit.database
 *	  does not exist, say), it is restarted after bgw_restart_time, and
 *	  apikit.worker_status() shows why it is not running.
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
#include <math.h>
#include <time.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "mb/pg_wchar.h"
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

/* Worker-local: timing and the last logged error of each job. */
static ScheduleSlot slots[APIKIT_MAX_JOBS];
static char *last_logged_error[APIKIT_MAX_JOBS];
static int64 consecutive_failures[APIKIT_MAX_JOBS];
static bool connected = false;

/* Settings are in seconds, with fractions ("500ms"); schedules in ms. */
static int64
job_interval_ms(int i)
{
	return (int64) rint(*apikit_jobs[i].interval_s * 1000.0);
}

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
	apikit_scheduler_shared->encoding = PG_SQL_ASCII;
	apikit_scheduler_shared->njobs = apikit_njobs;
	for (int i = 0; i < apikit_njobs; i++)
	{
		strlcpy(apikit_scheduler_shared->jobs[i].name, apikit_jobs[i].name, NAMEDATALEN);
		apikit_scheduler_shared->jobs[i].interval_ms = job_interval_ms(i);
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
	/* After a crash-restart it starts at once; this paces error exits. */
	worker.bgw_restart_time = 10;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "apikit");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "apikit_scheduler_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "apikit scheduler");
	snprintf(worker.bgw_type, BGW_MAXLEN, "apikit scheduler");
	RegisterBackgroundWorker(&worker);
}

/*
 * On any exit: clear the published pid, and if the worker never got its
 * database connection, say so where apikit.worker_status() shows it (the
 * FATAL itself is in the server log).
 */
static void
scheduler_detach(int code pg_attribute_unused(), Datum arg pg_attribute_unused())
{
	char		reason[APIKIT_JOB_ERROR_LEN];

	if (!connected)
		snprintf(reason, sizeof(reason),
				 "the scheduler could not connect to database \"%s\" (apikit.database); see the server log",
				 apikit_database);

	SpinLockAcquire(&apikit_scheduler_shared->mutex);
	apikit_scheduler_shared->pid = 0;
	if (!connected)
	{
		strlcpy(apikit_scheduler_shared->worker_error, reason, APIKIT_JOB_ERROR_LEN);
		apikit_scheduler_shared->encoding = PG_SQL_ASCII;
	}
	for (int i = 0; i < apikit_scheduler_shared->njobs; i++)
		apikit_scheduler_shared->jobs[i].running_since = 0;
	SpinLockRelease(&apikit_scheduler_shared->mutex);
}

static int64
monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64
monotonic_ms(void)
{
	return monotonic_us() / 1000;
}

/* The wall-clock time a monotonic due time corresponds to, for display. */
static TimestampTz
due_as_timestamp(int64 due_ms, int64 now_ms, TimestampTz now)
{
	if (due_ms == SCHEDULE_NEVER)
		return 0;
	return now + Max(due_ms - now_ms, 0) * 1000;
}

/* Publish every job's interval and next start, after start-up or a reload. */
static void
publish_schedule(void)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		now_ms = monotonic_ms();
	TimestampTz next[APIKIT_MAX_JOBS];

	for (int i = 0; i < apikit_njobs; i++)
		next[i] = due_as_timestamp(slots[i].next_due_ms, now_ms, now);

	SpinLockAcquire(&apikit_scheduler_shared->mutex);
	for (int i = 0; i < apikit_njobs; i++)
	{
		apikit_scheduler_shared->jobs[i].interval_ms = slots[i].interval_ms;
		apikit_scheduler_shared->jobs[i].next_start = next[i];
	}
	SpinLockRelease(&apikit_scheduler_shared->mutex);
}

static void
reload_intervals(void)
{
	int64		now_ms = monotonic_ms();

	for (int i = 0; i < apikit_njobs; i++)
		if (slots[i].interval_ms != job_interval_ms(i))
			schedule_set_interval(&slots[i], job_interval_ms(i), now_ms);
	publish_schedule();
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
	int64		start_us = monotonic_us();
	int64		end_us;
	char	   *error = NULL;
	int			error_len = 0;
	bool		log_error = false;
	TimestampTz next;
	ErrorContextCallback errcallback;

	SpinLockAcquire(&apikit_scheduler_shared->mutex);
	apikit_scheduler_shared->jobs[i].running_since = start;
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
		/* Never cut a multibyte character in two. */
		error_len = pg_mbcliplen(error, strlen(error), APIKIT_JOB_ERROR_LEN - 1);
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

	end_us = monotonic_us();
	schedule_ran(&slots[i], start_us / 1000, end_us / 1000);
	next = due_as_timestamp(slots[i].next_due_ms, end_us / 1000, GetCurrentTimestamp());

	/* The whole finished run at once: readers never see half of it. */
	SpinLockAcquire(&apikit_scheduler_shared->mutex);
	{
		ApikitJobStatus *st = &apikit_scheduler_shared->jobs[i];

		st->running_since = 0;
		st->last_start = start;
		st->last_duration_us = end_us - start_us;
		st->next_start = next;
		st->runs++;
		if (error != NULL)
		{
			st->failures++;
			memcpy(st->last_error, error, error_len);
			st->last_error[error_len] = '\0';
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

	before_shmem_exit(scheduler_detach, 0);
	apikit_job_settings_save();
	BackgroundWorkerInitializeConnection(apikit_database, NULL, 0);
	apikit_job_settings_pin();
	connected = true;
	pgstat_report_appname("apikit scheduler");
	wait_event = apikit_wait_event("ApikitSchedulerMain");

	SpinLockAcquire(&apikit_scheduler_shared->mutex);
	apikit_scheduler_shared->pid = MyProcPid;
	apikit_scheduler_shared->encoding = GetDatabaseEncoding();
	apikit_scheduler_shared->worker_error[0] = '\0';
	SpinLockRelease(&apikit_scheduler_shared->mutex);

	loopcxt = AllocSetContextCreate(TopMemoryContext, "apikit scheduler loop",
									ALLOCSET_DEFAULT_SIZES);

	now = monotonic_ms();
	for (int i = 0; i < apikit_njobs; i++)
		schedule_init(&slots[i], job_interval_ms(i), now);
	publish_schedule();

	ereport(LOG,
			(errmsg("apikit scheduler started in database \"%s\"", apikit_database)));

	for (;;)
	{
		int			i;

		/*
		 * A cancel meant for a job that has finished means nothing now; left
		 * pending, it would raise an error outside any job, which a
		 * background worker turns into an exit.
		 */
		QueryCancelPending = false;
		CHECK_FOR_INTERRUPTS();

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			reload_intervals();
		}

		now = monotonic_ms();
		i = schedule_next_job(slots, apikit_njobs, now);
		if (i >= 0 && apikit_jobs[i].needs_primary && RecoveryInProgress())
			schedule_ran(&slots[i], now, now);	/* skipped, not failed */
		else if (i >= 0)
		{
			MemoryContextSwitchTo(loopcxt);
			run_job(i, loopcxt);
			MemoryContextSwitchTo(TopMemoryContext);
			MemoryContextReset(loopcxt);
		}

		/* Timeout 0 when a job is due: still a pass through WaitLatch. */
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 (long) schedule_sleep_ms(slots, apikit_njobs, monotonic_ms(),
												  60 * 60 * 1000),
						 wait_event);
		ResetLatch(MyLatch);
	}
}
