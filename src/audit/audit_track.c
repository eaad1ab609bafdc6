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
 * a WHEN clause, DROP FUNCTION ... CASCADE) counts the same.  DDL that
 * changes stored values without firing the row trigger (ALTER COLUMN ...
 * TYPE, ADD COLUMN with a default, DROP COLUMN, SET EXPRESSION) is a row
 * too, "rewritten", naming the columns and how.
 *
 * The state also holds "intended": the lists as last set with
 * apikit.audit_enable(), followed through column renames and drops.  A
 * trigger replaced by hand with weaker lists shows as lists weaker than
 * intended, which audit_verify() reports, and audit_enable() without lists
 * restores the intended ones.
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
 * other tables; so every row records the ID of the log it was written in
 * (apikit.audit_origin: random, made by CREATE EXTENSION, kept by
 * pg_upgrade and template copies, new after a restore), and the first row
 * of a restored table "follows" the last row of the table that had its
 * name in the dumped database (apikit.audit_predecessor()).  Every later
 * row repeats the ID of its run's first row ("since") and the link, so
 * that apikit.audit_lineage() walks a table's history through renames and
 * restores without mistaking a new table that took an old name for the old
 * table.
 *
 * When a table's first row is written.  A restore creates the triggers of
 * its tables while the log's rows and its sequence may still be loading (a
 * parallel pg_restore does both at once): a row written then would take an
 * ID the dump's rows still need, and could not find the row it follows.
 * So a table with no row in this log (never tracked here) gets one from
 * DDL only when the log is complete -- its sequence has been used and it
 * has rows -- and only when the table is audited by then (a table that
 * never was audited here has nothing to stop); otherwise its first write
 * writes it (apikit_audit_first_write(), from the row trigger), before the
 * row change, when the restore is over.  A table's last row is never lost
 * to audit_purge(): it is written again first (apikit.audit_carry()).
 *
 * Locking and snapshots.  Two commands that change one table's auditing
 * must not both compare with the same last row: a table that is to get a
 * row is locked (ShareUpdateExclusiveLock: DDL that changes triggers
 * conflicts with it, writers do not) and its last row read again before
 * the row is written; the tables that did not change are not locked.  The
 * log is read with the latest snapshot, not the transaction's: a
 * REPEATABLE READ transaction begun before another session enabled
 * auditing must still see that row.  A first write takes no lock (writers never wait for each
 * other): two at once may both write a table's first row, and the run
 * starts at the earlier.
 *
 * Reading the log needs its owner's privileges, which the user running the
 * DDL does not have: those queries run as the owner of apikit.audit_log,
 * with search_path pinned and every function, operator and cast qualified.
 * (The event trigger pins search_path itself, after looking up the names in
 * the command as the command did: see partition_of().)  The row itself is
 * written as the user, so that db_user says who ran the command.
 * Temporary tables are never tracked: any role can create one.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "parser/parse_func.h"
#include "storage/lmgr.h"
#include "tcop/deparse_utility.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "audit.h"

PG_FUNCTION_INFO_V1(apikit_audit_track);
PG_FUNCTION_INFO_V1(apikit_audit_enable);
PG_FUNCTION_INFO_V1(apikit_audit_disable);
PG_FUNCTION_INFO_V1(apikit_audit_carry);

#define BY_ENABLE	"apikit.audit_enable"
#define BY_DISABLE	"apikit.audit_disable"
#define BY_PURGE	"apikit.audit_purge"

/* The lock a table is held in while its last row is read and a new written. */
#define TRACK_LOCK	ShareUpdateExclusiveLock

/* What the command said about a table beyond its state. */
typedef enum TrackHint
{
	HINT_NONE,
	HINT_ATTACHED,
	HINT_DETACHED
} TrackHint;

/* Why a table's state is being written. */
typedef enum TrackMode
{
	TRACK_DDL,					/* a command, or audit_enable/audit_disable */
	TRACK_FIRST_WRITE,			/* the row trigger, before a table's first row */
	TRACK_CARRY					/* audit_purge, before the last row goes */
} TrackMode;

/* A column renamed by the command: the lists follow it. */
typedef struct ColumnRename
{
	char	   *old_name;
	char	   *new_name;
} ColumnRename;

/* A column whose stored values the command changed. */
typedef struct Rewrite
{
	char	   *column;
	const char *change;			/* "type", "added", "dropped", "expression" */
	char	   *type;			/* the column's type now */
	const char *expr_key;		/* "using", "default", "generated", "identity" */
	char	   *expr;
} Rewrite;

/* The last AUDIT row of a table, written in this database. */
typedef struct Prior
{
	bool		found;			/* of this database, and not "dropped" */
	bool		any;			/* any AUDIT row has the table's OID */
	int64		id;
	char	   *schema_name;
	char	   *table_name;
	Jsonb	   *new_row;
} Prior;

/* A table a command touched. */
typedef struct Touched
{
	Oid			relid;			/* hash key */
	TrackHint	hint;
	char	   *command;		/* the command tag */
	bool		dropped;		/* the table itself was dropped */
	char	   *schema_name;	/* of a dropped table */
	char	   *table_name;
	char	   *old_schema_name;	/* before this command renamed it */
	char	   *old_table_name;
	List	   *renames;		/* ColumnRename * */
	List	   *drops;			/* names of columns dropped */
	List	   *rewrites;		/* Rewrite * */
	bool		relevant;		/* has apikit's triggers, or rows in the log */
	Prior		prior;
} Touched;

/* Tables touched, once each, in the order met. */
typedef struct TouchedSet
{
	HTAB	   *hash;
	List	   *list;
	MemoryContext cxt;
} TouchedSet;

/* apikit.audit_enable() or audit_disable() running. */
static struct
{
	int			depth;
	const char *by;
	List	   *tree;			/* OIDs of the table and those below it */
	TouchedSet *held;			/* held back, written after the call */
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
	bool		has_truncate;	/* can have TRUNCATE triggers (not a foreign table) */
	char	   *schema_name;
	char	   *table_name;
	List	   *exclude;		/* column names, sorted */
	List	   *mask;
	List	   *intended_exclude;	/* as last set with audit_enable */
	List	   *intended_mask;
	List	   *triggers;		/* TrackTrigger *: apikit's, and those named like them */
	const char *row_problem;	/* why INSERT, UPDATE, DELETE are not logged */
	const char *truncate_problem;
} TrackState;

/* What one run of the event trigger (or API call) knows about the log. */
typedef struct TrackContext
{
	char	   *database;		/* apikit.audit_origin's ID */
	int			complete;		/* the log is loaded: -1 not known yet */
} TrackContext;

/* The keys of new_row that hold the state, compared with the last row. */
static const char *const state_keys[] = {
	"audited", "truncate_audited", "exclude_columns", "mask_columns", "intended", "triggers"
};

static bool track_table(Touched *t, const char *by, TrackMode mode, TrackContext *ctx,
						bool dry);

static Oid
audit_function_oid(void)
{
	return LookupFuncName(list_make2(makeString("apikit"), makeString("audit_trigger")),
						  0, NULL, true);
}

/*
 * A trigger function as the state shows it: schema and name, never quoted
 * (format_procedure_qualified() follows quote_all_identifiers, which any
 * role may set: the same trigger would look changed).  Trigger functions
 * take no arguments.
 */
static char *
function_name(Oid fn)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	char	   *result;

	if (!HeapTupleIsValid(tup))
		return psprintf("%u", fn);
	result = psprintf("%s.%s()",
					  get_namespace_name(((Form_pg_proc) GETSTRUCT(tup))->pronamespace),
					  NameStr(((Form_pg_proc) GETSTRUCT(tup))->proname));
	ReleaseSysCache(tup);
	return result;
}

static bool
is_relevant(Trigger *t, Oid fn)
{
	return t->tgfoid == fn || strcmp(t->tgname, "apikit_audit") == 0 ||
		strcmp(t->tgname, "apikit_audit_truncate") == 0;
}

/*
 * Does the trigger log every INSERT, UPDATE and DELETE?  Only under its
 * name: apikit.audit_trigger() refuses to run under any other (see
 * audit_trigger.c).
 */
