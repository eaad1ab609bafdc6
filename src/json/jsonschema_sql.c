/*
 * jsonschema_sql.c
 *		The SQL functions of JSON Schema validation, the per-backend cache
 *		of compiled schemas, the registry apikit.json_schemas and the
 *		built-in meta-schemas.
 *
 * Compiling a schema costs far more than validating one document, and a
 * CHECK constraint or an API function passes the same schema on every
 * call.  So each call site keeps the schema it compiled last (fn_extra),
 * and the backend keeps up to JSON_CACHE_SIZE more, found by content: equal
 * bytes are the same schema whatever query they came from.  The cached
 * schemas that read the registry are dropped when apikit.json_schemas
 * changes in any backend (a relcache invalidation its trigger sends), and
 * a generation counter tells call sites that what they hold is gone.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/primnodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "apikit.h"
#include "compat.h"
#include "guc.h"
#include "jsonschema.h"
#include "jsonschema_metadata.h"
#include "jsonschema_uri.h"

#define JSON_CACHE_SIZE 128
/* ... and at most this much memory, unless one schema alone needs more */
#define JSON_CACHE_BYTES ((Size) 64 * 1024 * 1024)

typedef struct CacheEntry
{
	uint32		hash;
	int			draft;
	char	   *uri;			/* NULL for an anonymous schema */
	JsSchema   *schema;
	Size		bytes;
	uint64		last_used;
} CacheEntry;

static CacheEntry cache[JSON_CACHE_SIZE];
static int	cache_count = 0;
static Size cache_bytes = 0;
static uint64 cache_clock = 0;
/* Bumped whenever a compiled schema is freed: call sites recheck. */
static uint64 cache_generation = 1;
static Oid	registry_relid = InvalidOid;
static SPIPlanPtr registry_plan = NULL;

/*
 * A compile that read the registry may have read it under a snapshot
 * older than a change whose invalidation arrived meanwhile (or, in a
 * REPEATABLE READ transaction, older than any change since it began).
 * Such a schema is used for its call only, never cached: registry_epoch
 * counts invalidations, and registry_changed_in_xact says one arrived
 * during the current transaction.
 */
static uint64 registry_epoch = 0;
static bool registry_changed_in_xact = false;
static uint64 xact_serial = 0;	/* counts this backend's transactions */

/* What a call site keeps in fn_extra. */
typedef struct CallSite
{
	uint64		generation;
	int			draft;
	JsSchema   *schema;
	char	   *uri;			/* json_validate_uri: the URI it was for */
	bool		schema_const;	/* the schema argument is a constant */
	bool		transient;		/* schema is not cached: freed when stale */
	uint64		transient_epoch;	/* registry_epoch when compiled */
	uint64		transient_xact; /* xact_serial when compiled */
	bool		meta_checked;	/* jsonschema_validation_errors: the schema
								 * passed its meta-schema */
	MemoryContext eval_cxt;		/* reset at every call */
} CallSite;

/* ---- built-in meta-schemas ---- */

Jsonb *
jsonschema_builtin(const char *uri)
{
	static Jsonb *parsed[32];

	for (int i = 0; jsonschema_builtin_docs[i].uri; i++)
		if (strcmp(jsonschema_builtin_docs[i].uri, uri) == 0)
		{
			Assert(i < (int) lengthof(parsed));
			if (parsed[i] == NULL)
			{
				MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

				parsed[i] = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
															   CStringGetDatum(jsonschema_builtin_docs[i].json)));
				MemoryContextSwitchTo(old);
			}
			return parsed[i];
		}
	return NULL;
}

const char *
jsonschema_metaschema_uri(int draft)
{
	return draft == JS_DRAFT_7 ? "http://json-schema.org/draft-07/schema"
		: "https://json-schema.org/draft/2020-12/schema";
}

/* ---- the registry ---- */

/*
 * The schema registered under uri, copied into the current memory context,
 * or NULL.  Nothing is ever fetched: an unregistered URI does not resolve.
 */
Jsonb *
jsonschema_registry_lookup(const char *uri)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum		arg = CStringGetTextDatum(uri);
	Jsonb	   *result = NULL;
	int			rc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (registry_plan == NULL)
	{
		Oid			argtypes[1] = {TEXTOID};
		SPIPlanPtr	plan = SPI_prepare("SELECT schema FROM apikit.json_schemas"
									   " WHERE uri OPERATOR(pg_catalog.=) $1",
									   1, argtypes);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		registry_plan = plan;
	}
	/* every time: the extension may have been dropped and created again */
	registry_relid = get_relname_relid("json_schemas", get_namespace_oid("apikit", false));

	rc = SPI_execute_plan(registry_plan, &arg, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			Jsonb	   *jb = DatumGetJsonbP(d);

			result = MemoryContextAlloc(caller, VARSIZE(jb));
			memcpy(result, jb, VARSIZE(jb));
		}
	}
	SPI_finish();
	return result;
}

