/*
 * audit_trigger.c
 *		apikit.audit_trigger(): writes one apikit.audit_log row per changed
 *		row (AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW) and one per
 *		TRUNCATE (AFTER TRUNCATE FOR EACH STATEMENT).
 *
 * The row goes into the log in the transaction that made the change, so a
 * rollback leaves no trace and a commit always has one, crash or not.  The
 * trigger inserts into the heap and the indexes directly, as catalog code
 * does, instead of running an INSERT: there is no plan to start and end per
 * row, and the user whose change is audited needs no privilege on the log.
 * That is also why only C code writes the log: this trigger, and the event
 * trigger of audit_track.c that records changes to a table's auditing through
 * apikit_audit_write_event(); no role but the log's (superuser) owner holds
 * INSERT, UPDATE or DELETE on it.  A temporary table is refused: any role
 * can create one, and its rows would become permanent records.  So is any
 * trigger name but apikit_audit (rows) and apikit_audit_truncate
 * (TRUNCATE), those audit_enable() makes: a second auditing trigger with
 * lists of its own, made by a role with TRIGGER on the table, could log a
 * masked column in clear beside the masked rows.
 *
 * Before a table's first row change in a backend (whenever the cached
 * settings are rebuilt), apikit_audit_first_write() makes sure the table
 * has an AUDIT row in this log: a restored table, or one whose trigger was
 * made by hand, gets its first one then (see audit_track.c).
 *
 * What to record about a table is worked out once per trigger and cached;
 * the cache follows the relcache, so ALTER TABLE, a new primary key or a
 * re-run of audit_enable() (which replaces the trigger) take effect at once.
 * The trigger's arguments are the configuration: exclude_columns and
 * mask_columns as text[] literals of column names.  pg_dump keeps them with
 * the trigger, so a restored table is audited exactly as before; the event
 * trigger of audit_track.c rewrites them when a listed column is renamed or
 * dropped, so they always name the columns the lists were made for.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/bitmapset.h"
#include "nodes/makefuncs.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inet.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/xid8.h"

#include "audit.h"
#include "compat.h"
#include "guc.h"

PG_FUNCTION_INFO_V1(apikit_audit_trigger);

/* One audited column of the table the trigger fires on. */
typedef struct AuditColumn
{
	AttrNumber	attnum;
	bool		masked;
	bool		is_key;			/* part of the replica identity (row_key) */
	bool		in_image;		/* false: excluded, kept only for row_key */
	bool		typbyval;
	int16		typlen;
	Oid			typid;
	char	   *name;
	int			namelen;
	FmgrInfo	to_jsonb;		/* to_jsonb(anyelement), resolved for this type */
} AuditColumn;

/* What the trigger records for one table; keyed by the trigger's OID. */
typedef struct AuditRel
{
	Oid			tgoid;			/* hash key */
	bool		valid;
	Oid			relid;			/* the table the trigger fires on */
	Oid			log_relid;		/* the audited table: a partition's root */
	NameData	schema_name;
	NameData	table_name;
	int			ncols;
	AuditColumn *cols;
	bool		has_key;		/* false: row_key is the whole row */
	MemoryContext cxt;
} AuditRel;

static HTAB *audit_rels = NULL;
static bool callback_registered = false;

/* apikit.audit_log and its sequence, looked up once. */
static Oid	log_oid = InvalidOid;
static Oid	log_seq_oid = InvalidOid;

static Datum op_text[5];		/* "INSERT", "UPDATE", "DELETE", "TRUNCATE", "AUDIT" */

/*
 * apikit.audit_log's indexes, as the inserts need them: built once and kept
 * until the relcache says the log changed (a DBA may add an index).  The
 * executor state is only for indexes with expressions or predicates, such
 * as the partial index on TRUNCATE rows.
 */
typedef struct LogIndexes
{
	bool		valid;
	MemoryContext cxt;
	int			n;
	Oid		   *oids;
	IndexInfo **info;
	ExprState **predicate;
	EState	   *estate;
	TupleTableSlot *slot;
} LogIndexes;

static LogIndexes log_indexes;

static void
audit_relcache_callback(Datum arg pg_attribute_unused(), Oid relid)
{
	HASH_SEQ_STATUS seq;
	AuditRel   *ar;

	if (relid == InvalidOid || relid == log_oid || relid == log_seq_oid)
	{
		log_oid = InvalidOid;
		log_seq_oid = InvalidOid;
		log_indexes.valid = false;
	}
	/* An index may keep pointers into its relcache entry (BRIN does). */
	for (int i = 0; i < log_indexes.n && log_indexes.valid; i++)
		if (log_indexes.oids[i] == relid)
			log_indexes.valid = false;
	if (audit_rels == NULL)
		return;

	/*
	 * Only mark entries stale: a trigger call in progress may be using one
	 * (invalidations arrive whenever a lock is taken).  The next lookup
	 * rebuilds it.
	 */
	hash_seq_init(&seq, audit_rels);
	while ((ar = hash_seq_search(&seq)) != NULL)
	{
		if (relid == InvalidOid || ar->relid == relid || ar->log_relid == relid)
			ar->valid = false;
	}
}

