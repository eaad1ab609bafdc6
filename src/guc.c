/*
 * guc.c
 *		Every apikit.* setting, each documented where it is defined.
 *
 * Settings a backend may need without shared_preload_libraries are defined
 * whenever the library loads, so that SET and SHOW validate them in any
 * session.  PostgreSQL allows PGC_POSTMASTER settings to be created only
 * while shared_preload_libraries is being processed, so those are defined
 * only then; without preload they are unknown, like the workers they tune.
 *
 * The "apikit" prefix is reserved: a misspelt apikit.* name is an error
 * instead of a silently ignored placeholder.  apikit never reserves or sets
 * the request., response. and pgrst. prefixes that PostgREST uses for its
 * per-request settings.
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "apikit.h"
#include "guc.h"

/*
 * apikit.database: the database the background workers connect to.  Jobs
 * that need apikit's tables (audit sealing, anomaly records) find them
 * there, so it should be the database where CREATE EXTENSION apikit ran.
 */
char	   *apikit_database = NULL;

/*
 * apikit.heartbeat_interval: how often the scheduler's heartbeat job runs.
 * The heartbeat proves that the worker can open a transaction in
 * apikit.database and that apikit is installed there; 0 switches it off.
 * Job intervals are in seconds, so that a bare number in postgresql.conf
 * ("= 10") means what a DBA expects rather than 10 ms of busy work.
 */
int			apikit_heartbeat_interval = 10;

void
apikit_guc_init(void)
{
	if (apikit_preloading)
	{
		DefineCustomStringVariable("apikit.database",
								   "Database the apikit background workers connect to.",
								   NULL,
								   &apikit_database,
								   "postgres",
								   PGC_POSTMASTER,
								   0,
								   NULL, NULL, NULL);
	}

	DefineCustomIntVariable("apikit.heartbeat_interval",
							"Interval between runs of the scheduler's heartbeat job.",
							"Zero switches the heartbeat off.",
							&apikit_heartbeat_interval,
							10,
							0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("apikit");
}