static void
cache_drop(int i)
{
	cache_bytes -= cache[i].bytes;
	jsonschema_free(cache[i].schema);
	cache[i] = cache[--cache_count];
	cache_generation++;
}

/* A change to apikit.json_schemas, here or in another backend. */
static void
registry_changed(Datum arg, Oid relid)
{
	(void) arg;

	/*
	 * Until this backend knows the registry's OID (its first lookup, or
	 * again after the extension was recreated), any relation may be it.
	 */
	if (OidIsValid(relid) && OidIsValid(registry_relid) && relid != registry_relid)
		return;
	registry_epoch++;
	/* a change seen before the transaction's first snapshot is in it */
	if (FirstSnapshotSet)
		registry_changed_in_xact = true;
	for (int i = cache_count - 1; i >= 0; i--)
		if (cache[i].schema->uses_registry)
			cache_drop(i);
	cache_generation++;
}

static void
registry_xact_end(XactEvent event, void *arg)
{
	(void) arg;
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		registry_changed_in_xact = false;
		xact_serial++;
	}
}

void
apikit_jsonschema_init(void)
{
	CacheRegisterRelcacheCallback(registry_changed, (Datum) 0);
	RegisterXactCallback(registry_xact_end, NULL);
}

/*
 * The registry's two trigger functions read its rows by column number and
 * type.  Attached to any other table (a superuser can; EXECUTE is revoked
 * from PUBLIC, which CREATE TRIGGER checks), or to a registry whose
 * columns were altered, they would read a text as jsonb: refuse.
 */
static void
registry_trigger_check(TriggerData *trigdata, const char *fname)
{
	Relation	rel = trigdata->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	Oid			nsp = get_namespace_oid("apikit", true);

	if (!OidIsValid(nsp) ||
		RelationGetRelid(rel) != get_relname_relid("json_schemas", nsp))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s can only be a trigger of apikit.json_schemas", fname),
				 errdetail("It was fired by trigger \"%s\" on table \"%s\".",
						   trigdata->tg_trigger->tgname, RelationGetRelationName(rel))));
	if (desc->natts < 2 ||
		TupleDescAttr(desc, 0)->attisdropped || TupleDescAttr(desc, 0)->atttypid != TEXTOID ||
		TupleDescAttr(desc, 1)->attisdropped || TupleDescAttr(desc, 1)->atttypid != JSONBOID)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s needs apikit.json_schemas to begin with the columns uri text and schema jsonb", fname)));
}

PG_FUNCTION_INFO_V1(apikit_json_schemas_changed);
Datum
apikit_json_schemas_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("apikit.json_schemas_changed() must be called as a trigger")));
	registry_trigger_check(trigdata, "apikit.json_schemas_changed()");
	/* delivered to every backend at commit, and here at the next command */
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}

/* ---- the cache ---- */

/*
 * The compiled schema for these bytes (and URI), read as draft when it has
 * no "$schema", from the cache or freshly compiled into it.  *transient is
 * set when it could not be cached (see registry_epoch): the caller frees
 * it after this one use.
 */
static JsSchema *
cache_get(Jsonb *schema, const char *uri, int draft, bool from_registry,
		  uint64 epoch_before, bool *transient)
{
	uint32		hash = hash_bytes((const unsigned char *) schema, VARSIZE(schema));
	int			victim;
	Size		bytes;
	JsSchema   *s;

	for (int i = 0; i < cache_count; i++)
	{
		CacheEntry *e = &cache[i];

		if (e->hash == hash && e->draft == draft &&
			VARSIZE(e->schema->source) == VARSIZE(schema) &&
			memcmp(e->schema->source, schema, VARSIZE(schema)) == 0 &&
			((e->uri == NULL && uri == NULL) ||
			 (e->uri && uri && strcmp(e->uri, uri) == 0)))
		{
			e->last_used = ++cache_clock;
			*transient = false;
			return e->schema;
		}
	}

	s = jsonschema_compile(schema, uri, draft, false, CacheMemoryContext);
	if (from_registry)
		s->uses_registry = true;	/* the URI's entry may change */
	*transient = false;
	if (s->unresolved ||
		(s->uses_registry && (registry_epoch != epoch_before || registry_changed_in_xact)))
	{
		*transient = true;
		return s;
	}
	bytes = MemoryContextMemAllocated(s->cxt, true);
	while (cache_count > 0 &&
		   (cache_count == JSON_CACHE_SIZE || cache_bytes + bytes > JSON_CACHE_BYTES))
	{
		victim = 0;
		for (int i = 1; i < cache_count; i++)
			if (cache[i].last_used < cache[victim].last_used)
				victim = i;
		cache_drop(victim);
	}
	cache_bytes += bytes;
	cache[cache_count].bytes = bytes;
	cache[cache_count].hash = hash;
	cache[cache_count].draft = draft;
	cache[cache_count].uri = uri ? MemoryContextStrdup(s->cxt, uri) : NULL;
	cache[cache_count].schema = s;
	cache[cache_count].last_used = ++cache_clock;
	cache_count++;
	return s;
}

