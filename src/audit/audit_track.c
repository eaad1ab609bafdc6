/*
 * audit_track.c
 *		Changes to a table's auditing become rows of apikit.audit_log.
 *
 * A table can stop being audited without apikit being asked: a role with
 * TRIGGER on it replaces apikit_audit by a trigger that does nothing
 * (CREATE OR REPLACE TRIGGER), its owner disables the trigger, drops it,
 * detaches a partition.  Each such change, and each made through
 * apikit.audit_enable() and apikit.audit_disable(), is written to the log as
 * a row with op 'AUDIT', by the code that writes row changes, so that it is
 * hashed and sealed like them: audit_history() shows it, and audit_verify()
 * reports the windows in which a table's changes went unrecorded.
 *
 * How: an event trigger (apikit.audit_track(), on ddl_command_end and
 * sql_drop) works out which tables a command touched, computes each one's
 * auditing state from its triggers -- whether its INSERT, UPDATE, DELETE
 * and TRUNCATE are logged, the lists, apikit's triggers and whatever
 * replaced them -- and compares it with the state the log last recorded
 * for the table.  A difference is a row: new_row holds the whole state,
 * old_row the previous values of what changed, changed_columns their
 * names, as for an UPDATE.  The state is computed, not the command parsed,
 * so that every way of reaching it (CREATE OR REPLACE, DISABLE TRIGGER ALL,
 * a WHEN clause, DROP FUNCTION ... CASCADE) counts the same.
 *
 * The same event trigger keeps the trigger arguments current: after ALTER
 * TABLE ... RENAME COLUMN the lists name the column by its new name, after
 * DROP COLUMN not at all.  Names are what pg_dump keeps, so they must be
 * the current ones, or a restore would mask another column; within the
 * cluster, following the rename is matching by identity.
 *
 * apikit.audit_enable() and apikit.audit_disable() are C functions that call
 * their SQL halves (audit_apply_enable, audit_apply_disable) while the event
 * trigger holds back its rows for the table; they then write one row per
 * table, marked "by" themselves.  Nothing else can mark a row so: the mark
 * is a static variable, set only around that call.  A stop marked by
 * audit_disable is a decision and audit_verify() only mentions it; any
 * other stop is reported as a gap.
 *
 * Which table a row is about: relid, within one database.  Across a
 * dump/restore OIDs change, and a new cluster hands out the old ones to
 * other tables; so every row records the database it was written in
 * (system identifier and database OID), and the first row of a restored
 * table "follows" the last row of the table that had its name in the dumped
 * database (link_predecessor()).  Every later row repeats the ID of its
 * run's first row ("since") and the link, so that apikit.audit_lineage()
 * walks a table's history through renames and restores without mistaking a
 * new table that took an old name for the old table.
 *
 * Reading the log needs its owner's privileges, which the user running the
 * DDL does not have: those queries run as the owner of apikit.audit_log,
 * with search_path pinned and every function, operator and cast qualified.
 * (The event trigger pins search_path itself, after looking up the names in
 * the command as the command did: see partition_of().)  The row itself is written as the user, so that db_user says
 * who ran the command.  Temporary tables are never tracked: any role can
 * create one.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parse_func.h"
#include "tcop/deparse_utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "audit.h"

PG_FUNCTION_INFO_V1(apikit_audit_track);
PG_FUNCTION_INFO_V1(apikit_audit_enable);
PG_FUNCTION_INFO_V1(apikit_audit_disable);
PG_FUNCTION_INFO_V1(apikit_audit_database_id);

#define BY_ENABLE	"apikit.audit_enable"
#define BY_DISABLE	"apikit.audit_disable"

/* What the command said about a table beyond its state. */
typedef enum TrackHint
{
	HINT_NONE,
	HINT_ATTACHED,
	HINT_DETACHED
} TrackHint;

/* A table a command touched. */
typedef struct Touched
{
	Oid			relid;
	TrackHint	hint;
	char	   *command;		/* the command tag */
	bool		dropped;		/* the table itself was dropped */
	char	   *schema_name;	/* of a dropped table */
	char	   *table_name;
} Touched;

/* apikit.audit_enable() or audit_disable() running. */
static struct
{
	int			depth;
	const char *by;
	List	   *tree;			/* OIDs of the table and those below it */
	List	   *touched;		/* Touched *, held back */
	MemoryContext cxt;
}			api;

/* One trigger of a table, as its state shows it. */
typedef struct TrackTrigger
{
	char	   *name;
	char	   *function;
	char		enabled;		/* pg_trigger.tgenabled */
	bool		audits;			/* logs every row change, or every TRUNCATE */
} TrackTrigger;

/* A table's auditing. */
typedef struct TrackState
{
	bool		exists;
	bool		audited;		/* INSERT, UPDATE and DELETE are logged */
	bool		truncate_audited;
	char	   *schema_name;
	char	   *table_name;
	List	   *exclude;		/* column names, sorted */
	List	   *mask;
	List	   *triggers;		/* TrackTrigger *: apikit's, and those named like them */
	const char *row_problem;	/* why INSERT, UPDATE, DELETE are not logged */
	const char *truncate_problem;
} TrackState;

/* The keys of new_row that hold the state, compared with the last row. */
static const char *const state_keys[] = {
	"audited", "truncate_audited", "exclude_columns", "mask_columns", "triggers"
};

static Oid
audit_function_oid(void)
{
	return LookupFuncName(list_make2(makeString("apikit"), makeString("audit_trigger")),
						  0, NULL, true);
}

