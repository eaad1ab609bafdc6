/*
 * ratelimit_sql.c
 *		The SQL functions of rate limiting: checks, reset, headers, and the
 *		rows behind apikit.rate_limit_state and apikit.rate_limit_stats.
 *
 * The check functions are not STRICT: a null key or policy is a mistake in
 * the caller's code and gets an error, not a silent null.
 *
 * apikit.rate_limit_check_all() decides several (key, policy) pairs as one
 * request, for apikit.pre_request() and its like: a request refused by one
 * rule consumes nothing from the others (see ratelimit_shmem.c).
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "apikit.h"
#include "compat.h"
#include "guc.h"
#include "ratelimit.h"

PG_FUNCTION_INFO_V1(apikit_rate_limit);
PG_FUNCTION_INFO_V1(apikit_rate_limit_check);
PG_FUNCTION_INFO_V1(apikit_rate_limit_check_all);
PG_FUNCTION_INFO_V1(apikit_rate_limit_reset);
PG_FUNCTION_INFO_V1(apikit_rate_limit_headers);
PG_FUNCTION_INFO_V1(apikit_rate_limit_state);
PG_FUNCTION_INFO_V1(apikit_rate_limit_stats);
PG_FUNCTION_INFO_V1(apikit_rate_limit_usage);

/* Nanoseconds to an interval, rounded up: waiting that long is enough. */
static Datum
interval_from_ns(int64 ns)
{
	Interval   *iv = palloc0(sizeof(Interval));

	iv->time = (ns + 999) / 1000;
	return IntervalPGetDatum(iv);
}

static int64
ceil_seconds(int64 ns)
{
	return ns <= 0 ? 0 : (ns + 999999999) / 1000000000;
}

static void
check_key(text *key)
{
	if (VARSIZE_ANY_EXHDR(key) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rate-limit key must not be empty"),
				 errhint("Key by something that identifies the client: a user id, an address, an API key.")));
}

static text *
key_arg(FunctionCallInfo fcinfo, int argno)
{
	text	   *key;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("rate-limit key must not be null")));
	key = PG_GETARG_TEXT_PP(argno);
	check_key(key);
	return key;
}

static RateLimitPolicy *
policy_arg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("rate-limit policy must not be null")));
	return apikit_ratelimit_policy_text(PG_GETARG_TEXT_PP(argno));
}

static void
check_cost(int32 cost)
{
	if (cost < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rate-limit cost must not be negative"),
				 errhint("Use cost 0 to look at the state without consuming.")));
}

/* apikit.ratelimit_enabled is off: the check only looked; let it through. */
static void
bypass(RateLimitAnswer *answer)
{
	answer->allowed = true;
	answer->bypassed = true;
	answer->full = false;
	answer->retry_after_ns = -1;
}

/* The shared path of every check: arguments, the enabled switch, counters. */
static void
check(FunctionCallInfo fcinfo, int32 cost, RateLimitPolicy **policy_out,
	  RateLimitAnswer *answer)
{
	text	   *key;
	RateLimitPolicy *policy;

	apikit_shmem_require("Rate limiting");
	key = key_arg(fcinfo, 0);
	policy = policy_arg(fcinfo, 1);
	check_cost(cost);

	/* Switched off: only look, and let it through. */
	apikit_ratelimit_consume(policy, VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key),
							 apikit_ratelimit_enabled ? cost : 0, answer);
	if (!apikit_ratelimit_enabled && cost > 0)
		bypass(answer);
	if (cost > 0)
		apikit_ratelimit_count(policy->stats_slot, answer);
	*policy_out = policy;
}

static int32
cost_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("rate-limit cost must not be null")));
	return PG_GETARG_INT32(2);
}

Datum
apikit_rate_limit(PG_FUNCTION_ARGS)
{
	RateLimitPolicy *policy;
	RateLimitAnswer answer;

	check(fcinfo, cost_arg(fcinfo), &policy, &answer);
	PG_RETURN_BOOL(answer.allowed);
}