static bool
audits_rows(Trigger *t, Oid fn)
{
	return t->tgfoid == fn && strcmp(t->tgname, "apikit_audit") == 0 &&
		TRIGGER_FOR_ROW(t->tgtype) && TRIGGER_FOR_AFTER(t->tgtype) &&
		TRIGGER_FOR_INSERT(t->tgtype) && TRIGGER_FOR_UPDATE(t->tgtype) &&
		TRIGGER_FOR_DELETE(t->tgtype) && t->tgqual == NULL && t->tgnattr == 0 &&
		(t->tgnargs == 0 || t->tgnargs == 2) &&
		(t->tgenabled == TRIGGER_FIRES_ON_ORIGIN || t->tgenabled == TRIGGER_FIRES_ALWAYS);
}

static bool
audits_truncate(Trigger *t, Oid fn)
{
	return t->tgfoid == fn && strcmp(t->tgname, "apikit_audit_truncate") == 0 &&
		!TRIGGER_FOR_ROW(t->tgtype) && TRIGGER_FOR_AFTER(t->tgtype) &&
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
							name, function_name(t->tgfoid));
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

static bool
name_member(List *names, const char *name)
{
	ListCell   *lc;

	foreach(lc, names)
		if (strcmp(lfirst(lc), name) == 0)
			return true;
	return false;
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

static ArrayType *
names_array(List *names)
{
	Datum	   *elems = palloc(sizeof(Datum) * (list_length(names) + 1));
	int			n = 0;
	ListCell   *lc;

	foreach(lc, names)
		elems[n++] = CStringGetTextDatum(lfirst(lc));
	return construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT);
}

static char *
names_arg(List *names)
{
	list_sort(names, name_cmp);
	return OidOutputFunctionCall(F_ARRAY_OUT, PointerGetDatum(names_array(names)));
}

/* The names with renames and drops applied, sorted. */
static List *
names_followed(List *names, List *renames, List *drops)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, names)
	{
		char	   *name = lfirst(lc);
		ListCell   *rc;

		foreach(rc, renames)
		{
			ColumnRename *r = lfirst(rc);

			if (strcmp(r->old_name, name) == 0)
			{
				name = r->new_name;
				break;
			}
		}
		if (!name_member(drops, name) && !name_member(result, name))
			result = lappend(result, pstrdup(name));
	}
	list_sort(result, name_cmp);
	return result;
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
 * The table's auditing now (all but the intended lists).  False for what is
 * never tracked: temporary tables, and relations that cannot be audited.
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
	st->has_truncate = rel->rd_rel->relkind != RELKIND_FOREIGN_TABLE;
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
		tt->function = function_name(t->tgfoid);
		tt->enabled = t->tgenabled;
		tt->audits = audits_rows(t, fn) || audits_truncate(t, fn);
		st->triggers = lappend(st->triggers, tt);

		if (audits_rows(t, fn))
			st->audited = true;
		if (audits_truncate(t, fn))
			st->truncate_audited = true;
		/* The lists: those of apikit_audit, the only trigger that logs rows. */
		if (t->tgfoid == fn && t->tgnargs == 2 && TRIGGER_FOR_ROW(t->tgtype) &&
			strcmp(t->tgname, "apikit_audit") == 0)
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

static void
put_intended(JsonbParseState **js, TrackState *st)
{
	put_key(js, "intended");
	pushJsonbValue(js, WJB_BEGIN_OBJECT, NULL);
	put_names(js, "exclude_columns", st->intended_exclude);
	put_names(js, "mask_columns", st->intended_mask);
	pushJsonbValue(js, WJB_END_OBJECT, NULL);
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

static void
put_rewrites(JsonbParseState **js, List *rewrites)
{
	ListCell   *lc;

	put_key(js, "rewritten");
	pushJsonbValue(js, WJB_BEGIN_ARRAY, NULL);
	foreach(lc, rewrites)
	{
		Rewrite    *w = lfirst(lc);

		pushJsonbValue(js, WJB_BEGIN_OBJECT, NULL);
		put_string(js, "column", w->column);
		put_string(js, "change", w->change);
		if (w->type)
			put_string(js, "type", w->type);
		if (w->expr_key && w->expr)
			put_string(js, w->expr_key, w->expr);
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
	put_intended(&js, st);
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

/* The strings of a jsonb array (in a container), sorted. */
static List *
container_names(JsonbValue *v)
{
	List	   *names = NIL;
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;

	if (v == NULL || v->type != jbvBinary)
		return NIL;
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
		if (tok == WJB_ELEM && e.type == jbvString)
			names = lappend(names, pnstrdup(e.val.string.val, e.val.string.len));
	list_sort(names, name_cmp);
	return names;
}

/* The intended lists of a row (its lists, if it has none). */
static void
row_intended(Jsonb *row, List **exclude, List **mask)
{
	JsonbValue *v = get_key(row, "intended");

	if (v && v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data))
	{
		*exclude = container_names(getKeyJsonValueFromContainer(v->val.binary.data,
																"exclude_columns", 15, NULL));
		*mask = container_names(getKeyJsonValueFromContainer(v->val.binary.data,
															 "mask_columns", 12, NULL));
	}
	else
	{
		*exclude = container_names(get_key(row, "exclude_columns"));
		*mask = container_names(get_key(row, "mask_columns"));
	}
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

/*
 * A query as the log's owner, with the latest snapshot (see the file
 * header); the caller has pinned search_path.  Returns the rows found, in
 * SPI_tuptable.
 */
static uint64
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
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

		if (plan == NULL)
			elog(ERROR, "could not prepare a query of apikit.audit_log: %s",
				 SPI_result_code_string(SPI_result));
		rc = SPI_execute_snapshot(plan, values, NULL, GetLatestSnapshot(), InvalidSnapshot,
								  true, false, count);
		SPI_freeplan(plan);
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

/* The ID of this database's log (apikit.audit_origin). */
static char *
database_id(void)
{
	if (spi_as_owner("SELECT database_id FROM apikit.audit_origin", 0, NULL, NULL, 2) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("apikit.audit_origin must hold exactly one row"),
				 errdetail("It holds the ID of this database's audit log, which CREATE EXTENSION apikit makes."),
				 errhint("Insert one: INSERT INTO apikit.audit_origin (database_id) VALUES (gen_random_uuid()::text).")));
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

static void
context_init(TrackContext *ctx)
{
	ctx->database = database_id();
	ctx->complete = -1;
}

/*
 * Is the log loaded?  Its sequence has handed out an ID and it has rows.
 * While a restore runs, the log's rows and the sequence's position come in
 * as data, possibly after the triggers of the restored tables.
 */
static bool
log_complete(TrackContext *ctx)
{
	if (ctx->complete < 0)
	{
		bool		isnull;

		if (spi_as_owner("SELECT s.is_called AND EXISTS (SELECT FROM apikit.audit_log) "
						 "FROM apikit.audit_log_id_seq s", 0, NULL, NULL, 1) != 1)
			elog(ERROR, "could not read apikit.audit_log_id_seq");
		ctx->complete = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
												   1, &isnull)) ? 1 : 0;
	}
	return ctx->complete == 1;
}

static Datum
oid_array(Oid *oids, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * (n + 1));

	for (int i = 0; i < n; i++)
		d[i] = ObjectIdGetDatum(oids[i]);
	return PointerGetDatum(construct_array(d, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
}

/* The last AUDIT row of each of the tables, whatever its database. */
static void
fetch_priors(Touched **tables, int n, TrackContext *ctx)
{
	Oid		   *oids = palloc(sizeof(Oid) * (n + 1));
	Oid			types[1] = {OIDARRAYOID};
	Datum		values[1];
	HTAB	   *index;
	HASHCTL		ctl;
	uint64		rows;

	if (n == 0)
		return;
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(Oid) + sizeof(Touched *);
	ctl.hcxt = CurrentMemoryContext;
	index = hash_create("apikit audit priors", n, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (int i = 0; i < n; i++)
	{
		char	   *e = hash_search(index, &tables[i]->relid, HASH_ENTER, NULL);

		memcpy(e + sizeof(Oid), &tables[i], sizeof(Touched *));
		oids[i] = tables[i]->relid;
		memset(&tables[i]->prior, 0, sizeof(Prior));
	}
	values[0] = oid_array(oids, n);
	rows = spi_as_owner("SELECT r.relid, l.id, l.schema_name::pg_catalog.text, "
						"       l.table_name::pg_catalog.text, l.new_row "
						"FROM pg_catalog.unnest($1) r(relid) "
						"CROSS JOIN LATERAL (SELECT l.id, l.schema_name, l.table_name, l.new_row "
						"                    FROM apikit.audit_log l "
						"                    WHERE l.relid OPERATOR(pg_catalog.=) r.relid "
						"                      AND l.op OPERATOR(pg_catalog.=) 'AUDIT' "
						"                      AND l.row_key IS NULL "
						"                    ORDER BY l.id DESC LIMIT 1) l",
						1, types, values, 0);
	for (uint64 r = 0; r < rows; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		char	   *e = hash_search(index, &relid, HASH_FIND, NULL);
		Touched    *t;
		Prior	   *p;
		char	   *db;
		char	   *event;

		if (e == NULL)
			continue;
		memcpy(&t, e + sizeof(Oid), sizeof(Touched *));
		p = &t->prior;
		p->any = true;
		p->new_row = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 5, &isnull));
		/* Another database's table had this OID; or a dropped one of this database. */
		db = get_string(p->new_row, "database");
		event = get_string(p->new_row, "event");
		if (db == NULL || strcmp(db, ctx->database) != 0 ||
			(event && strcmp(event, "dropped") == 0))
			continue;
		p->found = true;
		p->id = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		p->schema_name = SPI_getvalue(tup, desc, 3);
		p->table_name = SPI_getvalue(tup, desc, 4);
	}
	hash_destroy(index);
}

/* The row a table's first row follows (apikit.audit_predecessor()), or 0. */
static int64
link_predecessor(const char *schema_name, const char *table_name, TrackContext *ctx)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	bool		isnull;
	Datum		d;

	values[0] = CStringGetTextDatum(schema_name);
	values[1] = CStringGetTextDatum(table_name);
	values[2] = CStringGetTextDatum(ctx->database);
	if (spi_as_owner("SELECT apikit.audit_predecessor($1, $2, $3, 9223372036854775807::pg_catalog.int8)",
					 3, types, values, 1) != 1)
		return 0;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetInt64(d);
}