/* The database rows are written in: "<system identifier>:<database OID>". */
static char *
database_id(void)
{
	return psprintf(UINT64_FORMAT ":%u", GetSystemIdentifier(), MyDatabaseId);
}

Datum
apikit_audit_database_id(PG_FUNCTION_ARGS pg_attribute_unused())
{
	PG_RETURN_TEXT_P(cstring_to_text(database_id()));
}

static bool
is_relevant(Trigger *t, Oid fn)
{
	return t->tgfoid == fn || strcmp(t->tgname, "apikit_audit") == 0 ||
		strcmp(t->tgname, "apikit_audit_truncate") == 0;
}

/* Does the trigger log every INSERT, UPDATE and DELETE? */
static bool
audits_rows(Trigger *t, Oid fn)
{
	return t->tgfoid == fn && TRIGGER_FOR_ROW(t->tgtype) && TRIGGER_FOR_AFTER(t->tgtype) &&
		TRIGGER_FOR_INSERT(t->tgtype) && TRIGGER_FOR_UPDATE(t->tgtype) &&
		TRIGGER_FOR_DELETE(t->tgtype) && t->tgqual == NULL && t->tgnattr == 0 &&
		(t->tgnargs == 0 || t->tgnargs == 2) &&
		(t->tgenabled == TRIGGER_FIRES_ON_ORIGIN || t->tgenabled == TRIGGER_FIRES_ALWAYS);
}

static bool
audits_truncate(Trigger *t, Oid fn)
{
	return t->tgfoid == fn && !TRIGGER_FOR_ROW(t->tgtype) && TRIGGER_FOR_AFTER(t->tgtype) &&
		TRIGGER_FOR_TRUNCATE(t->tgtype) &&
		(t->tgenabled == TRIGGER_FIRES_ON_ORIGIN || t->tgenabled == TRIGGER_FIRES_ALWAYS);
}

/* Why the trigger of this name does not audit, as a clause for a sentence. */
static const char *
problem_of(Relation rel, const char *name, Oid fn)
{
	TriggerDesc *td = rel->trigdesc;

	for (int i = 0; td && i < td->numtriggers; i++)
	{
		Trigger    *t = &td->triggers[i];

		if (strcmp(t->tgname, name) != 0)
			continue;
		if (t->tgfoid != fn)
			return psprintf("trigger %s executes %s instead of apikit.audit_trigger()",
							name, format_procedure_qualified(t->tgfoid));
		if (t->tgenabled == TRIGGER_DISABLED)
			return psprintf("trigger %s is disabled", name);
		if (t->tgenabled == TRIGGER_FIRES_ON_REPLICA)
			return psprintf("trigger %s fires only when session_replication_role is replica", name);
		return psprintf("trigger %s does not fire for every change", name);
	}
	return psprintf("trigger %s was dropped", name);
}

static int
name_cmp(const ListCell *a, const ListCell *b)
{
	return strcmp(lfirst(a), lfirst(b));
}

/* Column names from a trigger argument (a text[] literal). */
static List *
arg_names(const char *arg)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	List	   *names = NIL;

	arr = DatumGetArrayTypeP(OidInputFunctionCall(F_ARRAY_IN, (char *) arg, TEXTOID, -1));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (!nulls[i])
			names = lappend(names, TextDatumGetCString(elems[i]));
	list_sort(names, name_cmp);
	return names;
}

static char *
names_arg(List *names)
{
	Datum	   *elems = palloc(sizeof(Datum) * (list_length(names) + 1));
	int			n = 0;
	ListCell   *lc;

	list_sort(names, name_cmp);
	foreach(lc, names)
		elems[n++] = CStringGetTextDatum(lfirst(lc));
	return OidOutputFunctionCall(F_ARRAY_OUT,
								 PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false,
																 TYPALIGN_INT)));
}

/* Which trigger's arguments are being read, for an error's context. */
static void
args_error_context(void *arg)
{
	Trigger    *t = arg;

	errcontext("reading the arguments of trigger \"%s\" (exclude_columns and mask_columns as text[] literals)",
			   t->tgname);
}

/*
 * The table's auditing now.  False for what is never tracked: temporary
 * tables, and relations that cannot be audited.
 */
static bool
compute_state(Oid relid, TrackState *st)
{
	Relation	rel;
	Oid			fn = audit_function_oid();
	TriggerDesc *td;
	Trigger    *row_trigger = NULL;

	memset(st, 0, sizeof(*st));
	rel = try_relation_open(relid, AccessShareLock);
	if (rel == NULL)
		return true;			/* gone: st->exists is false */
	if (rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP ||
		(rel->rd_rel->relkind != RELKIND_RELATION &&
		 rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE &&
		 rel->rd_rel->relkind != RELKIND_FOREIGN_TABLE))
	{
		relation_close(rel, AccessShareLock);
		return false;
	}
	st->exists = true;
	st->schema_name = get_namespace_name(RelationGetNamespace(rel));
	st->table_name = pstrdup(RelationGetRelationName(rel));

	td = rel->trigdesc;
	for (int i = 0; td && i < td->numtriggers; i++)
	{
		Trigger    *t = &td->triggers[i];
		TrackTrigger *tt;

		if (!is_relevant(t, fn))
			continue;
		tt = palloc(sizeof(TrackTrigger));
		tt->name = pstrdup(t->tgname);
		tt->function = format_procedure_qualified(t->tgfoid);
		tt->enabled = t->tgenabled;
		tt->audits = audits_rows(t, fn) || audits_truncate(t, fn);
		st->triggers = lappend(st->triggers, tt);

		if (audits_rows(t, fn))
			st->audited = true;
		if (audits_truncate(t, fn))
			st->truncate_audited = true;
		/* The lists: apikit_audit's, else those of another trigger that audits rows. */
		if (t->tgfoid == fn && t->tgnargs == 2 && TRIGGER_FOR_ROW(t->tgtype) &&
			(row_trigger == NULL || strcmp(t->tgname, "apikit_audit") == 0))
			row_trigger = t;
	}
	if (row_trigger)
	{
		ErrorContextCallback errcb;

		errcb.callback = args_error_context;
		errcb.arg = row_trigger;
		errcb.previous = error_context_stack;
		error_context_stack = &errcb;
		st->exclude = arg_names(row_trigger->tgargs[0]);
		st->mask = arg_names(row_trigger->tgargs[1]);
		error_context_stack = errcb.previous;
	}
	if (!st->audited)
		st->row_problem = problem_of(rel, "apikit_audit", fn);
	if (!st->truncate_audited)
		st->truncate_problem = problem_of(rel, "apikit_audit_truncate", fn);
	relation_close(rel, AccessShareLock);
	return true;
}