static void
audit_syscache_callback(Datum arg, int cacheid pg_attribute_unused(),
						uint32 hashvalue pg_attribute_unused())
{
	/* A schema was renamed: the cached schema names may be stale. */
	audit_relcache_callback(arg, InvalidOid);
}

/*
 * The caches above follow the relcache from the first use on, whichever
 * way the log is first written: by this trigger, or by audit_track.c.
 */
static void
register_callbacks(void)
{
	if (callback_registered)
		return;
	CacheRegisterRelcacheCallback(audit_relcache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, audit_syscache_callback, (Datum) 0);
	callback_registered = true;
}

static void
ensure_log_oids(void)
{
	Oid			nsp;

	register_callbacks();
	if (OidIsValid(log_oid))
		return;
	nsp = get_namespace_oid("apikit", true);
	if (OidIsValid(nsp))
	{
		log_oid = get_relname_relid("audit_log", nsp);
		log_seq_oid = get_relname_relid("audit_log_id_seq", nsp);
	}
	if (!OidIsValid(log_oid) || !OidIsValid(log_seq_oid))
	{
		log_oid = InvalidOid;
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("apikit.audit_log does not exist"),
				 errhint("The audit trigger belongs to the apikit extension; run CREATE EXTENSION apikit, or drop the trigger.")));
	}
}

/* Column names from one of the trigger's text[] arguments. */
static List *
names_from_arg(const char *arg, const char *tgname, Relation rel)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	List	   *names = NIL;

	arr = DatumGetArrayTypeP(OidInputFunctionCall(F_ARRAY_IN, (char *) arg,
												  TEXTOID, -1));
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("audit trigger \"%s\" on table \"%s\" has a malformed argument \"%s\"",
						tgname, RelationGetRelationName(rel), arg)));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (!nulls[i])
			names = lappend(names, TextDatumGetCString(elems[i]));
	return names;
}

static bool
name_listed(List *names, const char *name)
{
	ListCell   *lc;

	foreach(lc, names)
		if (strcmp(lfirst(lc), name) == 0)
			return true;
	return false;
}

/*
 * Every listed column must exist.  audit_track.c rewrites the lists when a
 * column is renamed or dropped; if it did not run (event triggers are off
 * with session_replication_role = replica, or disabled), a masked column
 * renamed would be logged in clear under its new name: refusing the write is
 * the safe answer, and the hint says how to fix it.
 */
static void
check_names_exist(List *names, TupleDesc desc, const char *what, Relation rel)
{
	ListCell   *lc;

	foreach(lc, names)
	{
		const char *name = lfirst(lc);
		bool		found = false;

		for (int i = 0; i < desc->natts && !found; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			found = !att->attisdropped && strcmp(NameStr(att->attname), name) == 0;
		}
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" listed in %s for auditing of table \"%s\" does not exist",
							name, what, RelationGetRelationName(rel)),
					 errdetail("The column was renamed or dropped while apikit's event trigger apikit_audit_track_ddl did not run."),
					 errhint("Call apikit.audit_enable() again with the current column names.")));
	}
}

/*
 * The table a partition's trigger was cloned from: the highest ancestor
 * with a trigger of the same name and function.  audit_enable() on a
 * partitioned table puts that table's name in the log for every partition.
 */
static Oid
audited_ancestor(Relation rel, Trigger *trigger)
{
	List	   *ancestors;
	Oid			result = RelationGetRelid(rel);

	if (!rel->rd_rel->relispartition)
		return result;
	ancestors = get_partition_ancestors(RelationGetRelid(rel));
	for (int i = list_length(ancestors) - 1; i >= 0; i--)
	{
		Relation	anc = table_open(list_nth_oid(ancestors, i), AccessShareLock);
		bool		found = false;

		if (anc->trigdesc)
		{
			for (int t = 0; t < anc->trigdesc->numtriggers && !found; t++)
			{
				Trigger    *at = &anc->trigdesc->triggers[t];

				found = at->tgfoid == trigger->tgfoid &&
					strcmp(at->tgname, trigger->tgname) == 0;
			}
		}
		table_close(anc, AccessShareLock);
		if (found)
		{
			result = list_nth_oid(ancestors, i);
			break;
		}
	}
	return result;
}