static Jsonb *
row_new_row(int64 id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(id)};
	bool		isnull;
	Datum		d;

	if (spi_as_owner("SELECT new_row FROM apikit.audit_log WHERE id OPERATOR(pg_catalog.=) $1",
					 1, types, values, 1) != 1)
		return NULL;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? NULL : DatumGetJsonbPCopy(d);
}

/*
 * The event of a change from the last row ("was": the table's last row in
 * this log, else the dumped table's it follows, else none) to now, and for
 * a stop outside apikit, why.
 */
static const char *
event_of(TrackState *st, Touched *t, Jsonb *was, bool first, const char *by,
		 bool names_changed, bool lists_changed, bool rewritten, const char **reason)
{
	bool		was_audited,
				was_truncate_audited;

	*reason = NULL;
	if (!st->exists)
		return "dropped";
	if (was == NULL)
	{
		/* The table's first row in this log, and nothing before it. */
		if (by && strcmp(by, BY_DISABLE) == 0)
			return "disabled";
		if (st->audited || st->truncate_audited)
			return t->hint == HINT_ATTACHED ? "attached" : "enabled";
		return names_changed ? "renamed" : "changed";
	}
	was_audited = get_bool(was, "audited");
	was_truncate_audited = get_bool(was, "truncate_audited");
	if ((was_audited && !st->audited) || (was_truncate_audited && !st->truncate_audited))
	{
		if (by && strcmp(by, BY_DISABLE) == 0)
			return "disabled";
		if (t->hint == HINT_DETACHED)
			return "detached";
		*reason = (was_audited && !st->audited) ? st->row_problem : st->truncate_problem;
		return "stopped";
	}
	if ((!was_audited && st->audited) || (!was_truncate_audited && st->truncate_audited))
		return t->hint == HINT_ATTACHED ? "attached" : "enabled";
	/* A restored table's first row: it continues the dumped table. */
	if (first && by == NULL)
		return "restored";
	if (rewritten)
		return "rewritten";
	if (names_changed)
		return "renamed";
	if (lists_changed)
		return "configured";
	return "changed";
}

/* The rewrites of columns whose values the log has (not excluded ones). */
static List *
logged_rewrites(Touched *t, TrackState *st, List *prior_exclude)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, t->rewrites)
	{
		Rewrite    *w = lfirst(lc);

		if (name_member(st->exclude, w->column) || name_member(prior_exclude, w->column))
			continue;
		/* A masked column's values are never logged: nor what they became. */
		if (name_member(st->mask, w->column) && w->expr_key && strcmp(w->expr_key, "identity") != 0)
			w->expr = NULL;
		result = lappend(result, w);
	}
	return result;
}

/*
 * Compare a table's auditing with the log's last row about it (t->prior,
 * read after the table was locked), and write a row when they differ or
 * the mode says so.  Returns whether a row was written; "dry" only says
 * whether one would be.
 */