/*
 * Whether argument argnum of this call is a literal.  (Not
 * get_fn_expr_arg_stable(): it also trusts external Params, and PL/pgSQL
 * reuses one expression state for many values of its variables.)
 */
static bool
arg_is_const(FmgrInfo *flinfo, int argnum)
{
	Node	   *expr = flinfo->fn_expr;
	List	   *args;

	if (expr == NULL || !IsA(expr, FuncExpr))
		return false;
	args = ((FuncExpr *) expr)->args;
	return argnum < list_length(args) && IsA(list_nth(args, argnum), Const);
}

static CallSite *
call_site(FunctionCallInfo fcinfo)
{
	CallSite   *site = fcinfo->flinfo->fn_extra;

	if (site == NULL)
	{
		site = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(CallSite));
		site->eval_cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
											   "apikit JSON schema evaluation",
											   ALLOCSET_DEFAULT_SIZES);
		site->schema_const = arg_is_const(fcinfo->flinfo, 0);
		fcinfo->flinfo->fn_extra = site;
	}
	else
	{
		MemoryContextReset(site->eval_cxt);

		/*
		 * A schema that could not be cached serves its call site for the
		 * rest of its transaction (a statement's every row, a restore's
		 * COPY), until the registry changes again.
		 */
		if (site->transient &&
			(site->transient_epoch != registry_epoch || site->transient_xact != xact_serial))
		{
			jsonschema_free(site->schema);
			site->schema = NULL;
			site->transient = false;
		}
	}
	return site;
}

/* Keep s at the call site (it was just compiled or found in the cache). */
static void
site_keep(FunctionCallInfo fcinfo, CallSite *site, JsSchema *s, bool transient,
		  const char *uri, int draft)
{
	if (site->transient && site->schema != s)
		jsonschema_free(site->schema);
	site->schema = s;
	site->transient = transient;
	/* a transient schema goes with the call site if no call frees it */
	if (transient)
	{
		MemoryContextSetParent(s->cxt, fcinfo->flinfo->fn_mcxt);
		site->transient_epoch = registry_epoch;
		site->transient_xact = xact_serial;
	}
	site->generation = cache_generation;
	site->draft = draft;
	site->meta_checked = false;
	if (site->uri)
		pfree(site->uri);
	site->uri = uri ? MemoryContextStrdup(fcinfo->flinfo->fn_mcxt, uri) : NULL;
}

/*
 * The schema the call site holds, if it is still the one for a literal
 * schema argument (a CHECK constraint's): then it need not even be read.
 */
static inline JsSchema *
site_const_schema(CallSite *site, int draft)
{
	if (site->schema && site->schema_const && site->uri == NULL &&
		site->generation == cache_generation && site->draft == draft)
		return site->schema;
	return NULL;
}

/* Whether the call site holds the compiled form of these bytes. */
static bool
site_holds(CallSite *site, Jsonb *schema, int draft)
{
	JsSchema   *s = site->schema;

	return s && site->generation == cache_generation && site->draft == draft &&
		site->uri == NULL && VARSIZE(s->source) == VARSIZE(schema) &&
		memcmp(s->source, schema, VARSIZE(schema)) == 0;
}

/* The compiled schema for this call, from the call site when it can. */
static JsSchema *
schema_for(FunctionCallInfo fcinfo, CallSite *site, Jsonb *schema, int draft)
{
	JsSchema   *s = site_const_schema(site, draft);
	bool		transient;

	if (s)
		return s;
	if (site_holds(site, schema, draft))
		return site->schema;
	s = cache_get(schema, NULL, draft, false, registry_epoch, &transient);
	site_keep(fcinfo, site, s, transient, NULL, draft);
	return s;
}