/* jsonb building */

static void
put_key(JsonbParseState **js, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(js, WJB_KEY, &k);
}

static void
put_value(JsonbParseState **js, const char *key, JsonbValue *v)
{
	put_key(js, key);
	pushJsonbValue(js, WJB_VALUE, v);
}

static void
put_string(JsonbParseState **js, const char *key, const char *value)
{
	JsonbValue	v = {.type = jbvString};

	v.val.string.val = (char *) value;
	v.val.string.len = strlen(value);
	put_value(js, key, &v);
}

static void
put_bool(JsonbParseState **js, const char *key, bool value)
{
	JsonbValue	v = {.type = jbvBool};

	v.val.boolean = value;
	put_value(js, key, &v);
}

static void
put_int8(JsonbParseState **js, const char *key, int64 value)
{
	JsonbValue	v = {.type = jbvNumeric};

	v.val.numeric = int64_to_numeric(value);
	put_value(js, key, &v);
}

static void
put_names(JsonbParseState **js, const char *key, List *names)
{
	ListCell   *lc;

	put_key(js, key);
	pushJsonbValue(js, WJB_BEGIN_ARRAY, NULL);
	foreach(lc, names)
	{
		JsonbValue	v;

		v.type = jbvString;
		v.val.string.val = lfirst(lc);
		v.val.string.len = strlen(lfirst(lc));
		pushJsonbValue(js, WJB_ELEM, &v);
	}
	pushJsonbValue(js, WJB_END_ARRAY, NULL);
}

static const char *
enabled_word(char tgenabled)
{
	switch (tgenabled)
	{
		case TRIGGER_FIRES_ON_ORIGIN:
			return "enabled";
		case TRIGGER_FIRES_ALWAYS:
			return "always";
		case TRIGGER_FIRES_ON_REPLICA:
			return "replica";
		default:
			return "disabled";
	}
}

static void
put_triggers(JsonbParseState **js, List *triggers)
{
	ListCell   *lc;

	put_key(js, "triggers");
	pushJsonbValue(js, WJB_BEGIN_ARRAY, NULL);
	foreach(lc, triggers)
	{
		TrackTrigger *t = lfirst(lc);

		pushJsonbValue(js, WJB_BEGIN_OBJECT, NULL);
		put_string(js, "name", t->name);
		put_string(js, "function", t->function);
		put_string(js, "enabled", enabled_word(t->enabled));
		put_bool(js, "audits", t->audits);
		pushJsonbValue(js, WJB_END_OBJECT, NULL);
	}
	pushJsonbValue(js, WJB_END_ARRAY, NULL);
}

/* The state keys alone, for comparing with the last row. */
static Jsonb *
state_jsonb(TrackState *st)
{
	JsonbParseState *js = NULL;

	pushJsonbValue(&js, WJB_BEGIN_OBJECT, NULL);
	put_bool(&js, "audited", st->audited);
	put_bool(&js, "truncate_audited", st->truncate_audited);
	put_names(&js, "exclude_columns", st->exclude);
	put_names(&js, "mask_columns", st->mask);
	put_triggers(&js, st->triggers);
	return JsonbValueToJsonb(pushJsonbValue(&js, WJB_END_OBJECT, NULL));
}

static bool
jbv_equal(JsonbValue *a, JsonbValue *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	if (a->type != b->type)
		return false;
	switch (a->type)
	{
		case jbvNull:
			return true;
		case jbvBool:
			return a->val.boolean == b->val.boolean;
		case jbvString:
			return a->val.string.len == b->val.string.len &&
				memcmp(a->val.string.val, b->val.string.val, a->val.string.len) == 0;
		case jbvNumeric:
			return DatumGetBool(DirectFunctionCall2(numeric_eq,
													NumericGetDatum(a->val.numeric),
													NumericGetDatum(b->val.numeric)));
		case jbvBinary:
			return compareJsonbContainers(a->val.binary.data, b->val.binary.data) == 0;
		default:
			return false;
	}
}

static JsonbValue *
get_key(Jsonb *jb, const char *key)
{
	if (jb == NULL || !JB_ROOT_IS_OBJECT(jb))
		return NULL;
	return getKeyJsonValueFromContainer(&jb->root, key, strlen(key), NULL);
}

static bool
get_bool(Jsonb *jb, const char *key)
{
	JsonbValue *v = get_key(jb, key);

	return v && v->type == jbvBool && v->val.boolean;
}