static bool
track_table(Touched *t, const char *by, TrackMode mode, TrackContext *ctx, bool dry)
{
	TrackState	st;
	Prior	   *prior = &t->prior;
	Jsonb	   *state;
	bool		names_changed = false;
	bool		lists_changed = false;
	List	   *changed = NIL;
	JsonbParseState *oldjs = NULL;
	JsonbParseState *js = NULL;
	Jsonb	   *old_row = NULL;
	Jsonb	   *new_row;
	const char *event;
	const char *reason = NULL;
	int64		since = 0;
	int64		follows = 0;
	ArrayType  *changed_arr = NULL;
	List	   *prior_exclude = NIL;
	List	   *rewrites;
	const char *link_schema;
	const char *link_table;
	bool		carried = false;
	Jsonb	   *followed = NULL;

	if (!compute_state(t->relid, &st))
		return false;
	if (!st.exists)
	{
		if (!t->dropped)
			return false;		/* dropped by a later command of the same statement */
		st.schema_name = t->schema_name;
		st.table_name = t->table_name;
	}
	link_schema = t->old_schema_name ? t->old_schema_name : st.schema_name;
	link_table = t->old_table_name ? t->old_table_name : st.table_name;

	if (!prior->found && mode == TRACK_DDL && by == NULL)
	{
		/*
		 * Never tracked in this database.  While a restore may still be
		 * loading the log, nothing is written (the table's first write
		 * will).  A table that is fully audited gets its first row, and so
		 * does a table attached to an audited one (its row changes are
		 * logged from now on; its TRUNCATE trigger comes with audit_enable).
		 * Any other has nothing to stop -- unless it continues a dumped
		 * table, which was audited: then dropping it, renaming it or
		 * switching it off is its first row.  Creating a trigger never is
		 * a stop: a restore creates a table's two triggers one after the
		 * other.
		 */
		bool		fully = (st.audited && (st.truncate_audited || !st.has_truncate)) ||
			(st.audited && t->hint == HINT_ATTACHED);

		if (!fully && strcmp(t->command, "CREATE TRIGGER") == 0)
			return false;
		if (!log_complete(ctx))
			return false;
		follows = link_predecessor(link_schema, link_table, ctx);
		if (!fully && follows == 0)
			return false;
	}
	else if (!prior->found)
		follows = link_predecessor(link_schema, link_table, ctx);

	/* The lists as last set with audit_enable, followed through this command. */
	st.intended_exclude = st.exclude;
	st.intended_mask = st.mask;
	if (!prior->found && follows)
		followed = row_new_row(follows);
	if (!(by && strcmp(by, BY_ENABLE) == 0))
	{
		Jsonb	   *from = prior->found ? prior->new_row : followed;
		List	   *ex = st.exclude;
		List	   *mk = st.mask;

		if (from)
			row_intended(from, &ex, &mk);
		st.intended_exclude = names_followed(ex, t->renames, t->drops);
		st.intended_mask = names_followed(mk, t->renames, t->drops);
	}
	if (prior->found)
		prior_exclude = container_names(get_key(prior->new_row, "exclude_columns"));
	rewrites = logged_rewrites(t, &st, prior_exclude);
	if (!st.audited && !(prior->found && get_bool(prior->new_row, "audited")))
		rewrites = NIL;			/* nothing of the table is logged */

	state = state_jsonb(&st);

	pushJsonbValue(&oldjs, WJB_BEGIN_OBJECT, NULL);
	if (prior->found)
	{
		for (int i = 0; i < (int) lengthof(state_keys); i++)
		{
			JsonbValue *was = get_key(prior->new_row, state_keys[i]);

			if (jbv_equal(was, get_key(state, state_keys[i])))
				continue;
			changed = lappend(changed, (char *) state_keys[i]);
			if (i >= 2 && i <= 4)
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
	}
	{
		const char *was_schema = prior->found ? prior->schema_name : t->old_schema_name;
		const char *was_table = prior->found ? prior->table_name : t->old_table_name;

		if (was_schema && strcmp(was_schema, st.schema_name) != 0)
		{
			changed = lappend(changed, "schema_name");
			put_string(&oldjs, "schema_name", was_schema);
			names_changed = true;
		}
		if (was_table && strcmp(was_table, st.table_name) != 0)
		{
			changed = lappend(changed, "table_name");
			put_string(&oldjs, "table_name", was_table);
			names_changed = true;
		}
	}
	if (prior->found)
	{
		if (changed == NIL && st.exists && rewrites == NIL)
		{
			if (mode != TRACK_CARRY)
				return false;	/* nothing changed */
			carried = true;
		}
		since = get_int8(prior->new_row, "since");
		if (since == 0)
			since = prior->id;
		follows = get_int8(prior->new_row, "follows");
	}
	if (changed != NIL)
		old_row = JsonbValueToJsonb(pushJsonbValue(&oldjs, WJB_END_OBJECT, NULL));

	/* A change found while carrying was not made by audit_purge. */
	if (mode == TRACK_CARRY && !carried)
		by = NULL;

	if (dry)
		return true;
	if (carried)
		event = "carried";
	else
		event = event_of(&st, t, prior->found ? prior->new_row : followed, !prior->found, by,
						 names_changed, lists_changed, rewrites != NIL, &reason);

	pushJsonbValue(&js, WJB_BEGIN_OBJECT, NULL);
	put_string(&js, "event", event);
	if (carried)
	{
		char	   *was_event = get_string(prior->new_row, "event");
		char	   *was_reason = get_string(prior->new_row, "reason");

		put_int8(&js, "carried_from", prior->id);
		if (was_event)
			put_string(&js, "carried_event", was_event);
		if (was_reason)
			put_string(&js, "reason", was_reason);
	}
	else if (reason)
		put_string(&js, "reason", reason);
	if (by)
		put_string(&js, "by", by);
	put_string(&js, "command", t->command);
	put_bool(&js, "audited", st.audited);
	put_bool(&js, "truncate_audited", st.truncate_audited);
	put_names(&js, "exclude_columns", st.exclude);
	put_names(&js, "mask_columns", st.mask);
	put_intended(&js, &st);
	put_triggers(&js, st.triggers);
	if (rewrites != NIL)
		put_rewrites(&js, rewrites);
	put_string(&js, "database", ctx->database);
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
	return true;
}

/* Which tables a command touched */

static TouchedSet *
touched_set(MemoryContext cxt)
{
	TouchedSet *set = MemoryContextAllocZero(cxt, sizeof(TouchedSet));
	HASHCTL		ctl;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(Touched);
	ctl.hcxt = cxt;
	set->hash = hash_create("apikit audit touched tables", 64, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	set->cxt = cxt;
	return set;
}

static Touched *
touch(TouchedSet *set, Oid relid, const char *command)
{
	bool		found;
	Touched    *t = hash_search(set->hash, &relid, HASH_ENTER, &found);

	if (!found)
	{
		MemoryContext old = MemoryContextSwitchTo(set->cxt);
		Oid			key = t->relid;

		memset(t, 0, sizeof(Touched));
		t->relid = key;
		t->command = pstrdup(command);
		set->list = lappend(set->list, t);
		MemoryContextSwitchTo(old);
	}
	return t;
}

static char *
set_strdup(TouchedSet *set, const char *s)
{
	return s ? MemoryContextStrdup(set->cxt, s) : NULL;
}

/* A table and, when the command recursed, those below it. */
static void
touch_tree(TouchedSet *set, Oid relid, const char *command, TrackHint hint)
{
	ListCell   *lc;

	if (get_rel_relkind(relid) == '\0')
		return;
	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
	{
		Touched    *t = touch(set, lfirst_oid(lc), command);

		if (hint != HINT_NONE)
			t->hint = hint;
	}
}

static void
add_rename(TouchedSet *set, Touched *t, const char *old_name, const char *new_name)
{
	MemoryContext old = MemoryContextSwitchTo(set->cxt);
	ColumnRename *r = palloc(sizeof(ColumnRename));

	r->old_name = pstrdup(old_name);
	r->new_name = pstrdup(new_name);
	t->renames = lappend(t->renames, r);
	MemoryContextSwitchTo(old);
}

static void
add_rewrite(TouchedSet *set, Touched *t, const char *column, const char *change,
			const char *type, const char *expr_key, const char *expr)
{
	MemoryContext old;
	Rewrite    *w;
	ListCell   *lc;

	/* ALTER COLUMN TYPE of a partitioned table reports each partition too. */
	foreach(lc, t->rewrites)
	{
		w = lfirst(lc);
		if (strcmp(w->column, column) == 0 && strcmp(w->change, change) == 0)
			return;
	}
	old = MemoryContextSwitchTo(set->cxt);
	w = palloc0(sizeof(Rewrite));
	w->column = pstrdup(column);
	w->change = change;
	w->type = type ? pstrdup(type) : NULL;
	w->expr_key = expr_key;
	w->expr = expr ? pstrdup(expr) : NULL;
	t->rewrites = lappend(t->rewrites, w);
	MemoryContextSwitchTo(old);
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
 * The lists of apikit's triggers on one table, after a column was renamed
 * (new_name set) or dropped: each trigger's arguments are rewritten in
 * pg_trigger where they name the column.  The trigger keeps everything
 * else, its enabled state included (CREATE OR REPLACE TRIGGER would reset
 * that).  Returns whether the column is gone under its old name (the
 * caller then follows it in the intended lists too).  "audited": whether
 * the table has triggers of apikit's function at all (see audited_among()).
 */
static bool
rewrite_lists(Oid relid, const char *old_name, const char *new_name, bool audited)
{
	Oid			fn = audit_function_oid();
	Relation	tgrel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		changed_here = false;

	if (!OidIsValid(fn) || get_rel_relkind(relid) == '\0')
		return false;
	/* Still there under the old name (a column of its own): nothing to do. */
	if (get_attnum(relid, old_name) != InvalidAttrNumber)
		return false;
	if (new_name && get_attnum(relid, new_name) == InvalidAttrNumber)
		return false;
	if (!audited)
		return true;

	tgrel = table_open(TriggerRelationId, RowExclusiveLock);
	ScanKeyInit(&key, Anum_pg_trigger_tgrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
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
	table_close(tgrel, RowExclusiveLock);
	if (changed_here)
	{
		CacheInvalidateRelcacheByRelid(relid);
		CommandCounterIncrement();
	}
	return true;
}

/*
 * The tables whose columns a command on this relation renamed, dropped or
 * changed: the table and those below it, or for a composite type, the
 * tables of that type (ALTER TYPE ... CASCADE) and those below them.
 */
static List *
column_targets(Oid relid)
{
	List	   *result = NIL;

	if (get_rel_relkind(relid) == RELKIND_COMPOSITE_TYPE)
	{
		Oid			types[1] = {OIDOID};
		Datum		values[1] = {ObjectIdGetDatum(get_rel_type_id(relid))};
		List	   *typed = NIL;
		ListCell   *lc;

		if (SPI_execute_with_args("SELECT c.oid FROM pg_catalog.pg_class c "
								  "WHERE c.reloftype OPERATOR(pg_catalog.=) $1",
								  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read pg_class");
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;

			typed = lappend_oid(typed, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																	  SPI_tuptable->tupdesc, 1,
																	  &isnull)));
		}
		foreach(lc, typed)
			result = list_concat(result, find_all_inheritors(lfirst_oid(lc), NoLock, NULL));
		return result;
	}
	if (get_rel_relkind(relid) == '\0')
		return NIL;
	return find_all_inheritors(relid, NoLock, NULL);
}

/*
 * Which of the tables have triggers of apikit's function: one catalog query
 * for all of them (a column renamed in a table with thousands of partitions
 * is renamed in each), so that the others are not scanned one by one.
 */
static HTAB *
audited_among(List *oids)
{
	HASHCTL		ctl;
	HTAB	   *result;
	Oid		   *arr = palloc(sizeof(Oid) * (list_length(oids) + 1));
	int			n = 0;
	ListCell   *lc;
	Oid			types[2] = {OIDARRAYOID, OIDOID};
	Datum		values[2];

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(Oid);
	ctl.hcxt = CurrentMemoryContext;
	result = hash_create("apikit audit audited tables", 16, &ctl,
						 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	foreach(lc, oids)
		arr[n++] = lfirst_oid(lc);
	if (n == 0)
		return result;
	values[0] = oid_array(arr, n);
	values[1] = ObjectIdGetDatum(audit_function_oid());
	if (SPI_execute_with_args("SELECT DISTINCT t.tgrelid FROM pg_catalog.pg_trigger t "
							  "WHERE t.tgrelid OPERATOR(pg_catalog.=) ANY ($1) "
							  "AND t.tgfoid OPERATOR(pg_catalog.=) $2",
							  2, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_trigger");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc, 1, &isnull));

		hash_search(result, &relid, HASH_ENTER, NULL);
	}
	return result;
}

/* The column renamed by ALTER TABLE ... RENAME COLUMN or ALTER TYPE ... RENAME ATTRIBUTE. */
static void
touch_column_rename(TouchedSet *set, Oid relid, RenameStmt *stmt, const char *tag)
{
	List	   *targets = column_targets(relid);
	HTAB	   *audited = audited_among(targets);
	ListCell   *lc;

	foreach(lc, targets)
	{
		Oid			target = lfirst_oid(lc);
		Touched    *t = touch(set, target, tag);

		if (rewrite_lists(target, stmt->subname, stmt->newname,
						  hash_search(audited, &target, HASH_FIND, NULL) != NULL))
			add_rename(set, t, stmt->subname, stmt->newname);
	}
}

/* An expression of a column, as SQL text; NULL if it cannot be shown. */
static char *
expression_text(Node *expr, Oid relid)
{
	Bitmapset  *attrs = NULL;
	int			a = -1;

	if (expr == NULL)
		return NULL;
	/* Only columns that still exist can be named (deparsing the rest fails). */
	pull_varattnos(expr, 1, &attrs);
	while ((a = bms_next_member(attrs, a)) >= 0)
	{
		AttrNumber	attnum = a + FirstLowInvalidHeapAttributeNumber;

		if (attnum > 0 && get_attname(relid, attnum, true) == NULL)
			return NULL;
	}
	return deparse_expression(expr, deparse_context_for(get_rel_name(relid), relid), false, false);
}

/* The default or generation expression of a column, as SQL text. */
static char *
column_default(Relation rel, AttrNumber attnum)
{
	TupleConstr *constr = RelationGetDescr(rel)->constr;

	for (int i = 0; constr && i < constr->num_defval; i++)
		if (constr->defval[i].adnum == attnum)
			return expression_text(stringToNode(constr->defval[i].adbin), RelationGetRelid(rel));
	return NULL;
}

/*
 * A subcommand of ALTER TABLE (or ALTER TYPE) that changes the stored
 * values of a column without firing row triggers.
 */
static void
touch_rewrite(TouchedSet *set, CollectedATSubcmd *sub, Oid objectId, const char *tag)
{
	AlterTableCmd *atc = (AlterTableCmd *) sub->parsetree;
	AlterTableType subtype = atc->subtype;
	List	   *targets;
	ListCell   *lc;
	const char *column;

#if PG_VERSION_NUM < 160000
	/* PostgreSQL 15 reports an ADD COLUMN that recursed as its own kind. */
	if (subtype == AT_AddColumnRecurse)
		subtype = AT_AddColumn;
#endif
	switch (subtype)
	{
		case AT_AlterColumnType:
#if PG_VERSION_NUM >= 170000
		case AT_SetExpression:
#endif
			column = atc->name;
			break;
		case AT_AddColumn:
			if (atc->def == NULL || !IsA(atc->def, ColumnDef))
				return;
			column = ((ColumnDef *) atc->def)->colname;
			break;
		default:
			return;
	}
	/* ALTER COLUMN TYPE reports each table it changed. */
	if (sub->address.classId == RelationRelationId && OidIsValid(sub->address.objectId) &&
		get_rel_relkind(sub->address.objectId) != RELKIND_COMPOSITE_TYPE &&
		subtype == AT_AlterColumnType)
		targets = list_make1_oid(sub->address.objectId);
	else
		targets = column_targets(objectId);

	/*
	 * A column added without a value for its rows (no default, identity,
	 * generation expression, nor a domain default) changes nothing stored:
	 * seen once, not per partition.
	 */
	if (subtype == AT_AddColumn)
	{
		bool		valued = false;

		foreach(lc, targets)
		{
			HeapTuple	tup = SearchSysCacheAttName(lfirst_oid(lc), column);
			Form_pg_attribute att;

			if (!HeapTupleIsValid(tup))
				continue;
			att = (Form_pg_attribute) GETSTRUCT(tup);
			valued = att->atthasdef || att->attidentity || att->attgenerated ||
				(get_typtype(att->atttypid) == TYPTYPE_DOMAIN &&
				 get_typdefault(att->atttypid) != NULL);
			ReleaseSysCache(tup);
			break;
		}
		if (!valued)
			return;
	}

	foreach(lc, targets)
	{
		Oid			target = lfirst_oid(lc);
		Relation	rel;
		AttrNumber	attnum = get_attnum(target, column);
		Form_pg_attribute att;
		char	   *type;

		if (attnum == InvalidAttrNumber || attnum < 0)
			continue;
		rel = relation_open(target, NoLock);
		att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
		type = format_type_with_typemod(att->atttypid, att->atttypmod);
		if (subtype == AT_AlterColumnType)
		{
			ColumnDef  *def = (ColumnDef *) atc->def;

			add_rewrite(set, touch(set, target, tag), column, "type", type,
						def && def->cooked_default ? "using" : NULL,
						def ? expression_text(def->cooked_default, target) : NULL);
		}
		else if (subtype == AT_AddColumn)
		{
			if (att->attidentity)
				add_rewrite(set, touch(set, target, tag), column, "added", type, "identity",
							att->attidentity == ATTRIBUTE_IDENTITY_ALWAYS ? "always" : "by default");
			else if (att->attgenerated)
				add_rewrite(set, touch(set, target, tag), column, "added", type, "generated",
							column_default(rel, attnum));
			else if (att->atthasdef)
				add_rewrite(set, touch(set, target, tag), column, "added", type, "default",
							column_default(rel, attnum));
			else if (get_typtype(att->atttypid) == TYPTYPE_DOMAIN &&
					 get_typdefault(att->atttypid) != NULL)
				add_rewrite(set, touch(set, target, tag), column, "added", type, "default",
							expression_text(get_typdefault(att->atttypid), target));
		}
		else
			add_rewrite(set, touch(set, target, tag), column, "expression", type, "generated",
						column_default(rel, attnum));
		relation_close(rel, NoLock);
	}
}

/* Tables of a schema that are or were audited. */
static void
touch_schema_tables(TouchedSet *set, Oid nspid, const char *old_schema_name, const char *command)
{
	Oid			types[2] = {OIDOID, OIDOID};
	Datum		values[2] = {ObjectIdGetDatum(nspid), ObjectIdGetDatum(audit_function_oid())};
	uint64		n;
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
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;

		oids = lappend_oid(oids, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																SPI_tuptable->tupdesc, 1, &isnull)));
	}
	foreach(lc, oids)
	{
		Touched    *t = touch(set, lfirst_oid(lc), command);

		if (old_schema_name && t->old_schema_name == NULL)
			t->old_schema_name = set_strdup(set, old_schema_name);
	}
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

/* A schema an ALTER SCHEMA touched, and its name before. */
typedef struct TouchedSchema
{
	Oid			nspid;
	char	   *old_name;
} TouchedSchema;

static void
touched_by_commands(TouchedSet *set, List **schemas)
{
	uint64		n;
	SPITupleTable *tab;

	if (SPI_execute("SELECT command, command_tag FROM pg_catalog.pg_event_trigger_ddl_commands()",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_event_trigger_ddl_commands()");
	n = SPI_processed;
	tab = SPI_tuptable;
	for (uint64 i = 0; i < n; i++)
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
			Node	   *stmt = cmd->parsetree;

			if (addr.classId == RelationRelationId)
			{
				if (stmt && IsA(stmt, RenameStmt) &&
					(((RenameStmt *) stmt)->renameType == OBJECT_COLUMN ||
					 ((RenameStmt *) stmt)->renameType == OBJECT_ATTRIBUTE))
					touch_column_rename(set, addr.objectId, (RenameStmt *) stmt, tag);
				touch_tree(set, addr.objectId, tag, HINT_NONE);
				if (get_rel_relkind(addr.objectId) == '\0')
					continue;
				/* The names before the command, for a table's first row. */
				if (stmt && IsA(stmt, RenameStmt) &&
					(((RenameStmt *) stmt)->renameType == OBJECT_TABLE ||
					 ((RenameStmt *) stmt)->renameType == OBJECT_FOREIGN_TABLE))
				{
					Touched    *t = touch(set, addr.objectId, tag);

					t->old_table_name = set_strdup(set, ((RenameStmt *) stmt)->relation->relname);
				}
				else if (stmt && IsA(stmt, AlterObjectSchemaStmt) &&
						 cmd->d.simple.secondaryObject.classId == NamespaceRelationId)
				{
					Touched    *t = touch(set, addr.objectId, tag);

					t->old_schema_name =
						set_strdup(set, get_namespace_name(cmd->d.simple.secondaryObject.objectId));
				}
			}
			else if (addr.classId == TriggerRelationId)
			{
				Oid			relid = trigger_relid(addr.objectId);

				if (OidIsValid(relid))
					touch_tree(set, relid, tag, HINT_NONE);
			}
			else if (addr.classId == NamespaceRelationId)
			{
				TouchedSchema *s = palloc0(sizeof(TouchedSchema));

				s->nspid = addr.objectId;
				if (stmt && IsA(stmt, RenameStmt))
					s->old_name = pstrdup(((RenameStmt *) stmt)->subname);
				*schemas = lappend(*schemas, s);
			}
		}
		else if (cmd->type == SCT_AlterTable &&
				 cmd->d.alterTable.classId == RelationRelationId)
		{
			Oid			objectId = cmd->d.alterTable.objectId;
			ListCell   *lc;

			if (get_rel_relkind(objectId) == RELKIND_COMPOSITE_TYPE)
			{
				foreach(lc, column_targets(objectId))
					touch(set, lfirst_oid(lc), tag);
			}
			else
				touch_tree(set, objectId, tag, HINT_NONE);
			foreach(lc, cmd->d.alterTable.subcmds)
			{
				CollectedATSubcmd *sub = lfirst(lc);
				AlterTableCmd *atc = (AlterTableCmd *) sub->parsetree;
				Oid			part;

				if (atc == NULL || !IsA(atc, AlterTableCmd))
					continue;
				touch_rewrite(set, sub, objectId, tag);
				if ((atc->subtype != AT_AttachPartition &&
					 atc->subtype != AT_DetachPartition &&
					 atc->subtype != AT_DetachPartitionFinalize) ||
					!OidIsValid(part = partition_of(sub)))
					continue;
				/* A partition attached or detached, and all below it. */
				touch_tree(set, part, tag,
						   atc->subtype == AT_AttachPartition ? HINT_ATTACHED : HINT_DETACHED);
			}
		}
	}
}

/* A column dropped, as pg_event_trigger_dropped_objects() reports it. */
typedef struct DroppedColumn
{
	Oid			relid;
	char	   *column;
} DroppedColumn;

static void
touched_by_drops(TouchedSet *set, const char *tag)
{
	uint64		n;
	SPITupleTable *tab;
	List	   *columns = NIL;
	List	   *column_rels = NIL;
	HTAB	   *audited;
	ListCell   *lc;

	if (SPI_execute("SELECT classid, objid, objsubid, object_type, schema_name, object_name, "
					"address_names FROM pg_catalog.pg_event_trigger_dropped_objects() "
					"WHERE NOT is_temporary", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_event_trigger_dropped_objects()");
	n = SPI_processed;
	tab = SPI_tuptable;
	for (uint64 i = 0; i < n; i++)
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
			Touched    *t = touch(set, objid, tag);

			t->dropped = true;
			t->schema_name = set_strdup(set, SPI_getvalue(tab->vals[i], tab->tupdesc, 5));
			t->table_name = set_strdup(set, SPI_getvalue(tab->vals[i], tab->tupdesc, 6));
		}
		else if (classid == RelationRelationId && objsubid > 0 && nnames == 3)
		{
			/*
			 * A column: the lists forget it.  Each table's column is reported
			 * (those of the tables below too), so no recursion.
			 */
			DroppedColumn *dc;

			if (get_rel_relkind(objid) == '\0' || get_rel_relkind(objid) == RELKIND_COMPOSITE_TYPE)
				continue;
			dc = palloc(sizeof(DroppedColumn));
			dc->relid = objid;
			dc->column = TextDatumGetCString(names[2]);
			columns = lappend(columns, dc);
			column_rels = lappend_oid(column_rels, objid);
		}
		else if (classid == TriggerRelationId && nnames == 3)
		{
			Oid			nsp = get_namespace_oid(TextDatumGetCString(names[0]), true);
			Oid			relid = OidIsValid(nsp) ?
				get_relname_relid(TextDatumGetCString(names[1]), nsp) : InvalidOid;

			if (OidIsValid(relid))
				touch_tree(set, relid, tag, HINT_NONE);
		}
	}

	/* The columns: the lists forget them (after the loop: SPI_tuptable). */
	audited = audited_among(column_rels);
	foreach(lc, columns)
	{
		DroppedColumn *dc = lfirst(lc);
		Touched    *t = touch(set, dc->relid, tag);

		if (rewrite_lists(dc->relid, dc->column, NULL,
						  hash_search(audited, &dc->relid, HASH_FIND, NULL) != NULL))
		{
			MemoryContext old = MemoryContextSwitchTo(set->cxt);

			t->drops = lappend(t->drops, pstrdup(dc->column));
			MemoryContextSwitchTo(old);
			add_rewrite(set, t, dc->column, "dropped", NULL, NULL, NULL);
		}
	}
}

static int
touched_cmp(const void *a, const void *b)
{
	Oid			x = (*(Touched *const *) a)->relid;
	Oid			y = (*(Touched *const *) b)->relid;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * Which of the tables matter: those with apikit's triggers or AUDIT rows,
 * and those dropped or renamed that take a dumped table's history along.
 * One query each over all of them, not one per table: a command on a
 * partitioned table with thousands of partitions touches them all.
 */
static void
find_relevant(Touched **tables, int n, Oid target, TrackContext *ctx)
{
	Oid		   *oids = palloc(sizeof(Oid) * (n + 1));
	Oid			types[2] = {OIDARRAYOID, OIDOID};
	Datum		values[2];
	uint64		rows;
	HTAB	   *with_triggers;
	HASHCTL		ctl;

	for (int i = 0; i < n; i++)
		oids[i] = tables[i]->relid;
	values[0] = oid_array(oids, n);
	values[1] = ObjectIdGetDatum(audit_function_oid());
	rows = spi_as_owner("SELECT DISTINCT t.tgrelid FROM pg_catalog.pg_trigger t "
						"WHERE t.tgrelid OPERATOR(pg_catalog.=) ANY ($1) "
						"AND (t.tgfoid OPERATOR(pg_catalog.=) $2 OR t.tgname OPERATOR(pg_catalog.=) ANY "
						"     ('{apikit_audit,apikit_audit_truncate}'::pg_catalog.name[]))",
						2, types, values, 0);
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(Oid);
	ctl.hcxt = CurrentMemoryContext;
	with_triggers = hash_create("apikit audit relevant", Max(rows, 16), &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (uint64 r = 0; r < rows; r++)
	{
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[r],
														   SPI_tuptable->tupdesc, 1, &isnull));

		hash_search(with_triggers, &relid, HASH_ENTER, NULL);
	}
	fetch_priors(tables, n, ctx);
	for (int i = 0; i < n; i++)
	{
		Touched    *t = tables[i];

		t->relevant = t->prior.any ||
			hash_search(with_triggers, &t->relid, HASH_FIND, NULL) != NULL ||
			t->relid == target;
		if (!t->relevant && (t->dropped || t->old_table_name || t->old_schema_name) &&
			log_complete(ctx))
		{
			const char *s = t->dropped ? t->schema_name :
				t->old_schema_name ? t->old_schema_name : get_namespace_name(get_rel_namespace(t->relid));
			const char *tn = t->dropped ? t->table_name :
				t->old_table_name ? t->old_table_name : get_rel_name(t->relid);

			t->relevant = s && tn && link_predecessor(s, tn, ctx) != 0;
		}
	}
	hash_destroy(with_triggers);
}

/*
 * Write the rows of the tables touched: find those that matter, lock them,
 * read their last rows, compare.  Returns the rows written.
 */
static int64
track_all(List *touched, const char *by, Oid target, TrackMode mode)
{
	int			n = list_length(touched);
	Touched   **tables;
	Touched   **relevant;
	Touched   **changing;
	int			nrelevant = 0;
	int			nchanging = 0;
	int			i = 0;
	ListCell   *lc;
	TrackContext ctx;
	int64		written = 0;

	if (n == 0)
		return 0;
	context_init(&ctx);
	tables = palloc(sizeof(Touched *) * n);
	relevant = palloc(sizeof(Touched *) * n);
	changing = palloc(sizeof(Touched *) * n);
	foreach(lc, touched)
		tables[i++] = lfirst(lc);
	find_relevant(tables, n, target, &ctx);
	for (i = 0; i < n; i++)
		if (tables[i]->relevant)
			relevant[nrelevant++] = tables[i];
	if (nrelevant == 0)
		return 0;

	/*
	 * Most tables a command touches do not change (the partitions of a
	 * table renamed): first, without locks, which would get a row.  A table
	 * that changes unseen meanwhile is changed by a command that holds a
	 * lock this command does not: its own event trigger records it.
	 */
	for (i = 0; i < nrelevant; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (track_table(relevant[i], by, mode, &ctx, true))
			changing[nchanging++] = relevant[i];
	}
	if (nchanging == 0)
		return 0;

	/* Locked in OID order, then their last rows read again (see the header). */
	qsort(changing, nchanging, sizeof(Touched *), touched_cmp);
	for (i = 0; i < nchanging; i++)
		if (!changing[i]->dropped && get_rel_relkind(changing[i]->relid) != '\0')
			LockRelationOid(changing[i]->relid, TRACK_LOCK);
	fetch_priors(changing, nchanging, &ctx);
	for (i = 0; i < nchanging; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (track_table(changing[i], by, mode, &ctx, false))
			written++;
	}
	return written;
}

/* Pin search_path for apikit's own look-ups; returns the GUC nest level. */
static int
pin_search_path(void)
{
	int			save_nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return save_nestlevel;
}

/*
 * apikit.audit_track(): the event trigger, on ddl_command_end and sql_drop.
 */
Datum
apikit_audit_track(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	TouchedSet *set;
	List	   *schemas = NIL;
	List	   *now = NIL;
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
	/* Held-back tables outlive this call: collect in audit_enable's context. */
	set = api.depth > 0 ? api.held : touched_set(CurrentMemoryContext);
	tag = GetCommandTagName(trigdata->tag);
	if (strcmp(trigdata->event, "sql_drop") == 0)
		touched_by_drops(set, tag);
	else
		touched_by_commands(set, &schemas);

	/* From here on, the look-ups are apikit's own: search_path is pinned. */
	save_nestlevel = pin_search_path();
	foreach(lc, schemas)
	{
		TouchedSchema *s = lfirst(lc);

		touch_schema_tables(set, s->nspid, s->old_name, tag);
	}

	if (api.depth > 0)
	{
		/* The tables of audit_enable/audit_disable wait for it; others are written now. */
		foreach(lc, set->list)
		{
			Touched    *t = lfirst(lc);

			if (!list_member_oid(api.tree, t->relid))
				now = lappend(now, t);
		}
		foreach(lc, now)
		{
			Touched    *t = lfirst(lc);

			hash_search(set->hash, &t->relid, HASH_REMOVE, NULL);
			set->list = list_delete_ptr(set->list, t);
		}
	}
	else
		now = set->list;
	(void) track_all(now, NULL, InvalidOid, TRACK_DDL);

	AtEOXact_GUC(true, save_nestlevel);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * The intended lists of a table, from its last row, as jsonb in the
 * caller's context ({"exclude_columns": [...], "mask_columns": [...]});
 * false when the log has none.
 */
static bool
logged_lists(Oid relid, Datum *lists)
{
	MemoryContext caller = CurrentMemoryContext;
	bool		found = false;
	int			save_nestlevel;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	save_nestlevel = pin_search_path();
	{
		TrackContext ctx;
		Touched		t = {0};
		Touched    *tp = &t;

		context_init(&ctx);
		t.relid = relid;
		fetch_priors(&tp, 1, &ctx);
		if (t.prior.found)
		{
			TrackState	st = {0};
			JsonbParseState *js = NULL;
			Jsonb	   *jb;

			row_intended(t.prior.new_row, &st.intended_exclude, &st.intended_mask);
			pushJsonbValue(&js, WJB_BEGIN_OBJECT, NULL);
			put_names(&js, "exclude_columns", st.intended_exclude);
			put_names(&js, "mask_columns", st.intended_mask);
			jb = JsonbValueToJsonb(pushJsonbValue(&js, WJB_END_OBJECT, NULL));
			*lists = PointerGetDatum(MemoryContextAlloc(caller, VARSIZE(jb)));
			memcpy(DatumGetPointer(*lists), jb, VARSIZE(jb));
			found = true;
		}
	}
	AtEOXact_GUC(true, save_nestlevel);
	SPI_finish();
	return found;
}

/*
 * apikit.audit_enable() and apikit.audit_disable(): run the SQL half with
 * the event trigger holding back its rows for the table, then write them,
 * marked as this function's.
 */
static Datum
run_api(FunctionCallInfo fcinfo, const char *by, const char *impl)
{
	Oid			argtypes[4] = {REGCLASSOID, TEXTARRAYOID, TEXTARRAYOID, JSONBOID};
	int			nargs = strcmp(by, BY_ENABLE) == 0 ? 4 : 1;
	Oid			relid;
	Oid			fn;
	FmgrInfo	flinfo;
	LOCAL_FCINFO(call, 4);
	List	   *touched;
	int			saved_depth = api.depth;
	const char *saved_by = api.by;
	List	   *saved_tree = api.tree;
	TouchedSet *saved_held = api.held;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("rel must not be null")));
	relid = PG_GETARG_OID(0);
	fn = LookupFuncName(list_make2(makeString("apikit"), makeString((char *) impl)),
						nargs, argtypes, false);
	fmgr_info(fn, &flinfo);
	InitFunctionCallInfoData(*call, &flinfo, nargs, InvalidOid, NULL, NULL);
	for (int i = 0; i < nargs; i++)
	{
		bool		given = i < PG_NARGS() && !PG_ARGISNULL(i);

		call->args[i].value = given ? PG_GETARG_DATUM(i) : (Datum) 0;
		call->args[i].isnull = !given;
	}

	/*
	 * A list not given is the one last set with audit_enable, which only the
	 * log knows (the trigger may have been changed by hand).  Read after
	 * locking the table, for a caller who may change its triggers.
	 */
	if (nargs == 4 && (call->args[1].isnull || call->args[2].isnull) &&
		get_rel_relkind(relid) != '\0' &&
		pg_class_aclcheck(relid, GetUserId(), ACL_TRIGGER) == ACLCHECK_OK)
	{
		LockRelationOid(relid, TRACK_LOCK);
		if (logged_lists(relid, &call->args[3].value))
			call->args[3].isnull = false;
	}

	api.depth++;
	api.by = by;
	api.tree = get_rel_relkind(relid) != '\0' ?
		find_all_inheritors(relid, NoLock, NULL) : NIL;
	api.held = touched_set(CurrentMemoryContext);
	PG_TRY();
	{
		(void) FunctionCallInvoke(call);
	}
	PG_FINALLY();
	{
		touched = api.held->list;
		api.depth = saved_depth;
		api.by = saved_by;
		api.tree = saved_tree;
		api.held = saved_held;
	}
	PG_END_TRY();

	if (touched != NIL)
	{
		int			save_nestlevel;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		save_nestlevel = pin_search_path();
		(void) track_all(touched, by, relid, TRACK_DDL);
		AtEOXact_GUC(true, save_nestlevel);
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

/*
 * The quick answer to "has this table an AUDIT row in this log, not
 * 'dropped'?" for the row trigger: the log's partial index on (relid, op,
 * id) read backwards and the log's ID from apikit.audit_origin, without SPI
 * (which costs a backend's first audited write about a millisecond).  The
 * ID is read once per backend and origin table.  1: yes, 0: no, -1: cannot
 * tell (the index is missing); the latest snapshot, as spi_as_owner().
 */
static int
quick_prior(Oid relid)
{
	static Oid	origin_oid = InvalidOid;
	static char origin_id[64];
	Oid			nsp = get_namespace_oid("apikit", true);
	Oid			origin = OidIsValid(nsp) ? get_relname_relid("audit_origin", nsp) : InvalidOid;
	Oid			logoid = OidIsValid(nsp) ? get_relname_relid("audit_log", nsp) : InvalidOid;
	Oid			idxoid = OidIsValid(nsp) ? get_relname_relid("audit_log_table_events", nsp) : InvalidOid;
	Snapshot	snap;
	Relation	rel;
	Relation	idx;
	SysScanDesc scan;
	HeapTuple	tup;
	ScanKeyData key[2];
	int			result = 0;

	if (!OidIsValid(origin) || !OidIsValid(logoid) || !OidIsValid(idxoid))
		return -1;
	snap = RegisterSnapshot(GetLatestSnapshot());
	if (origin != origin_oid)
	{
		int			rows = 0;

		rel = table_open(origin, AccessShareLock);
		scan = systable_beginscan(rel, InvalidOid, false, snap, 0, NULL);
		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			bool		isnull;
			Datum		d = heap_getattr(tup, 1, RelationGetDescr(rel), &isnull);

			if (!isnull)
				strlcpy(origin_id, TextDatumGetCString(d), sizeof(origin_id));
			rows++;
		}
		systable_endscan(scan);
		table_close(rel, AccessShareLock);
		if (rows != 1)
		{
			UnregisterSnapshot(snap);
			return -1;			/* the SQL path says what is wrong */
		}
		origin_oid = origin;
	}

	rel = table_open(logoid, AccessShareLock);
	idx = index_open(idxoid, AccessShareLock);
	/* The index must be the one apikit made: (relid, op, id), partial. */
	if (idx->rd_index->indnatts < 2 || !idx->rd_index->indisvalid ||
		idx->rd_index->indkey.values[0] != AUDIT_COL_RELID + 1 ||
		idx->rd_index->indkey.values[1] != AUDIT_COL_OP + 1)
		result = -1;
	else
	{
		ScanKeyInit(&key[0], AUDIT_COL_RELID + 1, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(relid));
		ScanKeyInit(&key[1], AUDIT_COL_OP + 1, BTEqualStrategyNumber, F_TEXTEQ,
					CStringGetTextDatum("AUDIT"));
		key[1].sk_collation = idx->rd_indcollation[1];
		scan = systable_beginscan_ordered(rel, idx, snap, 2, key);
		tup = systable_getnext_ordered(scan, BackwardScanDirection);
		if (HeapTupleIsValid(tup))
		{
			bool		isnull;
			Datum		d = heap_getattr(tup, AUDIT_COL_NEW_ROW + 1, RelationGetDescr(rel), &isnull);
			Jsonb	   *row = isnull ? NULL : DatumGetJsonbP(d);
			char	   *db = get_string(row, "database");
			char	   *event = get_string(row, "event");

			result = db && strcmp(db, origin_id) == 0 &&
				!(event && strcmp(event, "dropped") == 0) ? 1 : 0;
		}
		systable_endscan_ordered(scan);
	}
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
	UnregisterSnapshot(snap);
	return result;
}

/*
 * Before the row trigger's first write to a table: a table with no row in
 * this log (restored, or its triggers made by hand) gets its first one now
 * (see the file header).  Called once per table and backend, when the
 * trigger (re)builds what it caches; one index probe when the row is there
 * (quick_prior()).
 */
void
apikit_audit_first_write(Oid relid, const char *command)
{
	int			save_nestlevel;
	TrackContext ctx;
	Touched		t = {0};
	Touched    *tp = &t;

	if (!OidIsValid(log_owner()) || quick_prior(relid) == 1)
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	save_nestlevel = pin_search_path();
	context_init(&ctx);
	t.relid = relid;
	t.command = (char *) command;
	fetch_priors(&tp, 1, &ctx);
	/*
	 * No lock: writers never wait for each other.  Two first writers at once
	 * may each write a first row; audit_lineage() starts the run at the
	 * earlier.  (DDL that changes the table's triggers conflicts with the
	 * writer's lock, so the state read here is the one its row sees.)
	 */
	if (!t.prior.found && track_table(&t, NULL, TRACK_FIRST_WRITE, &ctx, false))
	{
		/* Rolled back, the row goes: the trigger then checks again. */
		CacheInvalidateRelcacheByRelid(relid);
	}
	AtEOXact_GUC(true, save_nestlevel);
	SPI_finish();
}

/*
 * apikit.audit_carry(through bigint): before audit_purge() deletes rows up
 * to "through", writes again each table's last AUDIT row of this database
 * that would go (event "carried", or the change found if the table's
 * auditing changed unrecorded).  The next change of the table is compared
 * with it, and audit_verify() keeps the state it shows.
 */
Datum
apikit_audit_carry(PG_FUNCTION_ARGS)
{
	int64		through = PG_GETARG_INT64(0);
	int			save_nestlevel;
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		values[2];
	uint64		n;
	TouchedSet *set;
	int64		written;
	char	   *db;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function audit_carry"),
				 errdetail("Only apikit.audit_purge() calls it.")));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	save_nestlevel = pin_search_path();
	db = database_id();
	values[0] = CStringGetTextDatum(db);
	values[1] = Int64GetDatum(through);
	n = spi_as_owner("SELECT r.relid FROM "
					 "(SELECT DISTINCT l.relid FROM apikit.audit_log l "
					 " WHERE l.op OPERATOR(pg_catalog.=) 'AUDIT' AND l.row_key IS NULL "
					 "   AND (l.new_row OPERATOR(pg_catalog.->>) 'database') OPERATOR(pg_catalog.=) $1) r "
					 "CROSS JOIN LATERAL (SELECT l.id, l.new_row FROM apikit.audit_log l "
					 "   WHERE l.relid OPERATOR(pg_catalog.=) r.relid "
					 "     AND l.op OPERATOR(pg_catalog.=) 'AUDIT' AND l.row_key IS NULL "
					 "     AND (l.new_row OPERATOR(pg_catalog.->>) 'database') OPERATOR(pg_catalog.=) $1 "
					 "   ORDER BY l.id DESC LIMIT 1) x "
					 "WHERE x.id OPERATOR(pg_catalog.<=) $2 "
					 "  AND (x.new_row OPERATOR(pg_catalog.->>) 'event') OPERATOR(pg_catalog.<>) 'dropped' "
					 "ORDER BY r.relid",
					 2, types, values, 0);
	set = touched_set(CurrentMemoryContext);
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc, 1, &isnull));
		Touched    *t = touch(set, relid, "SELECT");

		/* A table dropped unseen: its name from its last row. */
		if (get_rel_relkind(relid) == '\0')
			t->dropped = true;
	}
	{
		ListCell   *lc;

		foreach(lc, set->list)
		{
			Touched    *t = lfirst(lc);
			Oid			otypes[1] = {OIDOID};
			Datum		ovalues[1] = {ObjectIdGetDatum(t->relid)};

			if (!t->dropped)
				continue;
			if (spi_as_owner("SELECT schema_name::pg_catalog.text, table_name::pg_catalog.text "
							 "FROM apikit.audit_log WHERE relid OPERATOR(pg_catalog.=) $1 "
							 "AND op OPERATOR(pg_catalog.=) 'AUDIT' AND row_key IS NULL "
							 "ORDER BY id DESC LIMIT 1", 1, otypes, ovalues, 1) == 1)
			{
				t->schema_name = set_strdup(set, SPI_getvalue(SPI_tuptable->vals[0],
															  SPI_tuptable->tupdesc, 1));
				t->table_name = set_strdup(set, SPI_getvalue(SPI_tuptable->vals[0],
															 SPI_tuptable->tupdesc, 2));
			}
			else
				t->dropped = false;
		}
	}
	written = track_all(set->list, BY_PURGE, InvalidOid, TRACK_CARRY);
	AtEOXact_GUC(true, save_nestlevel);
	SPI_finish();
	PG_RETURN_INT64(written);
}