/*
 * The compiled schema of the document named uri: a built-in meta-schema,
 * else a registered schema; NULL if neither.  Kept at the call site.
 */
static JsSchema *
schema_by_uri(FunctionCallInfo fcinfo, CallSite *site, const char *uri, int draft)
{
	uint64		epoch = registry_epoch;
	bool		from_registry = false;
	bool		transient;
	JsSchema   *s;
	Jsonb	   *doc = jsonschema_builtin(uri);

	if (doc == NULL)
	{
		doc = jsonschema_registry_lookup(uri);
		from_registry = true;
	}
	if (doc == NULL)
		return NULL;
	s = cache_get(doc, uri, draft, from_registry, epoch, &transient);
	site_keep(fcinfo, site, s, transient, uri, draft);
	return s;
}

/* ---- SQL functions ---- */

/*
 * pg_jsonschema's functions read a schema without "$schema" as 2020-12,
 * whatever apikit.json_default_draft says, and assert "format" only in
 * draft 7 (see compat_formats): the answers of CHECK constraints written
 * for pg_jsonschema stay what they were.
 */
#define COMPAT_DRAFT JS_DRAFT_2020

/*
 * Validate in the call site's evaluation context, which the next call
 * resets: whatever evaluation allocates goes with it.  Errors, when asked
 * for, live there too, until the caller has turned them into its result.
 */
static bool
run(CallSite *site, JsSchema *s, Jsonb *instance, JsErrors *errors, bool formats)
{
	MemoryContext old = MemoryContextSwitchTo(site->eval_cxt);
	bool		ok = jsonschema_validate(s, instance, errors, formats);

	MemoryContextSwitchTo(old);
	return ok;
}

static bool
validate(FunctionCallInfo fcinfo, JsErrors *errors)
{
	Jsonb	   *schema = PG_GETARG_JSONB_P(0);
	Jsonb	   *instance = PG_GETARG_JSONB_P(1);
	CallSite   *site = call_site(fcinfo);

	return run(site, schema_for(fcinfo, site, schema, apikit_json_default_draft),
			   instance, errors, apikit_json_format_assertion);
}

static void
push_key(JsonbParseState **state, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(state, WJB_KEY, &k);
}

static void
push_string(JsonbParseState **state, const char *key, const char *value)
{
	JsonbValue	v;

	push_key(state, key);
	v.type = jbvString;
	v.val.string.val = (char *) value;
	v.val.string.len = strlen(value);
	pushJsonbValue(state, WJB_VALUE, &v);
}

/* What the last output unit says when errors were not kept. */
static char *
omitted_message(const JsErrors *errors)
{
	int64		omitted = errors->total - errors->nitems;

	return psprintf(omitted == 1 ? INT64_FORMAT " more error is not listed (the list stops at %d errors or %d kB)"
					: INT64_FORMAT " more errors are not listed (the list stops at %d errors or %d kB)",
					omitted, JS_MAX_ERRORS, (int) (JS_MAX_ERROR_BYTES / 1024));
}

/*
 * The errors as JSON Schema's "basic" output units.  When some were not
 * kept, a last unit says how many, in "error" for people and as the
 * number "omitted" for programs.
 */
static Jsonb *
errors_jsonb(const JsErrors *errors)
{
	JsonbParseState *state = NULL;
	JsonbValue *result;

	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < errors->nitems; i++)
	{
		JsError    *e = errors->items[i];

		pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
		push_string(&state, "instanceLocation", e->instance_location);
		push_string(&state, "keywordLocation", e->keyword_location);
		push_string(&state, "error", e->message);
		pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	}
	if (errors->total > errors->nitems)
	{
		JsonbValue	n;

		pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
		push_string(&state, "instanceLocation", "");
		push_string(&state, "keywordLocation", "");
		push_string(&state, "error", omitted_message(errors));
		push_key(&state, "omitted");
		n.type = jbvNumeric;
		n.val.numeric = int64_to_numeric(errors->total - errors->nitems);
		pushJsonbValue(&state, WJB_VALUE, &n);
		pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	}
	result = pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	return JsonbValueToJsonb(result);
}

PG_FUNCTION_INFO_V1(apikit_json_validate);
Datum
apikit_json_validate(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(validate(fcinfo, NULL));
}

PG_FUNCTION_INFO_V1(apikit_json_validation_errors);
Datum
apikit_json_validation_errors(PG_FUNCTION_ARGS)
{
	JsErrors	errors;

	validate(fcinfo, &errors);
	PG_RETURN_JSONB_P(errors_jsonb(&errors));
}