static char *
get_string(Jsonb *jb, const char *key)
{
	JsonbValue *v = get_key(jb, key);

	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static int64
get_int8(Jsonb *jb, const char *key)
{
	JsonbValue *v = get_key(jb, key);

	if (v == NULL || v->type != jbvNumeric)
		return 0;
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric)));
}

/* Reading the log as its owner */

static Oid
log_owner(void)
{
	Oid			nsp = get_namespace_oid("apikit", true);
	Oid			log = OidIsValid(nsp) ? get_relname_relid("audit_log", nsp) : InvalidOid;
	HeapTuple	tup;
	Oid			owner;

	if (!OidIsValid(log))
		return InvalidOid;
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(log));
	if (!HeapTupleIsValid(tup))
		return InvalidOid;
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

static int
spi_as_owner(const char *sql, int nargs, Oid *types, Datum *values, long count)
{
	Oid			owner = log_owner();
	Oid			save_user;
	int			save_sec;
	volatile int rc = 0;

	if (!OidIsValid(owner))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("apikit.audit_log does not exist")));
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, count);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read apikit.audit_log: %s", SPI_result_code_string(rc));
	return SPI_processed;
}

/* The last AUDIT row of a table, written in this database. */
typedef struct Prior
{
	bool		found;
	int64		id;
	char	   *schema_name;
	char	   *table_name;
	Jsonb	   *new_row;
} Prior;

static void
fetch_prior(Oid relid, Prior *p)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	bool		isnull;
	char	   *db;

	memset(p, 0, sizeof(*p));
	if (spi_as_owner("SELECT id, schema_name::pg_catalog.text, table_name::pg_catalog.text, new_row "
					 "FROM apikit.audit_log "
					 "WHERE relid OPERATOR(pg_catalog.=) $1 AND op OPERATOR(pg_catalog.=) 'AUDIT' "
					 "AND row_key IS NULL ORDER BY id DESC LIMIT 1",
					 1, types, values, 1) != 1)
		return;
	p->new_row = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
												  4, &isnull));
	/* Another database's table had this OID; or a dropped one of this database. */
	db = get_string(p->new_row, "database");
	if (db == NULL || strcmp(db, database_id()) != 0)
		return;
	{
		char	   *event = get_string(p->new_row, "event");

		if (event && strcmp(event, "dropped") == 0)
			return;
	}
	p->found = true;
	p->id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	p->schema_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	p->table_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
}

/*
 * A table this database has no row of yet, that has apikit's triggers:
 * created here, or restored.  It continues the history of the table that
 * had its name in another database (the one a dump came from), when that
 * table still had it at the end of that database's log and was not
 * dropped.  A table of this database that had the name before (dropped, or
 * renamed) is another table.  Returns the ID of the row to follow, or 0.
 */
static int64
link_predecessor(const char *schema_name, const char *table_name)
{
	Oid			types[3] = {NAMEOID, NAMEOID, OIDOID};
	Datum		values[3];
	bool		isnull;
	int64		id;
	Oid			relid;
	Jsonb	   *row;
	char	   *db;
	char	   *event;

	values[0] = DirectFunctionCall1(namein, CStringGetDatum(schema_name));
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(table_name));
	if (spi_as_owner("SELECT id, relid, new_row FROM apikit.audit_log "
					 "WHERE schema_name OPERATOR(pg_catalog.=) $1 AND table_name OPERATOR(pg_catalog.=) $2 "
					 "AND op OPERATOR(pg_catalog.=) 'AUDIT' ORDER BY id DESC LIMIT 1",
					 2, types, values, 1) != 1)
		return 0;
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	row = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	db = get_string(row, "database");
	event = get_string(row, "event");
	if (db == NULL || strcmp(db, database_id()) == 0 ||
		(event && strcmp(event, "dropped") == 0))
		return 0;

	/* Its table's last row in its database: the name must still be its own. */
	types[0] = OIDOID;
	types[1] = TEXTOID;
	values[0] = ObjectIdGetDatum(relid);
	values[1] = CStringGetTextDatum(db);
	if (spi_as_owner("SELECT id FROM apikit.audit_log "
					 "WHERE relid OPERATOR(pg_catalog.=) $1 AND op OPERATOR(pg_catalog.=) 'AUDIT' "
					 "AND row_key IS NULL "
					 "AND (new_row OPERATOR(pg_catalog.->>) 'database') OPERATOR(pg_catalog.=) $2 "
					 "ORDER BY id DESC LIMIT 1",
					 2, types, values, 1) != 1)
		return 0;
	if (DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) != id)
		return 0;
	return id;
}

/*
 * The event of a change from the last row to now, and for a stop outside
 * apikit, why.
 */
static const char *
event_of(TrackState *st, Prior *p, const char *by, TrackHint hint, bool names_changed,
		 bool lists_changed, const char **reason)
{
	bool		was_audited,
				was_truncate_audited;

	*reason = NULL;
	if (!st->exists)
		return "dropped";
	if (!p->found)
		return (st->audited || st->truncate_audited) ? "enabled" : "changed";
	was_audited = get_bool(p->new_row, "audited");
	was_truncate_audited = get_bool(p->new_row, "truncate_audited");
	if ((was_audited && !st->audited) || (was_truncate_audited && !st->truncate_audited))
	{
		if (by && strcmp(by, BY_DISABLE) == 0)
			return "disabled";
		if (hint == HINT_DETACHED)
			return "detached";
		*reason = (was_audited && !st->audited) ? st->row_problem : st->truncate_problem;
		return "stopped";
	}
	if ((!was_audited && st->audited) || (!was_truncate_audited && st->truncate_audited))
		return hint == HINT_ATTACHED ? "attached" : "enabled";
	if (names_changed)
		return "renamed";
	if (lists_changed)
		return "configured";
	return "changed";
}