static void
build_audit_rel(AuditRel *ar, Relation rel, Trigger *trigger)
{
	TupleDesc	desc = RelationGetDescr(rel);
	List	   *exclude = NIL;
	List	   *mask = NIL;
	Bitmapset  *keyattrs;
	MemoryContext old;
	char	   *nspname;

	/*
	 * Anyone may create a temporary table and attach this trigger to it:
	 * its rows would become permanent log rows that no table backs.
	 */
	if (rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("temporary table \"%s\" cannot be audited",
						RelationGetRelationName(rel)),
				 errdetail("Audit rows are permanent and a temporary table is not; any role can create one."),
				 errhint("Drop the trigger \"%s\" from the table.", trigger->tgname)));

	/*
	 * Only as the triggers audit_enable() makes (partitions' clones have
	 * their names): under another name it would log the table a second
	 * time, with lists of its own -- a role with TRIGGER on the table could
	 * have masked columns logged in clear beside the masked rows.
	 */
	if (strcmp(trigger->tgname, TRIGGER_FOR_ROW(trigger->tgtype) ?
			   "apikit_audit" : "apikit_audit_truncate") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("apikit.audit_trigger() cannot run as trigger \"%s\" on table \"%s\"",
						trigger->tgname, RelationGetRelationName(rel)),
				 errdetail("It runs only as the trigger apikit_audit (FOR EACH ROW) or apikit_audit_truncate (FOR EACH STATEMENT, on TRUNCATE), which apikit.audit_enable() creates."),
				 errhint("Drop the trigger \"%s\", and use apikit.audit_enable().", trigger->tgname)));

	if (trigger->tgnargs != 0 && trigger->tgnargs != 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("audit trigger \"%s\" on table \"%s\" must have no arguments or two",
						trigger->tgname, RelationGetRelationName(rel)),
				 errhint("Use apikit.audit_enable() to create it.")));

	ar->cxt = AllocSetContextCreate(TopMemoryContext, "apikit audit table",
									ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(ar->cxt);

	if (trigger->tgnargs == 2)
	{
		exclude = names_from_arg(trigger->tgargs[0], trigger->tgname, rel);
		mask = names_from_arg(trigger->tgargs[1], trigger->tgname, rel);
		check_names_exist(exclude, desc, "exclude_columns", rel);
		check_names_exist(mask, desc, "mask_columns", rel);
	}

	ar->relid = RelationGetRelid(rel);

	/*
	 * A partition's rows are logged under the audited table's name; a
	 * TRUNCATE of one partition empties only that partition, so it is
	 * logged under the partition's own.
	 */
	ar->log_relid = TRIGGER_FOR_ROW(trigger->tgtype) ? audited_ancestor(rel, trigger)
		: RelationGetRelid(rel);
	nspname = get_namespace_name(get_rel_namespace(ar->log_relid));
	namestrcpy(&ar->schema_name, nspname);
	namestrcpy(&ar->table_name, get_rel_name(ar->log_relid));

	/* The replica identity: the primary key unless the DBA chose another. */
	keyattrs = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_IDENTITY_KEY);
	ar->has_key = !bms_is_empty(keyattrs);

	ar->cols = palloc0(sizeof(AuditColumn) * desc->natts);
	ar->ncols = 0;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		AuditColumn *col;
		FuncExpr   *expr;

		bool		is_key = bms_is_member(att->attnum - FirstLowInvalidHeapAttributeNumber,
										   keyattrs);
		bool		excluded = name_listed(exclude, NameStr(att->attname));

		if (att->attisdropped || apikit_attr_is_virtual(att) || (excluded && !is_key))
			continue;
		col = &ar->cols[ar->ncols++];
		col->attnum = att->attnum;
		col->masked = name_listed(mask, NameStr(att->attname));
		col->is_key = is_key;
		col->in_image = !excluded;
		col->typbyval = att->attbyval;
		col->typlen = att->attlen;
		col->typid = att->atttypid;
		col->name = pstrdup(NameStr(att->attname));
		col->namelen = strlen(col->name);

		/* to_jsonb() is polymorphic: it reads its argument's type from the call. */
		fmgr_info_cxt(F_TO_JSONB, &col->to_jsonb, ar->cxt);
		expr = makeFuncExpr(F_TO_JSONB, JSONBOID,
							list_make1(makeNullConst(att->atttypid, att->atttypmod,
													 att->attcollation)),
							InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
		col->to_jsonb.fn_expr = (Node *) expr;
	}

	MemoryContextSwitchTo(old);
}

/*
 * The trigger's settings, as a copy the caller may use for the whole call.
 * A rebuild does not free the contexts of earlier versions at once but
 * hands them to the transaction: an outer call of the same trigger (a
 * user-defined cast to json can change the audited table again) may still
 * be reading them.
 */
static void
lookup_audit_rel(Relation rel, Trigger *trigger, const char *command, AuditRel *copy)
{
	AuditRel   *ar;
	bool		found;
	bool		built = false;
	MemoryContext caller = CurrentMemoryContext;

	if (audit_rels == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(AuditRel);
		audit_rels = hash_create("apikit audited tables", 16, &ctl,
								 HASH_ELEM | HASH_BLOBS);
	}
	register_callbacks();

	ar = hash_search(audit_rels, &trigger->tgoid, HASH_ENTER, &found);
	if (!found || !ar->valid)
	{
		if (found && ar->cxt)
			MemoryContextSetParent(ar->cxt, TopTransactionContext);
		ar->cxt = NULL;

		/* An invalidation that arrives while building marks it stale again. */
		ar->valid = true;
		ar->relid = ar->log_relid = RelationGetRelid(rel);
		PG_TRY();
		{
			build_audit_rel(ar, rel, trigger);
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(caller);
			if (ar->cxt)
				MemoryContextDelete(ar->cxt);
			hash_search(audit_rels, &trigger->tgoid, HASH_REMOVE, NULL);
			PG_RE_THROW();
		}
		PG_END_TRY();
		built = true;
	}
	*copy = *ar;

	/*
	 * A table with no AUDIT row in this log yet (restored, or its trigger
	 * made by hand while the log was empty) gets its first one before its
	 * first row change: audit_track.c.  Checked whenever the settings are
	 * rebuilt, not per row.  (This may deliver invalidations that mark the
	 * entry stale; the copy stays usable for this call.)
	 */
	if (built)
	{
		apikit_audit_first_write(copy->log_relid, command);
		if (copy->relid != copy->log_relid)
			apikit_audit_first_write(copy->relid, command);
	}
}