/*
 * json_assert_valid's error: 22023, or PostgREST's PGRST with status 400
 * when apikit.json_errors_as_http is on (that setting only shapes the
 * error, never whether there is one).
 */
pg_noreturn static void
assert_failed(const JsErrors *errors, const char *sql_message,
			  const char *http_message, const char *sql_hint)
{
	JsError    *first = errors->nitems > 0 ? errors->items[0] : NULL;
	char	   *json = JsonbToCString(NULL, &errors_jsonb(errors)->root, -1);

	if (apikit_json_errors_as_http)
	{
		/* PostgREST takes the body from the message, status from detail */
		JsonbParseState *state = NULL;
		JsonbValue *v;
		char	   *message;

		pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
		push_string(&state, "code", "AK400");
		push_string(&state, "message", http_message);
		push_string(&state, "details", json);
		push_string(&state, "hint", first ? psprintf("%s: %s", first->instance_location[0] ? first->instance_location : "/", first->message)
					: "The value is invalid.");
		v = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
		message = JsonbToCString(NULL, &JsonbValueToJsonb(v)->root, -1);
		ereport(ERROR,
				(errcode(MAKE_SQLSTATE('P', 'G', 'R', 'S', 'T')),
				 errmsg_internal("%s", message),
				 errdetail_internal("{\"status\": 400, \"headers\": {}}")));
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s", sql_message),
			 errdetail_internal("%s", json),
			 sql_hint ? errhint("%s", sql_hint) :
			 first ? errhint("First error at \"%s\": %s.", first->instance_location, first->message) : 0));
	pg_unreachable();
}

/*
 * Not STRICT: a missing body (SQL NULL, as PostgREST passes an absent
 * argument with a default of NULL) is an error, not a pass.  The JSON
 * value null is a body like any other.
 */
PG_FUNCTION_INFO_V1(apikit_json_assert_valid);
Datum
apikit_json_assert_valid(PG_FUNCTION_ARGS)
{
	JsErrors	errors;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the JSON schema of json_assert_valid must not be null")));
	if (PG_ARGISNULL(1))
	{
		JsError		missing = {
			.instance_location = "",
			.keyword_location = "",
			.message = "the value is missing (SQL NULL)",
		};
		JsError    *items[1] = {&missing};

		errors.items = items;
		errors.nitems = 1;
		errors.total = 1;
		assert_failed(&errors, "the JSON value to validate is missing",
					  "The request body is missing.",
					  "SQL NULL is no JSON value; the JSON value null is (pass 'null'::jsonb where the schema allows it).");
	}
	else
	{
		Jsonb	   *schema = PG_GETARG_JSONB_P(0);
		Jsonb	   *instance = PG_GETARG_JSONB_P(1);
		CallSite   *site = call_site(fcinfo);
		JsSchema   *s = schema_for(fcinfo, site, schema, apikit_json_default_draft);

		/*
		 * Most bodies are valid: a boolean validation stops at the first
		 * failure and builds no paths.  Only a failed one is walked again,
		 * collecting.
		 */
		if (run(site, s, instance, NULL, apikit_json_format_assertion))
			PG_RETURN_VOID();
		run(site, s, instance, &errors, apikit_json_format_assertion);
		assert_failed(&errors, "the JSON value does not match the schema",
					  "The request body does not match its JSON schema.", NULL);
	}
	PG_RETURN_VOID();
}

/*
 * The URI of the meta-schema a schema names with "$schema", else the one
 * of draft's.  (A "$schema" that is not a string is left to the
 * meta-schema to refuse.)
 */
static const char *
metaschema_uri_of(Jsonb *schema, int draft)
{
	JV			root;
	JV			kw;

	jv_root(schema, &root);
	if (root.type == JV_OBJECT && jv_object_find(&root, "$schema", 7, &kw) && kw.type == JV_STRING)
	{
		char	   *uri = pnstrdup(kw.str, kw.len);
		size_t		len = strlen(uri);
		int			known = jsonschema_known_draft(uri);

		if (len > 0 && uri[len - 1] == '#')
			uri[len - 1] = '\0';
		return known ? jsonschema_metaschema_uri(known) : uri;
	}
	return jsonschema_metaschema_uri(draft);
}

pg_noreturn static void
unknown_metaschema(const char *uri)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown JSON schema meta-schema \"%s\"", uri),
			 errhint("Use \"https://json-schema.org/draft/2020-12/schema\" or \"http://json-schema.org/draft-07/schema#\", or register the meta-schema in apikit.json_schemas.")));
}