/*
 * Compare a table's auditing with the log's last row about it, and write a
 * row when they differ.
 */
static void
track_table(Touched *t, const char *by)
{
	TrackState	st;
	Prior		prior;
	Jsonb	   *state;
	bool		names_changed = false;
	bool		lists_changed = false;
	List	   *changed = NIL;
	JsonbParseState *oldjs = NULL;
	JsonbParseState *js = NULL;
	Jsonb	   *old_row = NULL;
	Jsonb	   *new_row;
	const char *event;
	const char *reason;
	int64		since = 0;
	int64		follows = 0;
	ArrayType  *changed_arr = NULL;

	if (!compute_state(t->relid, &st))
		return;
	if (!st.exists)
	{
		if (!t->dropped)
			return;				/* dropped by a later command of the same statement */
		st.schema_name = t->schema_name;
		st.table_name = t->table_name;
	}
	/* A new table without apikit's triggers has nothing to say. */
	if (st.exists && st.triggers == NIL && strcmp(t->command, "CREATE TABLE") == 0)
		return;

	fetch_prior(t->relid, &prior);
	if (!prior.found && st.triggers == NIL)
		return;					/* never tracked, nothing to track */
	state = state_jsonb(&st);

	pushJsonbValue(&oldjs, WJB_BEGIN_OBJECT, NULL);
	if (prior.found)
	{
		for (int i = 0; i < (int) lengthof(state_keys); i++)
		{
			JsonbValue *was = get_key(prior.new_row, state_keys[i]);

			if (jbv_equal(was, get_key(state, state_keys[i])))
				continue;
			changed = lappend(changed, (char *) state_keys[i]);
			if (i == 2 || i == 3)
				lists_changed = true;
			put_key(&oldjs, state_keys[i]);
			if (was)
				pushJsonbValue(&oldjs, WJB_VALUE, was);
			else
			{
				JsonbValue	null = {.type = jbvNull};

				pushJsonbValue(&oldjs, WJB_VALUE, &null);
			}
		}
		if (strcmp(prior.schema_name, st.schema_name) != 0)
		{
			changed = lappend(changed, "schema_name");
			put_string(&oldjs, "schema_name", prior.schema_name);
		}
		if (strcmp(prior.table_name, st.table_name) != 0)
		{
			changed = lappend(changed, "table_name");
			put_string(&oldjs, "table_name", prior.table_name);
		}
		names_changed = strcmp(prior.schema_name, st.schema_name) != 0 ||
			strcmp(prior.table_name, st.table_name) != 0;
		if (changed == NIL && st.exists)
			return;				/* nothing changed */
		since = get_int8(prior.new_row, "since");
		if (since == 0)
			since = prior.id;
		follows = get_int8(prior.new_row, "follows");
		old_row = JsonbValueToJsonb(pushJsonbValue(&oldjs, WJB_END_OBJECT, NULL));
	}
	else if (st.exists)
		follows = link_predecessor(st.schema_name, st.table_name);

	event = event_of(&st, &prior, by, t->hint, names_changed, lists_changed, &reason);

	pushJsonbValue(&js, WJB_BEGIN_OBJECT, NULL);
	put_string(&js, "event", event);
	if (reason)
		put_string(&js, "reason", reason);
	if (by)
		put_string(&js, "by", by);
	put_string(&js, "command", t->command);
	put_bool(&js, "audited", st.audited);
	put_bool(&js, "truncate_audited", st.truncate_audited);
	put_names(&js, "exclude_columns", st.exclude);
	put_names(&js, "mask_columns", st.mask);
	put_triggers(&js, st.triggers);
	put_string(&js, "database", database_id());
	if (since)
		put_int8(&js, "since", since);
	if (follows)
		put_int8(&js, "follows", follows);
	new_row = JsonbValueToJsonb(pushJsonbValue(&js, WJB_END_OBJECT, NULL));

	if (changed != NIL)
	{
		Datum	   *elems = palloc(sizeof(Datum) * list_length(changed));
		int			n = 0;
		ListCell   *lc;

		foreach(lc, changed)
			elems[n++] = CStringGetTextDatum(lfirst(lc));
		changed_arr = construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT);
	}
	(void) apikit_audit_write_event(t->relid, st.schema_name, st.table_name,
									old_row, new_row, changed_arr);
}

/* Which tables a command touched */

static Touched *
find_touched(List *touched, Oid relid)
{
	ListCell   *lc;

	foreach(lc, touched)
	{
		Touched    *t = lfirst(lc);

		if (t->relid == relid)
			return t;
	}
	return NULL;
}

static List *
add_touched(List *touched, Oid relid, TrackHint hint, const char *command)
{
	Touched    *t = find_touched(touched, relid);

	if (t)
	{
		if (hint != HINT_NONE)
			t->hint = hint;
		return touched;
	}
	t = palloc0(sizeof(Touched));
	t->relid = relid;
	t->hint = hint;
	t->command = pstrdup(command);
	return lappend(touched, t);
}

/* A table and, when the command recursed, those below it. */
static List *
add_tree(List *touched, Oid relid, const char *command)
{
	ListCell   *lc;

	if (get_rel_relkind(relid) == '\0')
		return touched;
	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
		touched = add_touched(touched, lfirst_oid(lc), HINT_NONE, command);
	return touched;
}

