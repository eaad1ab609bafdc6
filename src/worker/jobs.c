/*
 * jobs.c
 *		The scheduler's jobs, in the order they run when due together.
 *
 * Later components add their periodic work here (audit sealing, metric
 * sampling, housekeeping), each with its own interval setting in guc.c.
 */
#include "postgres.h"

#include "audit.h"
#include "guc.h"
#include "scheduler.h"

const ApikitJob apikit_jobs[] = {
	{"heartbeat", &apikit_heartbeat_interval, false, apikit_heartbeat_run},
	{"audit_seal", &apikit_audit_seal_interval, true, apikit_audit_seal_job},
};

const int	apikit_njobs = lengthof(apikit_jobs);

StaticAssertDecl(lengthof(apikit_jobs) <= APIKIT_MAX_JOBS,
				 "raise APIKIT_MAX_JOBS");