Datum
apikit_rate_limit_check(PG_FUNCTION_ARGS)
{
	RateLimitPolicy *policy;
	RateLimitAnswer answer;
	TupleDesc	desc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	check(fcinfo, cost_arg(fcinfo), &policy, &answer);

	values[0] = BoolGetDatum(answer.allowed);
	values[1] = Int32GetDatum(answer.limit);
	values[2] = Int32GetDatum(answer.remaining);
	/* Null when allowed, and when the request can never succeed. */
	nulls[3] = answer.allowed || answer.retry_after_ns < 0;
	values[3] = interval_from_ns(answer.retry_after_ns);
	values[4] = interval_from_ns(answer.reset_after_ns);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/*
 * The elements of a text[] argument of rate_limit_check_all, none of them
 * null; "what" names the argument in messages.
 */
static int
text_array_arg(FunctionCallInfo fcinfo, int argno, const char *what,
			   const char *element, Datum **values)
{
	ArrayType  *array;
	bool	   *nulls;
	int			n;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what),
				 errhint("Pass an empty array to check nothing.")));
	array = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", what)));
	/* Counted before the elements are taken apart. */
	n = ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array));
	if (n > RL_MAX_PAIRS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("apikit.rate_limit_check_all decides at most %d pairs at once", RL_MAX_PAIRS),
				 errdetail("%s has %d elements.", what, n)));
	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, values, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("rate-limit %s must not be null", element),
					 errdetail("Element %d of %s is null.", i + 1, what)));
	return n;
}

/*
 * apikit.rate_limit_check_all(keys text[], policies text[], cost integer):
 * pair i is (keys[i], policies[i]); every pair consumes cost, or none does.
 * One row per pair, in order; when a pair refused, the others' rows say
 * whether they would have allowed and show their state untouched.
 */