static Oid
trigger_relid(Oid tgoid)
{
	Relation	tgrel = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			relid = InvalidOid;

	ScanKeyInit(&key, Anum_pg_trigger_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(tgoid));
	scan = systable_beginscan(tgrel, TriggerOidIndexId, true, NULL, 1, &key);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
		relid = ((Form_pg_trigger) GETSTRUCT(tup))->tgrelid;
	systable_endscan(scan);
	table_close(tgrel, AccessShareLock);
	return relid;
}

/*
 * The lists of apikit's triggers on a table and those below it, after a
 * column was renamed (new_name set) or dropped: each trigger's arguments
 * are rewritten in pg_trigger where a listed column no longer exists under
 * its old name.  The trigger keeps everything else, its enabled state
 * included (CREATE OR REPLACE TRIGGER would reset that).
 */
static void
rewrite_lists(Oid relid, const char *old_name, const char *new_name)
{
	Oid			fn = audit_function_oid();
	Relation	tgrel;
	ListCell   *lc;
	bool		any = false;

	if (!OidIsValid(fn) || get_rel_relkind(relid) == '\0')
		return;
	tgrel = table_open(TriggerRelationId, RowExclusiveLock);
	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
	{
		Oid			child = lfirst_oid(lc);
		ScanKeyData key;
		SysScanDesc scan;
		HeapTuple	tup;
		bool		changed_here = false;

		/* Still there under the old name (a column of its own): nothing to do. */
		if (get_attnum(child, old_name) != InvalidAttrNumber)
			continue;
		if (new_name && get_attnum(child, new_name) == InvalidAttrNumber)
			continue;

		ScanKeyInit(&key, Anum_pg_trigger_tgrelid, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(child));
		scan = systable_beginscan(tgrel, TriggerRelidNameIndexId, true, NULL, 1, &key);
		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			Form_pg_trigger tg = (Form_pg_trigger) GETSTRUCT(tup);
			bool		isnull;
			bytea	   *raw;
			char	   *args[2];
			const char *p;
			bool		changed = false;
			StringInfoData buf;
			Datum		values[Natts_pg_trigger] = {0};
			bool		nulls[Natts_pg_trigger] = {0};
			bool		replace[Natts_pg_trigger] = {0};
			HeapTuple	newtup;

			if (tg->tgfoid != fn || tg->tgnargs != 2)
				continue;
			raw = DatumGetByteaPP(heap_getattr(tup, Anum_pg_trigger_tgargs,
											   RelationGetDescr(tgrel), &isnull));
			if (isnull)
				continue;
			p = VARDATA_ANY(raw);
			args[0] = pnstrdup(p, strnlen(p, VARSIZE_ANY_EXHDR(raw)));
			p += strlen(args[0]) + 1;
			if (p >= VARDATA_ANY(raw) + VARSIZE_ANY_EXHDR(raw))
				continue;
			args[1] = pnstrdup(p, strnlen(p, VARDATA_ANY(raw) + VARSIZE_ANY_EXHDR(raw) - p));

			for (int a = 0; a < 2; a++)
			{
				List	   *names = arg_names(args[a]);
				List	   *kept = NIL;
				ListCell   *nc;
				bool		hit = false;

				foreach(nc, names)
				{
					if (strcmp(lfirst(nc), old_name) != 0)
						kept = lappend(kept, lfirst(nc));
					else
					{
						hit = true;
						if (new_name)
							kept = lappend(kept, pstrdup(new_name));
					}
				}
				if (hit)
				{
					args[a] = names_arg(kept);
					changed = true;
				}
			}
			if (!changed)
				continue;

			initStringInfo(&buf);
			appendBinaryStringInfo(&buf, args[0], strlen(args[0]) + 1);
			appendBinaryStringInfo(&buf, args[1], strlen(args[1]) + 1);
			{
				bytea	   *b = palloc(VARHDRSZ + buf.len);

				SET_VARSIZE(b, VARHDRSZ + buf.len);
				memcpy(VARDATA(b), buf.data, buf.len);
				values[Anum_pg_trigger_tgargs - 1] = PointerGetDatum(b);
			}
			replace[Anum_pg_trigger_tgargs - 1] = true;
			newtup = heap_modify_tuple(tup, RelationGetDescr(tgrel), values, nulls, replace);
			CatalogTupleUpdate(tgrel, &newtup->t_self, newtup);
			heap_freetuple(newtup);
			changed_here = true;
		}
		systable_endscan(scan);
		if (changed_here)
		{
			CacheInvalidateRelcacheByRelid(child);
			any = true;
		}
	}
	table_close(tgrel, RowExclusiveLock);
	if (any)
		CommandCounterIncrement();
}