/*
 * The commonest types straight into a jsonb value, as to_jsonb() would
 * make them, without its type lookup, text round trip and separate jsonb.
 */
static bool
fast_json_value(Oid typid, Datum value, JsonbValue *v)
{
	switch (typid)
	{
		case INT2OID:
			v->type = jbvNumeric;
			v->val.numeric = int64_to_numeric(DatumGetInt16(value));
			return true;
		case INT4OID:
			v->type = jbvNumeric;
			v->val.numeric = int64_to_numeric(DatumGetInt32(value));
			return true;
		case INT8OID:
			v->type = jbvNumeric;
			v->val.numeric = int64_to_numeric(DatumGetInt64(value));
			return true;
		case NUMERICOID:
			/* to_jsonb() makes NaN and infinities strings */
			if (numeric_is_nan(DatumGetNumeric(value)) ||
				numeric_is_inf(DatumGetNumeric(value)))
				return false;
			v->type = jbvNumeric;
			v->val.numeric = DatumGetNumeric(value);
			return true;
		case BOOLOID:
			v->type = jbvBool;
			v->val.boolean = DatumGetBool(value);
			return true;
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			v->type = jbvString;
			v->val.string.val = JsonEncodeDateTime(NULL, value, typid, NULL);
			v->val.string.len = strlen(v->val.string.val);
			return true;
		case TEXTOID:
		case VARCHAROID:
			{
				text	   *t = DatumGetTextPP(value);

				v->type = jbvString;
				v->val.string.val = VARDATA_ANY(t);
				v->val.string.len = VARSIZE_ANY_EXHDR(t);
				return true;
			}
		default:
			return false;
	}
}

/* A column's value as a jsonb value, pushed after its key. */
static void
push_column(JsonbParseState **state, AuditColumn *col, Datum value, bool isnull)
{
	JsonbValue	k,
				v;

	k.type = jbvString;
	k.val.string.val = col->name;
	k.val.string.len = col->namelen;
	pushJsonbValue(state, WJB_KEY, &k);

	if (col->masked)
	{
		v.type = jbvString;
		v.val.string.val = AUDIT_MASKED_VALUE;
		v.val.string.len = strlen(AUDIT_MASKED_VALUE);
	}
	else if (isnull)
		v.type = jbvNull;
	else if (!fast_json_value(col->typid, value, &v))
	{
		Jsonb	   *jb = DatumGetJsonbP(FunctionCall1(&col->to_jsonb, value));

		if (JB_ROOT_IS_SCALAR(jb))
			JsonbExtractScalar(&jb->root, &v);
		else
		{
			v.type = jbvBinary;
			v.val.binary.data = &jb->root;
			v.val.binary.len = VARSIZE(jb) - VARHDRSZ;
		}
	}
	pushJsonbValue(state, WJB_VALUE, &v);
}

/*
 * A value is unchanged when its bytes are.  An UPDATE that leaves a TOASTed
 * value alone keeps the same TOAST pointer; comparing the pointers avoids
 * fetching (and decompressing) both copies of a large value.
 */
static bool
same_value(Datum a, Datum b, AuditColumn *col)
{
	if (col->typlen == -1 &&
		VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(a)) &&
		VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(b)) &&
		memcmp(DatumGetPointer(a), DatumGetPointer(b),
			   VARSIZE_EXTERNAL(DatumGetPointer(a))) == 0)
		return true;
	return datum_image_eq(a, b, col->typbyval, col->typlen);
}

typedef enum
{
	IMAGE_ALL,
	IMAGE_KEY,
	IMAGE_CHANGED
} ImageKind;

static Datum
build_image(AuditRel *ar, Datum *values, bool *nulls, ImageKind kind, bool *changed)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < ar->ncols; i++)
	{
		AuditColumn *col = &ar->cols[i];

		if (kind == IMAGE_KEY ? !col->is_key :
			(!col->in_image || (kind == IMAGE_CHANGED && !changed[i])))
			continue;
		push_column(&state, col, values[col->attnum - 1], nulls[col->attnum - 1]);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(res));
}

/*
 * The actor: apikit.actor if set, else the sub claim PostgREST put in
 * request.jwt.claims (or, before PostgREST 10, request.jwt.claim.sub), else
 * session_user.  The claims are parsed once per distinct value.
 */
static void
claims_error_context(void *arg pg_attribute_unused())
{
	errcontext("reading the actor from request.jwt.claims for an audit row");
}

