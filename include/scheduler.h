/*
 * scheduler.h
 *		The scheduler background worker: its jobs and the status it publishes
 *		in shared memory.
 */
#ifndef APIKIT_SCHEDULER_H
#define APIKIT_SCHEDULER_H

#include "datatype/timestamp.h"
#include "storage/spin.h"

/*
 * A periodic job.  run() is called inside a transaction with a snapshot
 * pushed; it reports failure by raising an error, which the scheduler logs
 * and records before going on with the next job.
 */
typedef struct ApikitJob
{
	const char *name;			/* shown in apikit.worker_status() */
	const double *interval_s;	/* the setting that says how often, seconds */
	bool		needs_primary;	/* skipped while the server is in recovery */
	void		(*run) (void);
} ApikitJob;

extern const ApikitJob apikit_jobs[];
extern const int apikit_njobs;

#define APIKIT_MAX_JOBS			16
#define APIKIT_JOB_ERROR_LEN	512

/*
 * What apikit.worker_status() shows of one job.  Written only by the
 * scheduler (and by the postmaster when the memory is created), read by any
 * backend; both sides hold ApikitSchedulerShared.mutex while copying.  A
 * finished run is published in one locked section, so a reader never sees
 * half of it; a run under way shows only in running_since.
 */
typedef struct ApikitJobStatus
{
	char		name[NAMEDATALEN];
	int64		interval_ms;	/* as the worker last read its setting */
	TimestampTz running_since;	/* start of the run under way, or 0 */
	TimestampTz last_start;		/* start of the last finished run, or 0 */
	int64		last_duration_us;
	TimestampTz next_start;		/* 0 when switched off or not yet scheduled */
	int64		runs;			/* finished runs since the server started */
	int64		failures;		/* of which failed */
	char		last_error[APIKIT_JOB_ERROR_LEN];	/* "" if the last run worked */
} ApikitJobStatus;

typedef struct ApikitSchedulerShared
{
	slock_t		mutex;			/* protects everything below */
	pid_t		pid;			/* the running scheduler, or 0 */
	int			encoding;		/* of the messages below (the worker's database) */
	char		worker_error[APIKIT_JOB_ERROR_LEN];	/* why the worker is not running */
	int			njobs;
	ApikitJobStatus jobs[APIKIT_MAX_JOBS];
} ApikitSchedulerShared;

extern ApikitSchedulerShared *apikit_scheduler_shared;

extern Size apikit_scheduler_shmem_size(void);
extern void apikit_scheduler_shmem_startup(void *ptr, bool found);

/* job_settings.c: the settings jobs run under, not the database's. */
extern void apikit_job_settings_save(void);
extern void apikit_job_settings_pin(void);

/* The jobs themselves. */
extern void apikit_heartbeat_run(void);

#endif							/* APIKIT_SCHEDULER_H */
