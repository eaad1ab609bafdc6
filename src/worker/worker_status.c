/*
 * worker_status.c
 *		apikit.worker_status(): one row per scheduler job, read from shared
 *		memory, so it answers even when the worker is stuck or restarting.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "apikit.h"
#include "compat.h"
#include "scheduler.h"

PG_FUNCTION_INFO_V1(apikit_worker_status);

#define WORKER_STATUS_COLS 10

static Datum
interval_from_us(int64 us)
{
	Interval   *iv = palloc0(sizeof(Interval));

	iv->time = us;
	return IntervalPGetDatum(iv);
}

/*
 * Messages are in the encoding of the worker's database, which need not be
 * the caller's.  When they differ, bytes outside ASCII become '?': a status
 * query must not fail, nor return text invalid in its own encoding.
 */
static Datum
message_datum(char *msg, int encoding)
{
	if (encoding != GetDatabaseEncoding() && encoding != PG_SQL_ASCII)
	{
		for (char *p = msg; *p; p++)
			if (IS_HIGHBIT_SET(*p))
				*p = '?';
	}
	return CStringGetTextDatum(msg);
}

Datum
apikit_worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ApikitJobStatus jobs[APIKIT_MAX_JOBS];
	char		worker_error[APIKIT_JOB_ERROR_LEN];
	int			njobs;
	int			encoding;
	pid_t		pid;

	apikit_shmem_require("apikit.worker_status()");
	InitMaterializedSRF(fcinfo, 0);

	/* Copy under the lock, build tuples without it. */
	SpinLockAcquire(&apikit_scheduler_shared->mutex);
	njobs = apikit_scheduler_shared->njobs;
	pid = apikit_scheduler_shared->pid;
	encoding = apikit_scheduler_shared->encoding;
	memcpy(worker_error, apikit_scheduler_shared->worker_error, APIKIT_JOB_ERROR_LEN);
	memcpy(jobs, apikit_scheduler_shared->jobs, sizeof(ApikitJobStatus) * njobs);
	SpinLockRelease(&apikit_scheduler_shared->mutex);

	for (int i = 0; i < njobs; i++)
	{
		ApikitJobStatus *st = &jobs[i];
		Datum		values[WORKER_STATUS_COLS];
		bool		nulls[WORKER_STATUS_COLS];
		int			c = 0;

		memset(nulls, 0, sizeof(nulls));
		values[c++] = CStringGetTextDatum(st->name);
		values[c++] = interval_from_us(st->interval_ms * 1000);
		values[c++] = Int64GetDatum(st->runs);
		values[c++] = Int64GetDatum(st->failures);
		nulls[c] = st->last_start == 0;
		values[c++] = TimestampTzGetDatum(st->last_start);
		nulls[c] = st->last_start == 0;
		values[c++] = interval_from_us(st->last_duration_us);

		/* The job's own error, else why the worker is not running. */
		if (st->last_error[0] != '\0')
			values[c++] = message_datum(st->last_error, encoding);
		else if (pid == 0 && worker_error[0] != '\0')
			values[c++] = message_datum(worker_error, PG_SQL_ASCII);
		else
			nulls[c++] = true;

		nulls[c] = st->running_since == 0 || pid == 0;
		values[c++] = TimestampTzGetDatum(st->running_since);
		nulls[c] = st->next_start == 0 || pid == 0;
		values[c++] = TimestampTzGetDatum(st->next_start);
		nulls[c] = pid == 0;
		values[c++] = Int32GetDatum(pid);
		Assert(c == WORKER_STATUS_COLS);

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