/*
 * The compiled meta-schema at uri, kept at the call site; NULL when it is
 * neither built in nor registered.
 */
static JsSchema *
metaschema_at_site(FunctionCallInfo fcinfo, CallSite *site, const char *uri, int draft)
{
	if (site->schema && site->generation == cache_generation && site->uri &&
		site->draft == draft && strcmp(site->uri, uri) == 0)
		return site->schema;
	return schema_by_uri(fcinfo, site, uri, draft);
}

PG_FUNCTION_INFO_V1(apikit_json_schema_is_valid);
Datum
apikit_json_schema_is_valid(PG_FUNCTION_ARGS)
{
	Jsonb	   *schema = PG_GETARG_JSONB_P(0);
	CallSite   *site = call_site(fcinfo);
	const char *meta_uri = metaschema_uri_of(schema, apikit_json_default_draft);
	JsSchema   *s = metaschema_at_site(fcinfo, site, meta_uri, apikit_json_default_draft);

	if (s == NULL)
		unknown_metaschema(meta_uri);
	PG_RETURN_BOOL(run(site, s, schema, NULL, true));
}

PG_FUNCTION_INFO_V1(apikit_json_validate_uri);
Datum
apikit_json_validate_uri(PG_FUNCTION_ARGS)
{
	char	   *uri = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Jsonb	   *instance = PG_GETARG_JSONB_P(1);
	CallSite   *site = call_site(fcinfo);
	JsSchema   *s;

	if (site->schema && site->generation == cache_generation &&
		site->draft == apikit_json_default_draft && site->uri && strcmp(site->uri, uri) == 0)
		s = site->schema;
	else if ((s = schema_by_uri(fcinfo, site, uri, apikit_json_default_draft)) == NULL &&
			 jsonschema_restoring())
		PG_RETURN_BOOL(true);	/* a restore, before the registry's rows */
	else if (s == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no JSON schema is registered under \"%s\"", uri),
				 errhint("Register it with INSERT INTO apikit.json_schemas (uri, schema).")));
	PG_RETURN_BOOL(run(site, s, instance, NULL, apikit_json_format_assertion));
}

/* ---- pg_jsonschema's signatures ---- */

/* A json argument as jsonb (jsonb keeps the last of duplicate keys). */
static Jsonb *
json_arg(FunctionCallInfo fcinfo, int argno)
{
	char	   *json = text_to_cstring(PG_GETARG_TEXT_PP(argno));

	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}

/*
 * The schema of a pg_jsonschema-style call.  A literal one compiled
 * before is not even converted to jsonb again.
 */
static JsSchema *
compat_schema(FunctionCallInfo fcinfo, CallSite *site)
{
	JsSchema   *s = site_const_schema(site, COMPAT_DRAFT);

	return s ? s : schema_for(fcinfo, site, json_arg(fcinfo, 0), COMPAT_DRAFT);
}

/*
 * pg_jsonschema's validator (the jsonschema crate) asserts "format" by
 * default in draft 7 and treats it as an annotation in 2020-12.  A dialect
 * with the format-assertion vocabulary asserts it in either (JsNode).
 */
static bool
compat_formats(const JsSchema *s)
{
	return s->root->draft == JS_DRAFT_7;
}

PG_FUNCTION_INFO_V1(apikit_json_matches_schema);
Datum
apikit_json_matches_schema(PG_FUNCTION_ARGS)
{
	CallSite   *site = call_site(fcinfo);
	JsSchema   *s = compat_schema(fcinfo, site);

	PG_RETURN_BOOL(run(site, s, json_arg(fcinfo, 1), NULL, compat_formats(s)));
}

PG_FUNCTION_INFO_V1(apikit_jsonb_matches_schema);
Datum
apikit_jsonb_matches_schema(PG_FUNCTION_ARGS)
{
	CallSite   *site = call_site(fcinfo);
	JsSchema   *s = compat_schema(fcinfo, site);

	PG_RETURN_BOOL(run(site, s, PG_GETARG_JSONB_P(1), NULL, compat_formats(s)));
}

/*
 * Validate schema against its meta-schema, into errors; the meta-schema
 * is taken from the cache, not kept at the call site (which keeps the
 * schema itself).
 */