/* Tables of a schema that are or were audited. */
static List *
add_schema_tables(List *touched, Oid nspid, const char *command)
{
	Oid			types[2] = {OIDOID, OIDOID};
	Datum		values[2] = {ObjectIdGetDatum(nspid), ObjectIdGetDatum(audit_function_oid())};
	int			n;
	List	   *oids = NIL;
	ListCell   *lc;

	n = spi_as_owner("SELECT c.oid FROM pg_catalog.pg_class c "
					 "WHERE c.relnamespace OPERATOR(pg_catalog.=) $1 "
					 "AND c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p,f}'::pg_catalog.\"char\"[]) "
					 "AND (EXISTS (SELECT FROM pg_catalog.pg_trigger t "
					 "             WHERE t.tgrelid OPERATOR(pg_catalog.=) c.oid "
					 "               AND (t.tgfoid OPERATOR(pg_catalog.=) $2 "
					 "                    OR t.tgname OPERATOR(pg_catalog.=) ANY "
					 "                       ('{apikit_audit,apikit_audit_truncate}'::pg_catalog.name[]))) "
					 "     OR EXISTS (SELECT FROM apikit.audit_log l "
					 "                WHERE l.relid OPERATOR(pg_catalog.=) c.oid "
					 "                  AND l.op OPERATOR(pg_catalog.=) 'AUDIT' AND l.row_key IS NULL))",
					 2, types, values, 0);
	for (int i = 0; i < n; i++)
	{
		bool		isnull;

		oids = lappend_oid(oids, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																SPI_tuptable->tupdesc, 1, &isnull)));
	}
	foreach(lc, oids)
		touched = add_touched(touched, lfirst_oid(lc), HINT_NONE, command);
	return touched;
}

/*
 * The partition an ATTACH or DETACH PARTITION names.  PostgreSQL 15 does not
 * report its address; the name is looked up as the command looked it up,
 * with the same search_path, before apikit_audit_track() pins its own.
 */
static Oid
partition_of(CollectedATSubcmd *sub)
{
	AlterTableCmd *atc = (AlterTableCmd *) sub->parsetree;

	if (sub->address.classId == RelationRelationId && OidIsValid(sub->address.objectId))
		return sub->address.objectId;
	if (atc->def == NULL || !IsA(atc->def, PartitionCmd))
		return InvalidOid;
	return RangeVarGetRelid(((PartitionCmd *) atc->def)->name, NoLock, true);
}