Datum
apikit_rate_limit_check_all(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum	   *keys;
	Datum	   *policies;
	int			nkeys;
	int			npolicies;
	int32		cost;
	RateLimitRequest *requests;
	bool		admitted;

	apikit_shmem_require("Rate limiting");
	nkeys = text_array_arg(fcinfo, 0, "keys", "key", &keys);
	npolicies = text_array_arg(fcinfo, 1, "policies", "policy", &policies);
	cost = cost_arg(fcinfo);
	check_cost(cost);
	if (nkeys != npolicies)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("keys and policies must have as many elements"),
				 errdetail("keys has %d elements, policies %d.", nkeys, npolicies)));

	requests = palloc0(sizeof(RateLimitRequest) * Max(nkeys, 1));
	for (int i = 0; i < nkeys; i++)
	{
		text	   *key = DatumGetTextPP(keys[i]);

		check_key(key);
		requests[i].key = VARDATA_ANY(key);
		requests[i].keylen = VARSIZE_ANY_EXHDR(key);
		/* A copy: the next lookup may reload the cache this points into. */
		requests[i].policy = *apikit_ratelimit_policy_text(DatumGetTextPP(policies[i]));
	}

	InitMaterializedSRF(fcinfo, 0);
	if (nkeys == 0)
		return (Datum) 0;

	admitted = apikit_ratelimit_consume_all(requests, nkeys,
											apikit_ratelimit_enabled ? cost : 0);
	for (int i = 0; i < nkeys; i++)
	{
		RateLimitAnswer *answer = &requests[i].answer;
		Datum		values[9];
		bool		nulls[9] = {false, false, false, false, false, false, false, false, false};

		if (!apikit_ratelimit_enabled && cost > 0)
			bypass(answer);

		/*
		 * Counted as what happened: consumed (allowed), refused by this
		 * policy (denied), or neither when another pair refused.
		 */
		if (cost > 0 && (answer->bypassed || admitted || !answer->allowed))
			apikit_ratelimit_count(requests[i].policy.stats_slot, answer);

		values[0] = Int32GetDatum(i + 1);
		values[1] = CStringGetTextDatum(requests[i].policy.name);
		values[2] = PointerGetDatum(cstring_to_text_with_len(requests[i].key,
															  requests[i].keylen));
		values[3] = BoolGetDatum(answer->allowed);
		values[4] = Int32GetDatum(answer->limit);
		values[5] = Int32GetDatum(answer->remaining);
		nulls[6] = answer->allowed || answer->retry_after_ns < 0;
		values[6] = interval_from_ns(answer->retry_after_ns);
		values[7] = interval_from_ns(answer->reset_after_ns);
		values[8] = BoolGetDatum(answer->full);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

Datum
apikit_rate_limit_reset(PG_FUNCTION_ARGS)
{
	text	   *key;
	int			removed = 0;

	apikit_shmem_require("Rate limiting");
	key = key_arg(fcinfo, 0);
	if (!PG_ARGISNULL(1))
	{
		/* An unknown policy is an error here too: likely a typo. */
		RateLimitPolicy *policy = policy_arg(fcinfo, 1);

		removed = apikit_ratelimit_reset_key(policy->name, VARDATA_ANY(key),
											 VARSIZE_ANY_EXHDR(key));
	}
	else
	{
		List	   *names = NIL;
		ListCell   *lc;

		apikit_ratelimit_policy_names(&names);
		foreach(lc, names)
			removed += apikit_ratelimit_reset_key(lfirst(lc), VARDATA_ANY(key),
												  VARSIZE_ANY_EXHDR(key));
	}
	PG_RETURN_INT32(removed);
}

/*
 * The header values of the IETF httpapi RateLimit draft (-10 syntax) for a
 * policy and an answer; used here and by apikit.pre_request().
 */
static void
append_headers(StringInfo buf, const RateLimitPolicy *policy,
			   const RateLimitAnswer *answer)
{
	appendStringInfo(buf, "\"RateLimit-Policy\": \"\\\"%s\\\";q=%d;w=%lld",
					 policy->name, policy->rate, (long long) policy->period_s);
	if (policy->burst > 0)
		appendStringInfo(buf, ";apikit-burst=%d", policy->burst);
	appendStringInfo(buf, "\", \"RateLimit\": \"\\\"%s\\\";r=%d;t=%lld\"",
					 policy->name, answer->remaining,
					 (long long) ceil_seconds(answer->refill_ns));
}

Datum
apikit_rate_limit_headers(PG_FUNCTION_ARGS)
{
	RateLimitPolicy *policy;
	RateLimitAnswer answer;
	StringInfoData buf;

	check(fcinfo, 0, &policy, &answer);
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	append_headers(&buf, policy, &answer);
	/* Out of quota: say when a request will pass again. */
	if (answer.remaining == 0)
		appendStringInfo(&buf, ", \"Retry-After\": \"%lld\"",
						 (long long) Max(ceil_seconds(answer.refill_ns), 1));
	appendStringInfoChar(&buf, '}');
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/*
 * Keys are personal data (user ids, addresses): superusers and members of
 * pg_read_all_stats see them, everyone else sees no rows.
 */
Datum
apikit_rate_limit_state(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RateLimitStateRow *rows;
	int			n;
	int64		now;

	apikit_shmem_require("apikit.rate_limit_state");
	InitMaterializedSRF(fcinfo, 0);
	if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS))
		return (Datum) 0;

	n = apikit_ratelimit_snapshot(&rows);
	now = apikit_ratelimit_now_ns();
	for (int i = 0; i < n; i++)
	{
		RateLimitPolicy *policy = apikit_ratelimit_policy(rows[i].policy, true);
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		int64		ahead = rows[i].tat > now ? rows[i].tat - now : 0;

		values[0] = CStringGetTextDatum(rows[i].policy);
		values[1] = CStringGetTextDatum(rows[i].key);
		if (policy != NULL)
		{
			int64		room = policy->gcra.tau_ns - ahead;

			values[2] = Int32GetDatum(room <= 0 ? 0 : (int32) (room / policy->gcra.emission_ns));
		}
		else
			nulls[2] = true;	/* the policy was deleted since */
		values[3] = interval_from_ns(ahead);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

Datum
apikit_rate_limit_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RateLimitStatsRow rows[RL_MAX_POLICY_STATS];
	int			n;

	apikit_shmem_require("apikit.rate_limit_stats");
	InitMaterializedSRF(fcinfo, 0);
	n = apikit_ratelimit_stats_rows(rows);
	for (int i = 0; i < n; i++)
	{
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};

		values[0] = CStringGetTextDatum(rows[i].policy);
		values[1] = Int64GetDatum((int64) rows[i].allowed);
		values[2] = Int64GetDatum((int64) rows[i].denied);
		values[3] = Int64GetDatum((int64) rows[i].bypassed);
		values[4] = Int64GetDatum((int64) rows[i].evicted);
		values[5] = Int64GetDatum((int64) rows[i].denied_full);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * How full the shared table is.  Counts only, of the whole cluster's table:
 * EXECUTE is for pg_read_all_stats members (the install script grants it).
 */
Datum
apikit_rate_limit_usage(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	RateLimitUsage usage;
	Datum		values[7];
	bool		nulls[7] = {false, false, false, false, false, false, false};

	apikit_shmem_require("apikit.rate_limit_usage");
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	apikit_ratelimit_usage(&usage);
	values[0] = Int32GetDatum(usage.max_keys);
	values[1] = Int64GetDatum(usage.places_used);
	values[2] = Int64GetDatum(usage.entries);
	values[3] = Int64GetDatum(usage.live);
	values[4] = Int64GetDatum(usage.database_entries);
	values[5] = Int64GetDatum(usage.database_live);
	values[6] = Int32GetDatum(usage.database_max_keys);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