static bool
metaschema_check(CallSite *site, Jsonb *schema, int draft, JsErrors *errors)
{
	const char *uri = metaschema_uri_of(schema, draft);
	uint64		epoch = registry_epoch;
	bool		from_registry = false;
	bool		transient;
	bool		ok;
	Jsonb	   *doc = jsonschema_builtin(uri);
	JsSchema   *meta;

	if (doc == NULL)
	{
		doc = jsonschema_registry_lookup(uri);
		from_registry = true;
	}
	if (doc == NULL)
		unknown_metaschema(uri);
	meta = cache_get(doc, uri, draft, from_registry, epoch, &transient);
	ok = run(site, meta, schema, errors, true);
	if (transient)
		jsonschema_free(meta);
	return ok;
}

/*
 * pg_jsonschema answers false and, when the first problem is inside the
 * schema, says where in a NOTICE.
 */
PG_FUNCTION_INFO_V1(apikit_jsonschema_is_valid);
Datum
apikit_jsonschema_is_valid(PG_FUNCTION_ARGS)
{
	CallSite   *site = call_site(fcinfo);
	Jsonb	   *schema = json_arg(fcinfo, 0);
	const char *meta_uri = metaschema_uri_of(schema, COMPAT_DRAFT);
	JsSchema   *s = metaschema_at_site(fcinfo, site, meta_uri, COMPAT_DRAFT);
	JsErrors	errors;

	if (s == NULL)
		unknown_metaschema(meta_uri);
	if (run(site, s, schema, &errors, true))
		PG_RETURN_BOOL(true);
	if (errors.nitems > 0 && errors.items[0]->instance_location[0] != '\0')
		ereport(NOTICE,
				(errmsg("Invalid JSON schema at path: %s", errors.items[0]->instance_location)));
	PG_RETURN_BOOL(false);
}

static Datum
text_array(List *strings)
{
	int			n = list_length(strings);
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	ListCell   *lc;
	int			i = 0;

	foreach(lc, strings)
		elems[i++] = CStringGetTextDatum(lfirst(lc));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * The errors' messages, without locations, as pg_jsonschema returns them.
 * A schema its meta-schema refuses gives one element saying why (as
 * pg_jsonschema returns its compile error) rather than an error.
 */
PG_FUNCTION_INFO_V1(apikit_jsonschema_validation_errors);
Datum
apikit_jsonschema_validation_errors(PG_FUNCTION_ARGS)
{
	CallSite   *site = call_site(fcinfo);
	JsSchema   *s = site->meta_checked ? site_const_schema(site, COMPAT_DRAFT) : NULL;
	JsErrors	errors;
	List	   *messages = NIL;

	if (s == NULL)
	{
		Jsonb	   *schema = json_arg(fcinfo, 0);

		if (site->meta_checked && site_holds(site, schema, COMPAT_DRAFT))
			s = site->schema;
		else
		{
			if (!metaschema_check(site, schema, COMPAT_DRAFT, &errors))
			{
				JsError    *e = errors.nitems > 0 ? errors.items[0] : NULL;

				PG_RETURN_DATUM(text_array(list_make1(e ? psprintf("invalid JSON schema at \"%s\": %s",
																	e->instance_location, e->message)
													  : "invalid JSON schema")));
			}
			s = schema_for(fcinfo, site, schema, COMPAT_DRAFT);
			site->meta_checked = true;
		}
	}
	run(site, s, json_arg(fcinfo, 1), &errors, compat_formats(s));
	for (int i = 0; i < errors.nitems; i++)
		messages = lappend(messages, errors.items[i]->message);
	if (errors.total > errors.nitems)
		messages = lappend(messages, omitted_message(&errors));
	PG_RETURN_DATUM(text_array(messages));
}

/* ---- the registry's rows ---- */

/*
 * A registry row that its meta-schema accepts must also compile, as a
 * reference to its URI would compile it: a "$ref" to "#/$defs/nope" or a
 * pattern apikit cannot run passes the meta-schema, and would fail every
 * validation that reaches it.  A reference to a document that is not
 * registered (yet) accepts anything here: schemas may be registered in any
 * order.  The compile's own error becomes the row's 23514, keeping its
 * message; a cancel or anything else stays what it was.
 */
static void
registry_row_compiles(const char *uri, Jsonb *schema, int draft)
{
	MemoryContext old = CurrentMemoryContext;

	PG_TRY();
	{
		jsonschema_free(jsonschema_compile(schema, uri, draft, true, CurrentMemoryContext));
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(old);
		e = CopyErrorData();
		if (e->sqlerrcode != ERRCODE_INVALID_PARAMETER_VALUE &&
			e->sqlerrcode != ERRCODE_INVALID_REGULAR_EXPRESSION &&
			e->sqlerrcode != ERRCODE_FEATURE_NOT_SUPPORTED &&
			e->sqlerrcode != ERRCODE_PROGRAM_LIMIT_EXCEEDED)
			PG_RE_THROW();
		FlushErrorState();
		/* thrown at once: nothing is left to clean up but by the abort */
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("the JSON schema for \"%s\" cannot be compiled: %s", uri, e->message),
				 e->detail ? errdetail("%s", e->detail) : 0,
				 e->hint ? errhint("%s", e->hint) : 0));
	}
	PG_END_TRY();
}

