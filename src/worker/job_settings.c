/*
 * job_settings.c
 *		The settings the scheduler's jobs run under: the server's own, never
 *		those of apikit.database or its roles.
 *
 * The scheduler connects as the bootstrap superuser, and connecting applies
 * what ALTER DATABASE ... SET and ALTER ROLE ... SET stored for that
 * database (pg_db_role_setting).  The database's owner, an ordinary role,
 * may store those: a search_path that puts a schema of theirs before
 * pg_catalog would make every unqualified name in a job resolve to their
 * functions, operators, types or domains (whose CHECK runs any function),
 * called as the superuser; role = themselves would run the jobs as them;
 * default_transaction_read_only, a serializable default isolation or a tiny
 * statement_timeout would make jobs fail.  So, as autovacuum and the
 * logical replication workers do, the scheduler pins its settings:
 *
 *	- before connecting, it notes the value of every setting that a
 *	  database or role could override (the postmaster's: configuration
 *	  file, command line, built-in default);
 *	- after connecting, every setting that the connection took from
 *	  pg_db_role_setting goes back to that value, and is logged once, so
 *	  a DBA who wonders why a database setting has no effect on the worker
 *	  can read why;
 *	- a few settings that decide what a job does are pinned whatever the
 *	  configuration file says: search_path to pg_catalog, pg_temp (jobs
 *	  name everything else with its schema as well), no timeouts, READ
 *	  COMMITTED read-write transactions.
 *
 * All of them are set with PGC_S_OVERRIDE, which a configuration reload does
 * not undo.
 *
 * A setting of a library the worker has not loaded, which only the
 * database names, stays a placeholder that cannot be undone (loading the
 * library would apply it); the only library a job may load is PL/pgSQL, so
 * it is loaded before connecting, and its settings are real ones by then.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "lib/stringinfo.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"
#include "utils/memutils.h"

#include "compat.h"
#include "guc.h"
#include "scheduler.h"

typedef struct SavedSetting
{
	char	   *name;
	char	   *value;
} SavedSetting;

static SavedSetting *saved = NULL;
static int	nsaved = 0;

/* What jobs rely on, whatever postgresql.conf says. */
static const struct
{
	const char *name;
	const char *value;
}			pinned[] =
{
	{"search_path", "pg_catalog, pg_temp"},
	{"statement_timeout", "0"},
	{"lock_timeout", "0"},
	{"idle_in_transaction_session_timeout", "0"},
	{"transaction_timeout", "0"},	/* PostgreSQL 17 and later */
	{"default_transaction_isolation", "read committed"},
	{"default_transaction_read_only", "off"},
	{"default_transaction_deferrable", "off"},
	{"session_replication_role", "origin"},
	{"check_function_bodies", "on"},
	{"apikit.actor", ""},
};

/* Settings a database or a role can override: not fixed at server start. */
static bool
per_session(const struct config_generic *conf)
{
	return conf->context == PGC_USERSET || conf->context == PGC_SUSET ||
		conf->context == PGC_BACKEND || conf->context == PGC_SU_BACKEND;
}

static bool
from_catalog(GucSource source)
{
	return source == PGC_S_GLOBAL || source == PGC_S_DATABASE ||
		source == PGC_S_USER || source == PGC_S_DATABASE_USER;
}

/* The current value, as text that reads back exactly. */
static char *
value_text(const struct config_generic *conf)
{
	switch (conf->vartype)
	{
		case PGC_BOOL:
			return pstrdup(*((const struct config_bool *) conf)->variable ? "on" : "off");
		case PGC_INT:
			return psprintf("%d", *((const struct config_int *) conf)->variable);
		case PGC_REAL:
			return psprintf("%.17g", *((const struct config_real *) conf)->variable);
		case PGC_STRING:
			{
				char	   *s = *((const struct config_string *) conf)->variable;

				return s ? pstrdup(s) : NULL;
			}
		case PGC_ENUM:
			return pstrdup(config_enum_lookup_by_value((struct config_enum *) conf,
													   *((const struct config_enum *) conf)->variable));
	}
	return NULL;
}

/* Before the connection: the values the postmaster gave this process. */
void
apikit_job_settings_save(void)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	struct config_generic **vars;
	int			n;

	load_file("plpgsql", false);

	vars = apikit_guc_variables(&n);
	saved = palloc(sizeof(SavedSetting) * n);
	for (int i = 0; i < n; i++)
	{
		if (!per_session(vars[i]))
			continue;
		saved[nsaved].name = pstrdup(vars[i]->name);
		saved[nsaved].value = value_text(vars[i]);
		nsaved++;
	}
	MemoryContextSwitchTo(old);
}

static const SavedSetting *
find_saved(const char *name)
{
	for (int i = 0; i < nsaved; i++)
		if (strcmp(saved[i].name, name) == 0)
			return &saved[i];
	return NULL;
}

static void
override(const char *name, const char *value)
{
	(void) set_config_option(name, value, PGC_SU_BACKEND, PGC_S_OVERRIDE,
							 GUC_ACTION_SET, true, WARNING, false);
}

/* After the connection: undo the database's and roles' settings, then pin. */
void
apikit_job_settings_pin(void)
{
	struct config_generic **vars;
	int			n;
	StringInfoData ignored;

	initStringInfo(&ignored);
	vars = apikit_guc_variables(&n);
	for (int i = 0; i < n; i++)
	{
		const SavedSetting *s;

		if (!from_catalog(vars[i]->source))
			continue;
		appendStringInfo(&ignored, "%s%s", ignored.len ? ", " : "", vars[i]->name);
		s = find_saved(vars[i]->name);
		if (s != NULL && s->value != NULL)
			override(s->name, s->value);
	}

	for (int i = 0; i < (int) lengthof(pinned); i++)
		if (GetConfigOption(pinned[i].name, true, false) != NULL)
			override(pinned[i].name, pinned[i].value);

	if (ignored.len > 0)
		ereport(LOG,
				(errmsg("apikit scheduler ignores the settings that database \"%s\" and its roles store: %s",
						apikit_database, ignored.data),
				 errdetail("The scheduler's jobs run as a superuser with the server's own settings.")));
	pfree(ignored.data);
}