static char *
sub_from_claims(const char *claims)
{
	static char *last_claims = NULL;
	static char *last_sub = NULL;
	ErrorContextCallback errcb;
	Jsonb	   *jb;
	JsonbValue *sub;
	char	   *result = NULL;

	if (last_claims && strcmp(last_claims, claims) == 0)
		return last_sub;

	errcb.callback = claims_error_context;
	errcb.arg = NULL;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(claims)));
	error_context_stack = errcb.previous;

	if (JB_ROOT_IS_OBJECT(jb) &&
		(sub = getKeyJsonValueFromContainer(&jb->root, "sub", 3, NULL)) != NULL)
	{
		if (sub->type == jbvString)
			result = pnstrdup(sub->val.string.val, sub->val.string.len);
		else if (sub->type == jbvNumeric)
			result = DatumGetCString(DirectFunctionCall1(numeric_out,
														 NumericGetDatum(sub->val.numeric)));
	}

	if (last_claims)
		pfree(last_claims);
	if (last_sub)
		pfree(last_sub);
	last_claims = MemoryContextStrdup(TopMemoryContext, claims);
	last_sub = result ? MemoryContextStrdup(TopMemoryContext, result) : NULL;
	return last_sub;
}

static const char *
current_actor(void)
{
	static Oid	session_user = InvalidOid;
	static char *session_user_name = NULL;
	const char *claims;

	if (apikit_actor && apikit_actor[0] != '\0')
		return apikit_actor;

	claims = GetConfigOption("request.jwt.claims", true, false);
	if (claims && claims[0] != '\0')
	{
		const char *sub = sub_from_claims(claims);

		if (sub)
			return sub;
	}
	claims = GetConfigOption("request.jwt.claim.sub", true, false);
	if (claims && claims[0] != '\0')
		return claims;

	if (session_user != GetSessionUserId())
	{
		char	   *name = GetUserNameFromId(GetSessionUserId(), false);

		if (session_user_name)
			pfree(session_user_name);
		session_user_name = MemoryContextStrdup(TopMemoryContext, name);
		session_user = GetSessionUserId();
	}
	return session_user_name;
}

/* The client's address, once per session; null over a Unix socket. */
static bool
client_addr(Datum *addr)
{
	static bool known = false;
	static bool isnull = true;
	static Datum value;

	if (!known)
	{
		LOCAL_FCINFO(fcinfo, 0);
		Datum		d;

		InitFunctionCallInfoData(*fcinfo, NULL, 0, InvalidOid, NULL, NULL);
		d = inet_client_addr(fcinfo);
		if (!fcinfo->isnull)
		{
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

			value = datumCopy(d, false, -1);
			MemoryContextSwitchTo(old);
			isnull = false;
		}
		known = true;
	}
	*addr = value;
	return !isnull;
}

static Datum
current_db_user(void)
{
	static Oid	user = InvalidOid;
	static NameData name;

	if (user != GetUserId())
	{
		namestrcpy(&name, GetUserNameFromId(GetUserId(), false));
		user = GetUserId();
	}
	return NameGetDatum(&name);
}


