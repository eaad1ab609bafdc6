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
 * ("= 10") means what a DBA expects rather than 10 ms of busy work; they
 * are real numbers, so that '500ms' means half a second instead of being
 * rounded to 0, which would switch the job off.
 */
double		apikit_heartbeat_interval = 10;

/*
 * apikit.ratelimit_max_keys: how many (policy, key) states the shared table
 * holds.  Each costs 217 bytes of shared memory (README); when the
 * table is full, states whose limit has fully recovered are reclaimed first,
 * then apikit.ratelimit_when_full decides.
 */
int			apikit_ratelimit_max_keys = 100000;

/*
 * apikit.ratelimit_enabled: off makes every check allow and count as
 * bypassed, for an emergency; only superusers may change it, so a client
 * cannot switch its own limit off.
 */
bool		apikit_ratelimit_enabled = true;

/*
 * apikit.ratelimit_when_full: what a new key gets when the shared table is
 * full and none of the states examined has expired.  "evict" drops the
 * examined state that uses the smallest share of its policy's capacity (so
 * new clients are always served, and a flood of barely used keys evicts
 * its own kind first); "deny" refuses the new key and never drops a live
 * state (so no limit is ever reset, but a flood that fills the table locks
 * out every new client until states expire).  A property of the shared
 * table, so set in postgresql.conf, not per session.
 */
int			apikit_ratelimit_when_full = APIKIT_RL_FULL_EVICT;

/*
 * apikit.ratelimit_database_share: the largest share of the table, in
 * percent, that the keys of one database may hold.  The table is the
 * cluster's; a database at its share makes room only from its own states
 * (evict) or refuses its new keys (deny), so a flood in one database
 * neither evicts another's states nor, under deny, locks its new clients
 * out.  100 (the default) leaves every database the whole table.
 */
int			apikit_ratelimit_database_share = 100;

static const struct config_enum_entry ratelimit_when_full_options[] = {
	{"evict", APIKIT_RL_FULL_EVICT, false},
	{"deny", APIKIT_RL_FULL_DENY, false},
	{NULL, 0, false}
};

/*
 * apikit.json_default_draft: the JSON Schema draft of a schema that has no
 * "$schema".  2020-12 is the current one and PostgREST's and OpenAPI 3.1's
 * choice; 7 is for schemas written for older validators.  Superuser-only,
 * like apikit.json_format_assertion: json_validate is IMMUTABLE and backs
 * CHECK constraints, so no role may change what its answer means.
 */
int			apikit_json_default_draft = 2020;

static const struct config_enum_entry json_draft_options[] = {
	{"2020-12", 2020, false},
	{"7", 7, false},
	{"draft-07", 7, true},
	{NULL, 0, false}
};

/*
 * apikit.json_format_assertion: "format" is checked (on) or only an
 * annotation (off).  The 2020-12 specification leaves it off by default;
 * apikit checks, because an API that accepts "not-an-email" where the
 * schema says "email" surprises everyone who wrote the schema.
 */
bool		apikit_json_format_assertion = true;

/*
 * apikit.json_errors_as_http: json_assert_valid raises PostgREST's
 * SQLSTATE PGRST (status 400, the errors in the body) instead of 22023.
 * Everyone may set it: it shapes the error, never whether there is one.
 */
bool		apikit_json_errors_as_http = false;

/*
 * apikit.audit_enabled: off makes the audit triggers write nothing.  Only
 * superusers may change it, so that a session cannot hide its own changes;
 * a superuser can already drop the triggers, and this is the same power
 * scoped to one session or transaction (for a bulk load, say).
 */
bool		apikit_audit_enabled = true;

/*
 * apikit.audit_statement: also record the client's statement text with each
 * row.  Off by default: statements can hold values the log should not
 * (passwords in an UPDATE, personal data in a WHERE clause), and they make
 * every row larger.  Superuser-only for the same reason as audit_enabled.
 */
bool		apikit_audit_statement = false;