/*
 * BEFORE INSERT OR UPDATE FOR EACH ROW on apikit.json_schemas: refuse rows
 * that can never work.  The URI must be absolute (a "$ref" resolves to
 * nothing else) and not a built-in meta-schema's (those always win); the
 * schema must be valid against its meta-schema: its "$schema"'s, else the
 * default draft's, or, without "$schema", the other draft's (a schema
 * written for draft 7 is read as draft 7 when a draft-7 schema refers to
 * it).  A meta-schema that is not registered is an error.  And it must
 * compile (registry_row_compiles).
 *
 * While a restore brings the rows in (jsonschema_restoring), nothing is
 * checked: the row order of a COPY is not the order they were registered
 * in, and a dump must come back whole, whatever a row was let in by (a
 * superuser with the trigger disabled, an earlier version).
 */
PG_FUNCTION_INFO_V1(apikit_json_schemas_check);
Datum
apikit_json_schemas_check(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	char	   *uri;
	Jsonb	   *schema;
	const char *meta_uri;
	int			draft = apikit_json_default_draft;
	CallSite   *site;
	JsSchema   *meta;
	JsErrors	errors;
	JsError    *first;
	JV			root;
	JV			kw;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("apikit.json_schemas_check() must be called as a BEFORE INSERT OR UPDATE row trigger")));
	registry_trigger_check(trigdata, "apikit.json_schemas_check()");
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	desc = RelationGetDescr(trigdata->tg_relation);

	/* NULLs are the NOT NULL constraints' to refuse */
	d = heap_getattr(tuple, 1, desc, &isnull);
	if (isnull)
		return PointerGetDatum(tuple);
	uri = TextDatumGetCString(d);
	d = heap_getattr(tuple, 2, desc, &isnull);
	if (isnull || jsonschema_restoring())
		return PointerGetDatum(tuple);
	schema = DatumGetJsonbP(d);

	if (!jsonschema_uri_is_absolute(uri, strlen(uri)))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("a JSON schema must be registered under an absolute URI without a fragment, not \"%s\"", uri),
				 errdetail("\"$ref\" resolves references to absolute URIs, so a schema registered under any other would never be found."),
				 errhint("Use a URI with a scheme, such as \"https://example.com/schemas/order\" or \"urn:example:order\".")));
	if (jsonschema_builtin(uri) || jsonschema_known_draft(uri))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("\"%s\" is a built-in meta-schema and cannot be registered", uri),
				 errdetail("References to built-in meta-schemas always resolve to the built-in copy.")));

	site = call_site(fcinfo);
	meta_uri = metaschema_uri_of(schema, draft);
	meta = metaschema_at_site(fcinfo, site, meta_uri, draft);
	if (meta == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("the JSON schema for \"%s\" names the unknown meta-schema \"%s\"", uri, meta_uri),
				 errhint("Register the meta-schema first, in a statement of its own.")));
	if (run(site, meta, schema, &errors, true))
	{
		registry_row_compiles(uri, schema, draft);
		return PointerGetDatum(tuple);
	}

	/* without "$schema", a schema valid in the other draft may be meant so */
	jv_root(schema, &root);
	if (!(root.type == JV_OBJECT && jv_object_find(&root, "$schema", 7, &kw)))
	{
		JsErrors	other;
		int			other_draft = draft == JS_DRAFT_7 ? JS_DRAFT_2020 : JS_DRAFT_7;

		if (metaschema_check(site, schema, other_draft, &other))
		{
			registry_row_compiles(uri, schema, other_draft);
			return PointerGetDatum(tuple);
		}
	}
	first = errors.nitems > 0 ? errors.items[0] : NULL;
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("the JSON schema for \"%s\" is not valid against its meta-schema", uri),
			 first ? errdetail("At \"%s\": %s (meta-schema \"%s\").",
							   first->instance_location, first->message, meta_uri) : 0,
			 errhint("apikit.json_validation_errors('{\"$ref\": \"%s\"}', schema) lists every error.", meta_uri)));
	return PointerGetDatum(NULL);
}