static void
build_log_indexes(Relation logrel)
{
	List	   *oids;
	ListCell   *lc;
	MemoryContext old;
	int			i = 0;

	/*
	 * The old version may still be in use by an outer call (an expression
	 * index a DBA added could run code that writes an audited table): it
	 * goes with the transaction instead of now.
	 */
	if (log_indexes.cxt)
		MemoryContextSetParent(log_indexes.cxt, TopTransactionContext);
	memset(&log_indexes, 0, sizeof(log_indexes));
	apikit_audit_check_log_desc(RelationGetDescr(logrel));
	log_indexes.cxt = AllocSetContextCreate(TopMemoryContext, "apikit audit log indexes",
											ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(log_indexes.cxt);
	oids = RelationGetIndexList(logrel);
	log_indexes.n = list_length(oids);
	log_indexes.oids = palloc0(sizeof(Oid) * log_indexes.n);
	log_indexes.info = palloc0(sizeof(IndexInfo *) * log_indexes.n);
	log_indexes.predicate = palloc0(sizeof(ExprState *) * log_indexes.n);
	/* A copy: the relcache's descriptor would be pinned by one transaction. */
	log_indexes.slot = MakeSingleTupleTableSlot(CreateTupleDescCopy(RelationGetDescr(logrel)),
												&TTSOpsHeapTuple);
	foreach(lc, oids)
	{
		Relation	index = index_open(lfirst_oid(lc), RowExclusiveLock);
		IndexInfo  *ii = BuildIndexInfo(index);

		log_indexes.oids[i] = lfirst_oid(lc);
		log_indexes.info[i] = ii;
		if (ii->ii_Expressions != NIL || ii->ii_Predicate != NIL)
		{
			if (log_indexes.estate == NULL)
			{
				log_indexes.estate = CreateExecutorState();
				GetPerTupleExprContext(log_indexes.estate)->ecxt_scantuple = log_indexes.slot;
			}
			if (ii->ii_Predicate != NIL)
				log_indexes.predicate[i] = ExecPrepareQual(ii->ii_Predicate, log_indexes.estate);
		}
		index_close(index, NoLock);
		i++;
	}
	MemoryContextSwitchTo(old);
	log_indexes.valid = true;
}

/* Insert the row into the heap and every index, as CatalogTupleInsert does. */
static void
insert_log_row(Relation logrel, HeapTuple tup)
{
	LogIndexes	li = log_indexes;	/* a copy: see build_log_indexes() */
	ExprContext *econtext;

	simple_heap_insert(logrel, tup);

	ExecStoreHeapTuple(tup, li.slot, false);
	econtext = li.estate ? GetPerTupleExprContext(li.estate) : NULL;
	for (int i = 0; i < li.n; i++)
	{
		IndexInfo  *ii = li.info[i];
		Relation	index;
		Datum		values[INDEX_MAX_KEYS];
		bool		isnull[INDEX_MAX_KEYS];

		if (!ii->ii_ReadyForInserts)
			continue;
		if (li.predicate[i] && !ExecQual(li.predicate[i], econtext))
			continue;
		/* The lock on the table keeps the index list valid (see write_row). */
		index = index_open(li.oids[i], RowExclusiveLock);
		apikit_index_insert_begin(ii);
		FormIndexDatum(ii, li.slot, li.estate, values, isnull);
		index_insert(index, values, isnull, &tup->t_self, logrel,
					 index->rd_index->indisunique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO,
					 false, ii);
		/* The IndexInfo outlives this row: nothing may stay pinned in it. */
		apikit_index_insert_cleanup(index, ii);
		index_close(index, NoLock);
	}
	ExecClearTuple(li.slot);
	if (econtext)
		ResetExprContext(econtext);
}

/*
 * One row into apikit.audit_log: the row changes of an audited table, and
 * the changes to its auditing (audit_track.c).  Returns the row's ID.
 */
static int64
write_row(Oid relid, Name schema_name, Name table_name, int op,
		  Datum row_key, Datum old_row, Datum new_row, Datum changed_columns)
{
	Relation	logrel;
	Datum		values[AUDIT_NCOLUMNS];
	bool		nulls[AUDIT_NCOLUMNS];
	uint8		hash[AUDIT_HASH_LEN];
	bytea	   *hashval;
	HeapTuple	tup;
	int64		id;
	Oid			logoid;
	Oid			seqoid;

	/* Copies: opening the table may deliver an invalidation that clears them. */
	ensure_log_oids();
	logoid = log_oid;
	seqoid = log_seq_oid;

	/*
	 * Opening the table takes its lock and applies any invalidation first:
	 * an index created or dropped since the last row has committed by then
	 * (both need a lock that conflicts with ours), and the index list is
	 * rebuilt.
	 */
	logrel = table_open(logoid, RowExclusiveLock);
	if (!log_indexes.valid)
		build_log_indexes(logrel);

	/*
	 * The transaction has its ID before it takes an audit row ID: sealing
	 * relies on every row ID below the sequence's value belonging to a
	 * transaction whose ID was assigned before the value was read.
	 */
	(void) GetTopTransactionId();
	id = nextval_internal(seqoid, false);

	memset(nulls, false, sizeof(nulls));
	values[AUDIT_COL_ID] = Int64GetDatum(id);
	values[AUDIT_COL_TS] = TimestampTzGetDatum(GetCurrentStatementStartTimestamp());
	values[AUDIT_COL_XID] = FullTransactionIdGetDatum(GetTopFullTransactionId());
	values[AUDIT_COL_OP] = op_text[op];
	values[AUDIT_COL_RELID] = ObjectIdGetDatum(relid);
	values[AUDIT_COL_SCHEMA_NAME] = NameGetDatum(schema_name);
	values[AUDIT_COL_TABLE_NAME] = NameGetDatum(table_name);
	values[AUDIT_COL_ROW_KEY] = row_key;
	nulls[AUDIT_COL_ROW_KEY] = row_key == (Datum) 0;
	values[AUDIT_COL_OLD_ROW] = old_row;
	nulls[AUDIT_COL_OLD_ROW] = old_row == (Datum) 0;
	values[AUDIT_COL_NEW_ROW] = new_row;
	nulls[AUDIT_COL_NEW_ROW] = new_row == (Datum) 0;
	values[AUDIT_COL_CHANGED_COLUMNS] = changed_columns;
	nulls[AUDIT_COL_CHANGED_COLUMNS] = changed_columns == (Datum) 0;
	values[AUDIT_COL_ACTOR] = CStringGetTextDatum(current_actor());
	values[AUDIT_COL_DB_USER] = current_db_user();
	nulls[AUDIT_COL_APPLICATION_NAME] = application_name == NULL || application_name[0] == '\0';
	if (!nulls[AUDIT_COL_APPLICATION_NAME])
		values[AUDIT_COL_APPLICATION_NAME] = CStringGetTextDatum(application_name);
	nulls[AUDIT_COL_CLIENT_ADDR] = !client_addr(&values[AUDIT_COL_CLIENT_ADDR]);
	nulls[AUDIT_COL_STATEMENT] = !apikit_audit_statement || debug_query_string == NULL;
	if (!nulls[AUDIT_COL_STATEMENT])
		values[AUDIT_COL_STATEMENT] = CStringGetTextDatum(debug_query_string);

	apikit_audit_row_hash(values, nulls, hash);
	hashval = palloc(VARHDRSZ + AUDIT_HASH_LEN);
	SET_VARSIZE(hashval, VARHDRSZ + AUDIT_HASH_LEN);
	memcpy(VARDATA(hashval), hash, AUDIT_HASH_LEN);
	values[AUDIT_COL_ROW_HASH] = PointerGetDatum(hashval);

	tup = heap_form_tuple(RelationGetDescr(logrel), values, nulls);
	insert_log_row(logrel, tup);
	heap_freetuple(tup);
	table_close(logrel, NoLock);
	return id;
}

static void
init_op_text(void)
{
	static const char *const ops[] = {"INSERT", "UPDATE", "DELETE", "TRUNCATE", "AUDIT"};
	MemoryContext old;

	if (op_text[0] != (Datum) 0)
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	for (int i = 0; i < (int) lengthof(ops); i++)
		op_text[i] = CStringGetTextDatum(ops[i]);
	MemoryContextSwitchTo(old);
}

enum
{
	OP_INSERT, OP_UPDATE, OP_DELETE, OP_TRUNCATE, OP_AUDIT
};

static void
write_log_row(AuditRel *ar, int op, Datum row_key, Datum old_row, Datum new_row,
			  Datum changed_columns)
{
	(void) write_row(ar->log_relid, &ar->schema_name, &ar->table_name, op,
					 row_key, old_row, new_row, changed_columns);
}

/*
 * A change to a table's auditing, as audit_track.c describes it: written
 * like a row change, by the same code, so that it is hashed and sealed the
 * same way.  Only C code calls this; no SQL function writes the log.
 */
int64
apikit_audit_write_event(Oid relid, const char *schema_name, const char *table_name,
						 Jsonb *old_row, Jsonb *new_row, ArrayType *changed_columns)
{
	NameData	schema;
	NameData	table;

	init_op_text();
	namestrcpy(&schema, schema_name);
	namestrcpy(&table, table_name);
	return write_row(relid, &schema, &table, OP_AUDIT, (Datum) 0,
					 old_row ? JsonbPGetDatum(old_row) : (Datum) 0,
					 JsonbPGetDatum(new_row),
					 changed_columns ? PointerGetDatum(changed_columns) : (Datum) 0);
}

/*
 * A TRUNCATE trigger left on a table that is no longer audited (a partition
 * detached from its audited table keeps it, while its cloned row trigger
 * goes) writes nothing, as the table's row changes write nothing.
 */
static bool
audited_by_row_trigger(Relation rel, Trigger *trigger)
{
	TriggerDesc *trigdesc = rel->trigdesc;

	for (int i = 0; trigdesc && i < trigdesc->numtriggers; i++)
	{
		Trigger    *t = &trigdesc->triggers[i];

		if (t->tgfoid == trigger->tgfoid && TRIGGER_FOR_ROW(t->tgtype) &&
			t->tgenabled != TRIGGER_DISABLED)
			return true;
	}
	return false;
}

/*
 * TRUNCATE of a partitioned table also truncates, and fires the TRUNCATE
 * triggers of, every partition below it, after its own: one row says it
 * all.  The tables truncated by the current command are remembered, and a
 * partition whose ancestor is among them writes nothing.
 */
static bool
truncate_logged_above(Relation rel)
{
	static FullTransactionId xid;
	static CommandId cid = InvalidCommandId;
	static List *truncated = NIL;	/* in TopMemoryContext */
	FullTransactionId cur_xid = GetTopFullTransactionId();
	CommandId	cur_cid = GetCurrentCommandId(false);
	bool		above = false;
	MemoryContext old;

	if (cid != cur_cid || !FullTransactionIdEquals(xid, cur_xid))
	{
		list_free(truncated);
		truncated = NIL;
		xid = cur_xid;
		cid = cur_cid;
	}
	if (rel->rd_rel->relispartition)
	{
		ListCell   *lc;

		foreach(lc, get_partition_ancestors(RelationGetRelid(rel)))
			above |= list_member_oid(truncated, lfirst_oid(lc));
	}
	old = MemoryContextSwitchTo(TopMemoryContext);
	truncated = lappend_oid(truncated, RelationGetRelid(rel));
	MemoryContextSwitchTo(old);
	return above;
}

Datum
apikit_audit_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	AuditRel   *ar;
	TriggerEvent ev;
	AuditRel	entry;
	int			natts;
	Datum	   *oldv = NULL,
			   *newv = NULL;
	bool	   *oldn = NULL,
			   *newn = NULL;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("apikit.audit_trigger() can only be called as a trigger"),
				 errhint("Use apikit.audit_enable() to audit a table.")));
	ev = td->tg_event;
	if (!TRIGGER_FIRED_AFTER(ev) ||
		(TRIGGER_FIRED_BY_TRUNCATE(ev) ? !TRIGGER_FIRED_FOR_STATEMENT(ev)
		 : !TRIGGER_FIRED_FOR_ROW(ev)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("apikit.audit_trigger() must fire AFTER, FOR EACH ROW for INSERT, UPDATE and DELETE and FOR EACH STATEMENT for TRUNCATE"),
				 errhint("Use apikit.audit_enable() to audit a table.")));

	if (!apikit_audit_enabled)
		return PointerGetDatum(NULL);

	init_op_text();
	rel = td->tg_relation;
	lookup_audit_rel(rel, td->tg_trigger,
					 TRIGGER_FIRED_BY_INSERT(ev) ? "INSERT" :
					 TRIGGER_FIRED_BY_UPDATE(ev) ? "UPDATE" :
					 TRIGGER_FIRED_BY_DELETE(ev) ? "DELETE" : "TRUNCATE",
					 &entry);
	ar = &entry;

	if (TRIGGER_FIRED_BY_TRUNCATE(ev))
	{
		if (audited_by_row_trigger(rel, td->tg_trigger) && !truncate_logged_above(rel))
			write_log_row(ar, OP_TRUNCATE, (Datum) 0, (Datum) 0, (Datum) 0, (Datum) 0);
		return PointerGetDatum(NULL);
	}

	desc = RelationGetDescr(rel);
	natts = desc->natts;
	if (TRIGGER_FIRED_BY_UPDATE(ev) || TRIGGER_FIRED_BY_DELETE(ev))
	{
		oldv = palloc(sizeof(Datum) * natts);
		oldn = palloc(sizeof(bool) * natts);
		heap_deform_tuple(td->tg_trigtuple, desc, oldv, oldn);
	}
	if (TRIGGER_FIRED_BY_INSERT(ev) || TRIGGER_FIRED_BY_UPDATE(ev))
	{
		newv = palloc(sizeof(Datum) * natts);
		newn = palloc(sizeof(bool) * natts);
		heap_deform_tuple(TRIGGER_FIRED_BY_INSERT(ev) ? td->tg_trigtuple : td->tg_newtuple,
						  desc, newv, newn);
	}

	if (TRIGGER_FIRED_BY_INSERT(ev))
	{
		Datum		new_row = build_image(ar, newv, newn, IMAGE_ALL, NULL);

		write_log_row(ar, OP_INSERT,
					  ar->has_key ? build_image(ar, newv, newn, IMAGE_KEY, NULL) : new_row,
					  (Datum) 0, new_row, (Datum) 0);
	}
	else if (TRIGGER_FIRED_BY_DELETE(ev))
	{
		Datum		old_row = build_image(ar, oldv, oldn, IMAGE_ALL, NULL);

		write_log_row(ar, OP_DELETE,
					  ar->has_key ? build_image(ar, oldv, oldn, IMAGE_KEY, NULL) : old_row,
					  old_row, (Datum) 0, (Datum) 0);
	}
	else
	{
		bool	   *changed = palloc(sizeof(bool) * ar->ncols);
		Datum	   *names = palloc(sizeof(Datum) * ar->ncols);
		int			nchanged = 0;
		Datum		new_row;

		for (int i = 0; i < ar->ncols; i++)
		{
			AuditColumn *col = &ar->cols[i];
			int			a = col->attnum - 1;

			changed[i] = col->in_image &&
				(oldn[a] != newn[a] ||
				 (!oldn[a] && !same_value(oldv[a], newv[a], col)));
			if (changed[i])
				names[nchanged++] = CStringGetTextDatum(col->name);
		}
		if (nchanged == 0)
			return PointerGetDatum(NULL);

		new_row = build_image(ar, newv, newn, IMAGE_ALL, NULL);
		write_log_row(ar, OP_UPDATE,
					  ar->has_key ? build_image(ar, newv, newn, IMAGE_KEY, NULL) : new_row,
					  build_image(ar, oldv, oldn, IMAGE_CHANGED, changed),
					  new_row,
					  PointerGetDatum(construct_array(names, nchanged, TEXTOID, -1, false,
													  TYPALIGN_INT)));
	}
	return PointerGetDatum(NULL);
}

/*
 * apikit.audit_trigger_args(tgargs bytea): pg_trigger.tgargs split into
 * its arguments, for the audited_tables view (SQL cannot split on NUL).
 */
PG_FUNCTION_INFO_V1(apikit_audit_trigger_args);

Datum
apikit_audit_trigger_args(PG_FUNCTION_ARGS)
{
	bytea	   *raw = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(raw);
	const char *end = p + VARSIZE_ANY_EXHDR(raw);
	ArrayBuildState *astate = initArrayResult(TEXTOID, CurrentMemoryContext, false);

	while (p < end)
	{
		const char *nul = memchr(p, '\0', end - p);
		int			len = nul ? nul - p : end - p;

		astate = accumArrayResult(astate,
								  PointerGetDatum(cstring_to_text_with_len(p, len)),
								  false, TEXTOID, CurrentMemoryContext);
		p += len + 1;
	}
	PG_RETURN_DATUM(makeArrayResult(astate, CurrentMemoryContext));
}