static List *
touched_by_commands(List **schemas)
{
	List	   *touched = NIL;
	int			n;
	SPITupleTable *tab;

	if (SPI_execute("SELECT command, command_tag FROM pg_catalog.pg_event_trigger_ddl_commands()",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_event_trigger_ddl_commands()");
	n = SPI_processed;
	tab = SPI_tuptable;
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		CollectedCommand *cmd = (CollectedCommand *)
			DatumGetPointer(SPI_getbinval(tab->vals[i], tab->tupdesc, 1, &isnull));
		char	   *tag = SPI_getvalue(tab->vals[i], tab->tupdesc, 2);

		if (isnull || cmd == NULL)
			continue;
		if (cmd->type == SCT_Simple)
		{
			ObjectAddress addr = cmd->d.simple.address;

			if (addr.classId == RelationRelationId)
			{
				if (cmd->parsetree && IsA(cmd->parsetree, RenameStmt) &&
					((RenameStmt *) cmd->parsetree)->renameType == OBJECT_COLUMN)
				{
					RenameStmt *stmt = (RenameStmt *) cmd->parsetree;

					rewrite_lists(addr.objectId, stmt->subname, stmt->newname);
				}
				touched = add_tree(touched, addr.objectId, tag);
			}
			else if (addr.classId == TriggerRelationId)
			{
				Oid			relid = trigger_relid(addr.objectId);

				if (OidIsValid(relid))
					touched = add_tree(touched, relid, tag);
			}
			else if (addr.classId == NamespaceRelationId)
				*schemas = lappend_oid(*schemas, addr.objectId);
		}
		else if (cmd->type == SCT_AlterTable &&
				 cmd->d.alterTable.classId == RelationRelationId)
		{
			ListCell   *lc;

			touched = add_tree(touched, cmd->d.alterTable.objectId, tag);
			foreach(lc, cmd->d.alterTable.subcmds)
			{
				CollectedATSubcmd *sub = lfirst(lc);
				AlterTableCmd *atc = (AlterTableCmd *) sub->parsetree;
				Oid			part;

				if (atc == NULL || !IsA(atc, AlterTableCmd) ||
					(atc->subtype != AT_AttachPartition &&
					 atc->subtype != AT_DetachPartition &&
					 atc->subtype != AT_DetachPartitionFinalize) ||
					!OidIsValid(part = partition_of(sub)))
					continue;
				touched = add_tree(touched, part, tag);
				touched = add_touched(touched, part,
									  atc->subtype == AT_AttachPartition ?
									  HINT_ATTACHED : HINT_DETACHED, tag);
			}
		}
	}
	return touched;
}

static List *
touched_by_drops(const char *tag)
{
	List	   *touched = NIL;
	int			n;
	SPITupleTable *tab;

	if (SPI_execute("SELECT classid, objid, objsubid, object_type, schema_name, object_name, "
					"address_names FROM pg_catalog.pg_event_trigger_dropped_objects() "
					"WHERE NOT is_temporary", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_event_trigger_dropped_objects()");
	n = SPI_processed;
	tab = SPI_tuptable;
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		Oid			classid = DatumGetObjectId(SPI_getbinval(tab->vals[i], tab->tupdesc, 1, &isnull));
		Oid			objid = DatumGetObjectId(SPI_getbinval(tab->vals[i], tab->tupdesc, 2, &isnull));
		int32		objsubid = DatumGetInt32(SPI_getbinval(tab->vals[i], tab->tupdesc, 3, &isnull));
		char	   *type = SPI_getvalue(tab->vals[i], tab->tupdesc, 4);
		Datum		names_d = SPI_getbinval(tab->vals[i], tab->tupdesc, 7, &isnull);
		Datum	   *names = NULL;
		int			nnames = 0;

		if (!isnull)
			deconstruct_array(DatumGetArrayTypeP(names_d), TEXTOID, -1, false, TYPALIGN_INT,
							  &names, NULL, &nnames);

		if (classid == RelationRelationId && objsubid == 0 &&
			(strcmp(type, "table") == 0 || strcmp(type, "foreign table") == 0))
		{
			Touched    *t;

			touched = add_touched(touched, objid, HINT_NONE, tag);
			t = find_touched(touched, objid);
			t->dropped = true;
			t->schema_name = SPI_getvalue(tab->vals[i], tab->tupdesc, 5);
			t->table_name = SPI_getvalue(tab->vals[i], tab->tupdesc, 6);
		}
		else if (classid == RelationRelationId && objsubid > 0 && nnames == 3)
		{
			/* A column: the lists forget it, in the table and those below. */
			rewrite_lists(objid, TextDatumGetCString(names[2]), NULL);
			touched = add_tree(touched, objid, tag);
		}
		else if (classid == TriggerRelationId && nnames == 3)
		{
			Oid			nsp = get_namespace_oid(TextDatumGetCString(names[0]), true);
			Oid			relid = OidIsValid(nsp) ?
				get_relname_relid(TextDatumGetCString(names[1]), nsp) : InvalidOid;

			if (OidIsValid(relid))
				touched = add_tree(touched, relid, tag);
		}
	}
	return touched;
}

/*
 * apikit.audit_track(): the event trigger, on ddl_command_end and sql_drop.
 */
Datum
apikit_audit_track(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	List	   *touched;
	List	   *schemas = NIL;
	ListCell   *lc;
	const char *tag;
	int			save_nestlevel;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("apikit.audit_track() can only be called as an event trigger")));
	trigdata = (EventTriggerData *) fcinfo->context;

	/* While the extension is being dropped or created, there is no log to write. */
	if (!OidIsValid(log_owner()) || !OidIsValid(audit_function_oid()))
		PG_RETURN_VOID();

	/* The command's own catalog changes must be visible to the look-ups. */
	CommandCounterIncrement();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	tag = GetCommandTagName(trigdata->tag);
	if (strcmp(trigdata->event, "sql_drop") == 0)
		touched = touched_by_drops(tag);
	else
		touched = touched_by_commands(&schemas);

	/* From here on, the look-ups are apikit's own: search_path is pinned. */
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	foreach(lc, schemas)
		touched = add_schema_tables(touched, lfirst_oid(lc), tag);

	foreach(lc, touched)
	{
		Touched    *t = lfirst(lc);

		if (api.depth > 0 && list_member_oid(api.tree, t->relid))
		{
			MemoryContext old = MemoryContextSwitchTo(api.cxt);
			Touched    *copy = find_touched(api.touched, t->relid);

			if (copy == NULL)
			{
				copy = palloc(sizeof(Touched));
				*copy = *t;
				copy->command = pstrdup(t->command);
				if (t->schema_name)
					copy->schema_name = pstrdup(t->schema_name);
				if (t->table_name)
					copy->table_name = pstrdup(t->table_name);
				api.touched = lappend(api.touched, copy);
			}
			MemoryContextSwitchTo(old);
			continue;
		}
		track_table(t, NULL);
	}
	AtEOXact_GUC(true, save_nestlevel);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * apikit.audit_enable() and apikit.audit_disable(): run the SQL half with
 * the event trigger holding back its rows for the table, then write them,
 * marked as this function's.
 */
static Datum
run_api(FunctionCallInfo fcinfo, const char *by, const char *impl)
{
	Oid			argtypes[3] = {REGCLASSOID, TEXTARRAYOID, TEXTARRAYOID};
	int			nargs = PG_NARGS();
	Oid			fn;
	FmgrInfo	flinfo;
	LOCAL_FCINFO(call, 3);
	List	   *touched;
	ListCell   *lc;
	int			saved_depth = api.depth;
	const char *saved_by = api.by;
	List	   *saved_tree = api.tree;
	List	   *saved_touched = api.touched;
	MemoryContext saved_cxt = api.cxt;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("rel must not be null")));
	fn = LookupFuncName(list_make2(makeString("apikit"), makeString((char *) impl)),
						nargs, argtypes, false);
	fmgr_info(fn, &flinfo);
	InitFunctionCallInfoData(*call, &flinfo, nargs, InvalidOid, NULL, NULL);
	for (int i = 0; i < nargs; i++)
	{
		call->args[i].value = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		call->args[i].isnull = PG_ARGISNULL(i);
	}

	api.depth++;
	api.by = by;
	api.cxt = CurrentMemoryContext;
	api.tree = get_rel_relkind(PG_GETARG_OID(0)) != '\0' ?
		find_all_inheritors(PG_GETARG_OID(0), NoLock, NULL) : NIL;
	api.touched = NIL;
	PG_TRY();
	{
		(void) FunctionCallInvoke(call);
	}
	PG_FINALLY();
	{
		touched = api.touched;
		api.depth = saved_depth;
		api.by = saved_by;
		api.tree = saved_tree;
		api.touched = saved_touched;
		api.cxt = saved_cxt;
	}
	PG_END_TRY();

	if (touched != NIL)
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		foreach(lc, touched)
			track_table(lfirst(lc), by);
		SPI_finish();
	}
	PG_RETURN_VOID();
}

Datum
apikit_audit_enable(PG_FUNCTION_ARGS)
{
	return run_api(fcinfo, BY_ENABLE, "audit_apply_enable");
}

Datum
apikit_audit_disable(PG_FUNCTION_ARGS)
{
	return run_api(fcinfo, BY_DISABLE, "audit_apply_disable");
}