/*
 * apikit.audit_seal_interval: how often the scheduler seals committed audit
 * rows into the chain of blocks, in seconds; 0 switches it off (seal with
 * apikit.audit_seal() instead).  Rows are tamper-evident from the seal on.
 */
double		apikit_audit_seal_interval = 60;

/*
 * apikit.actor: who the application says is acting.  An application that
 * authenticates its own users runs SET LOCAL apikit.actor = '...' in each
 * transaction; audit rows record it.  Any role may set it: it is a claim,
 * recorded next to db_user, the role that really ran the statement.
 */
char	   *apikit_actor = NULL;

/* A week: longer would only mean "off" without saying so. */
#define APIKIT_MAX_JOB_INTERVAL_S (7 * 24 * 3600)

/*
 * Job intervals are scheduled in milliseconds: anything shorter than one
 * would be 0, which means "off", so it is refused rather than rounded.
 */
static bool
check_job_interval(double *newval, void **extra pg_attribute_unused(),
				   GucSource source pg_attribute_unused())
{
	if (*newval > 0 && *newval < 0.001)
	{
		GUC_check_errdetail("A job interval is 0 (off) or at least 1ms.");
		return false;
	}
	return true;
}

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

	DefineCustomRealVariable("apikit.heartbeat_interval",
							 "Interval between runs of the scheduler's heartbeat job.",
							 "Zero switches the heartbeat off.",
							 &apikit_heartbeat_interval,
							 10,
							 0, APIKIT_MAX_JOB_INTERVAL_S,
							 PGC_SIGHUP,
							 GUC_UNIT_S,
							 check_job_interval, NULL, NULL);

	DefineCustomBoolVariable("apikit.ratelimit_enabled",
							 "Enforces rate limits; when off, every check allows and counts as bypassed.",
							 NULL,
							 &apikit_ratelimit_enabled,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomEnumVariable("apikit.ratelimit_when_full",
							 "What a new rate-limit key gets when the shared table is full: evict or deny.",
							 "evict drops the state using the least of its capacity; deny refuses the new key.",
							 &apikit_ratelimit_when_full,
							 APIKIT_RL_FULL_EVICT,
							 ratelimit_when_full_options,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("apikit.ratelimit_database_share",
							"Largest share of the rate-limit table, in percent, that one database's keys may hold.",
							"A database at its share makes room only from its own states, or refuses its new keys.",
							&apikit_ratelimit_database_share,
							100,
							1, 100,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("apikit.audit_enabled",
							 "Writes audit rows for the tables apikit audits.",
							 NULL,
							 &apikit_audit_enabled,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("apikit.audit_statement",
							 "Records the client's statement text with each audit row.",
							 NULL,
							 &apikit_audit_statement,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomRealVariable("apikit.audit_seal_interval",
							 "Interval between runs of the scheduler's audit sealing job.",
							 "Zero switches sealing by the scheduler off.",
							 &apikit_audit_seal_interval,
							 60,
							 0, APIKIT_MAX_JOB_INTERVAL_S,
							 PGC_SIGHUP,
							 GUC_UNIT_S,
							 check_job_interval, NULL, NULL);

	DefineCustomStringVariable("apikit.actor",
							   "The application user recorded as the actor of audited changes.",
							   "Set it with SET LOCAL in each transaction; when empty, the sub claim of request.jwt.claims is used, then session_user.",
							   &apikit_actor,
							   "",
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);

	DefineCustomEnumVariable("apikit.json_default_draft",
							 "The JSON Schema draft of schemas without \"$schema\".",
							 NULL,
							 &apikit_json_default_draft,
							 2020,
							 json_draft_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("apikit.json_format_assertion",
							 "Whether JSON Schema \"format\" is checked rather than only annotated.",
							 NULL,
							 &apikit_json_format_assertion,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("apikit.json_errors_as_http",
							 "Whether json_assert_valid raises PostgREST's PGRST error (HTTP 400) instead of SQLSTATE 22023.",
							 NULL,
							 &apikit_json_errors_as_http,
							 false,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	MarkGUCPrefixReserved("apikit");
}
