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

/*
 * apikit.ratelimit_max_keys: how many (policy, key) states the shared table
 * holds.  Each costs 185 bytes of shared memory (README); when the
 * table is full, states whose limit has fully recovered are reclaimed first.
 */
int			apikit_ratelimit_max_keys = 100000;

/*
 * apikit.ratelimit_enabled: off makes every check allow and count as
 * bypassed, for an emergency; only superusers may change it, so a client
 * cannot switch its own limit off.
 */
bool		apikit_ratelimit_enabled = true;

void
apikit_guc_init(void)
{
	if (apikit_preloading)
	{
		DefineCustomIntVariable("apikit.ratelimit_max_keys",
								"Number of rate-limit states kept in shared memory.",
								NULL,
								&apikit_ratelimit_max_keys,
								100000,
								100, INT_MAX / 1024,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);

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

	DefineCustomBoolVariable("apikit.ratelimit_enabled",
							 "Enforces rate limits; when off, every check allows and counts as bypassed.",
							 NULL,
							 &apikit_ratelimit_enabled,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	MarkGUCPrefixReserved("apikit");
}
