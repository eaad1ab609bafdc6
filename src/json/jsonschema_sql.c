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
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "apikit.h"
#include "guc.h"
#include "jsonschema.h"
#include "jsonschema_metadata.h"

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

PG_FUNCTION_INFO_V1(apikit_json_schemas_changed);
Datum
apikit_json_schemas_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("apikit.json_schemas_changed() must be called as a trigger")));
	/* delivered to every backend at commit, and here at the next command */
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}

/* ---- the cache ---- */

/*
 * The compiled schema for these bytes (and URI), from the cache or freshly
 * compiled into it.  *transient is set when it could not be cached (see
 * registry_epoch): the caller frees it after this one use.
 */
static JsSchema *
cache_get(Jsonb *schema, const char *uri, bool from_registry,
		  uint64 epoch_before, bool *transient)
{
	uint32		hash = hash_bytes((const unsigned char *) schema, VARSIZE(schema));
	int			draft = apikit_json_default_draft;
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

	s = jsonschema_compile(schema, uri, draft, CacheMemoryContext);
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
		  const char *uri)
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
	site->draft = apikit_json_default_draft;
	if (site->uri)
		pfree(site->uri);
	site->uri = uri ? MemoryContextStrdup(fcinfo->flinfo->fn_mcxt, uri) : NULL;
}

/* The compiled schema for this call, from the call site when it can. */
static JsSchema *
schema_for(FunctionCallInfo fcinfo, CallSite *site, Jsonb *schema)
{
	JsSchema   *s = site->schema;
	bool		transient;

	/* a literal schema (a CHECK constraint's) need not be compared */
	if (s && site->generation == cache_generation &&
		site->draft == apikit_json_default_draft &&
		(site->schema_const ||
		 (VARSIZE(s->source) == VARSIZE(schema) &&
		  memcmp(s->source, schema, VARSIZE(schema)) == 0)))
		return s;
	s = cache_get(schema, NULL, false, registry_epoch, &transient);
	site_keep(fcinfo, site, s, transient, NULL);
	return s;
}

/*
 * The compiled schema of the document named uri: a built-in meta-schema,
 * else a registered schema; NULL if neither.  Kept at the call site.
 */
static JsSchema *
schema_by_uri(FunctionCallInfo fcinfo, CallSite *site, const char *uri)
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
	s = cache_get(doc, uri, from_registry, epoch, &transient);
	site_keep(fcinfo, site, s, transient, uri);
	return s;
}

/* ---- SQL functions ---- */

/*
 * Validate in the call site's evaluation context, which the next call
 * resets: whatever evaluation allocates goes with it.  Errors, when asked
 * for, live there too, until the caller has turned them into its result.
 */
static bool
run(CallSite *site, JsSchema *s, Jsonb *instance, List **errors, bool formats)
{
	MemoryContext old = MemoryContextSwitchTo(site->eval_cxt);
	bool		ok = jsonschema_validate(s, instance, errors, formats);

	MemoryContextSwitchTo(old);
	return ok;
}

static bool
validate(FunctionCallInfo fcinfo, List **errors)
{
	Jsonb	   *schema = PG_GETARG_JSONB_P(0);
	Jsonb	   *instance = PG_GETARG_JSONB_P(1);
	CallSite   *site = call_site(fcinfo);

	return run(site, schema_for(fcinfo, site, schema), instance, errors,
			   apikit_json_format_assertion);
}

static void
push_string(JsonbParseState **state, const char *key, const char *value)
{
	JsonbValue	k,
				v;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(state, WJB_KEY, &k);
	v.type = jbvString;
	v.val.string.val = (char *) value;
	v.val.string.len = strlen(value);
	pushJsonbValue(state, WJB_VALUE, &v);
}

/* The errors as JSON Schema's "basic" output units. */
static Jsonb *
errors_jsonb(List *errors)
{
	JsonbParseState *state = NULL;
	JsonbValue *result;
	ListCell   *lc;

	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	foreach(lc, errors)
	{
		JsError    *e = lfirst(lc);

		pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
		push_string(&state, "instanceLocation", e->instance_location);
		push_string(&state, "keywordLocation", e->keyword_location);
		push_string(&state, "error", e->message);
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
	List	   *errors = NIL;

	validate(fcinfo, &errors);
	PG_RETURN_JSONB_P(errors_jsonb(errors));
}

PG_FUNCTION_INFO_V1(apikit_json_assert_valid);
Datum
apikit_json_assert_valid(PG_FUNCTION_ARGS)
{
	List	   *errors = NIL;
	JsError    *first;
	char	   *json;
	int			n;

	if (validate(fcinfo, &errors))
		PG_RETURN_VOID();

	n = list_length(errors);
	first = n > 0 ? linitial(errors) : NULL;
	json = JsonbToCString(NULL, &errors_jsonb(errors)->root, -1);

	if (apikit_json_errors_as_http)
	{
		/* PostgREST takes the body from the message, status from detail */
		JsonbParseState *state = NULL;
		JsonbValue *v;
		char	   *message;

		pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
		push_string(&state, "code", "AK400");
		push_string(&state, "message", "The request body does not match its JSON schema.");
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
			 errmsg("the JSON value does not match the schema"),
			 errdetail_internal("%s", json),
			 first ? errhint("First error at \"%s\": %s.", first->instance_location, first->message) : 0));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(apikit_json_schema_is_valid);
Datum
apikit_json_schema_is_valid(PG_FUNCTION_ARGS)
{
	Jsonb	   *schema = PG_GETARG_JSONB_P(0);
	CallSite   *site = call_site(fcinfo);
	JV			root;
	JV			kw;
	const char *meta_uri = jsonschema_metaschema_uri(apikit_json_default_draft);
	JsSchema   *s;

	/* the meta-schema the schema names, else the default draft's */
	jv_root(schema, &root);
	if (root.type == JV_OBJECT && jv_object_find(&root, "$schema", 7, &kw) && kw.type == JV_STRING)
	{
		char	   *uri = pnstrdup(kw.str, kw.len);
		size_t		len = strlen(uri);
		int			draft = jsonschema_known_draft(uri);

		if (len > 0 && uri[len - 1] == '#')
			uri[len - 1] = '\0';
		meta_uri = draft ? jsonschema_metaschema_uri(draft) : uri;
	}

	if (site->schema && site->generation == cache_generation && site->uri &&
		strcmp(site->uri, meta_uri) == 0)
		s = site->schema;
	else if ((s = schema_by_uri(fcinfo, site, meta_uri)) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown JSON schema meta-schema \"%s\"", meta_uri),
				 errhint("Use \"https://json-schema.org/draft/2020-12/schema\" or \"http://json-schema.org/draft-07/schema#\", or register the meta-schema in apikit.json_schemas.")));
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
	else if ((s = schema_by_uri(fcinfo, site, uri)) == NULL && jsonschema_restoring())
		PG_RETURN_BOOL(true);	/* a restore, before the registry's rows */
	else if (s == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no JSON schema is registered under \"%s\"", uri),
				 errhint("Register it with INSERT INTO apikit.json_schemas (uri, schema).")));
	PG_RETURN_BOOL(run(site, s, instance, NULL, apikit_json_format_assertion));
}
