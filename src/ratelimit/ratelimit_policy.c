/*
 * ratelimit_policy.c
 *		Each backend's cache of apikit.rate_limit_policies.
 *
 * A check must not read a table: the cache is loaded with one query on
 * first use and kept until the policies change.  A statement trigger on the
 * table sends a relcache invalidation for it, which PostgreSQL delivers to
 * every backend when the change commits (and to this backend at once), and
 * also replays on hot standbys; the callback below marks the cache stale,
 * and the next check reloads it.  So a DBA's UPDATE applies everywhere at
 * commit, without reconnecting.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "apikit.h"
#include "compat.h"
#include "ratelimit.h"

PG_FUNCTION_INFO_V1(apikit_rate_limit_policies_changed);

static HTAB *policy_cache = NULL;
static MemoryContext policy_cache_cxt = NULL;
static bool policy_cache_valid = false;
static uint64 policy_cache_generation = 0;	/* bumped by every invalidation */
static uint64 policy_cache_loads = 0;	/* bumped by every (re)load */
static bool callback_registered = false;
static Oid	policies_relid = InvalidOid;

static void
policy_cache_callback(Datum arg pg_attribute_unused(), Oid relid)
{
	if (relid == InvalidOid || relid == policies_relid)
	{
		policy_cache_valid = false;
		policy_cache_generation++;
	}
}

static void
policy_cache_load(void)
{
	HASHCTL		info;
	HTAB	   *fresh;
	MemoryContext cxt;
	Oid			nsp;
	uint64		generation = policy_cache_generation;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(policy_cache_callback, (Datum) 0);
		callback_registered = true;
	}

	nsp = get_namespace_oid("apikit", false);
	policies_relid = get_relname_relid("rate_limit_policies", nsp);
	if (!OidIsValid(policies_relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table apikit.rate_limit_policies does not exist"),
				 errhint("Run CREATE EXTENSION apikit in this database.")));

	/*
	 * Build the new cache in a context of its own, so that an error while
	 * loading leaves nothing behind and the old cache in place.
	 */
	cxt = AllocSetContextCreate(CacheMemoryContext, "apikit rate-limit policies",
								ALLOCSET_SMALL_SIZES);
	memset(&info, 0, sizeof(info));
	info.keysize = NAMEDATALEN;
	info.entrysize = sizeof(RateLimitPolicy);
	info.hcxt = cxt;
	fresh = hash_create("apikit rate-limit policies", 64, &info,
						HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	PG_TRY();
	{

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* Every name qualified: this runs under the caller's search_path. */
	if (SPI_execute("SELECT name, rate, burst, "
					"pg_catalog.int8(pg_catalog.extract('epoch', period) OPERATOR(pg_catalog.*) 1000000000::pg_catalog.numeric), "
					"pg_catalog.int8(pg_catalog.ceil(pg_catalog.extract('epoch', period))) "
					"FROM apikit.rate_limit_policies", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read apikit.rate_limit_policies");

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *name = TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull));
		int32		rate = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		int32		burst = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		int64		period_ns = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
		int64		period_s = DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
		RateLimitPolicy *policy;
		bool		found;

		GcraPolicy	gcra;

		if (strlen(name) >= NAMEDATALEN)
			continue;			/* the table's constraint forbids it */

		/*
		 * The constraints should make this impossible; if one slips through,
		 * that policy is unknown (with a warning) instead of every check in
		 * the database failing.
		 */
		if (!gcra_policy_init(&gcra, period_ns, rate, burst))
		{
			ereport(WARNING,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("rate-limit policy \"%s\" cannot be used and is ignored", name),
					 errdetail("%d per %lld ns with a burst of %d overflows or rounds to nothing.",
							   rate, (long long) period_ns, burst),
					 errhint("Correct the policy in apikit.rate_limit_policies.")));
			continue;
		}
		policy = hash_search(fresh, name, HASH_ENTER, &found);
		policy->gcra = gcra;
		policy->rate = rate;
		policy->burst = burst;
		policy->period_s = period_s;
		policy->stats_slot = -1;	/* assigned on first check */
		policy->name_hash = apikit_ratelimit_name_hash(policy->name);
	}
	SPI_finish();
	}
	PG_CATCH();
	{
		MemoryContextDelete(cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (policy_cache)
		MemoryContextDelete(policy_cache_cxt);
	policy_cache = fresh;
	policy_cache_cxt = cxt;
	policy_cache_loads++;
	/* Valid only if no invalidation arrived while loading (nor an error). */
	policy_cache_valid = generation == policy_cache_generation;
}

/*
 * No policy has that name.  The name is the caller's input, of any length:
 * a name no policy can have (more than 63 bytes) is shown cut, at a
 * character boundary, so that a 10 MB name does not become a 10 MB error
 * in the client and the server log on every call.
 */
pg_noreturn static void
policy_unknown(const char *name, int len)
{
	if (len < NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("rate-limit policy \"%.*s\" does not exist", len, name),
				 errhint("Policies are rows of apikit.rate_limit_policies.")));
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("rate-limit policy \"%.*s...\" does not exist",
					pg_mbcliplen(name, len, NAMEDATALEN - 1), name),
			 errdetail("The name is %d bytes long; policy names are at most %d.",
					   len, NAMEDATALEN - 1),
			 errhint("Policies are rows of apikit.rate_limit_policies.")));
}

/*
 * The cached policy of that name; NULL (missing_ok) or an error when there
 * is none.  The pointer is valid until the next call.
 */
RateLimitPolicy *
apikit_ratelimit_policy(const char *name, bool missing_ok)
{
	RateLimitPolicy *policy = NULL;
	size_t		len = strlen(name);

	if (!policy_cache_valid || policy_cache == NULL)
		policy_cache_load();
	if (len < NAMEDATALEN)
		policy = hash_search(policy_cache, name, HASH_FIND, NULL);
	if (policy == NULL)
	{
		if (missing_ok)
			return NULL;
		policy_unknown(name, (int) Min(len, (size_t) PG_INT32_MAX));
	}
	if (policy->stats_slot < 0)
		policy->stats_slot = apikit_ratelimit_stats_slot(MyDatabaseId, policy->name);
	return policy;
}

/*
 * The same for a text argument.  A statement usually checks one policy many
 * times, so the last one found is remembered (until the cache reloads) and
 * recognised by comparing bytes, without a copy or a hash lookup.
 */
RateLimitPolicy *
apikit_ratelimit_policy_text(text *name)
{
	static RateLimitPolicy *last = NULL;
	static uint64 last_load = 0;
	int			len = VARSIZE_ANY_EXHDR(name);

	/*
	 * "last" points into the cache: it is good only while the cache that
	 * held it is the current one (no reload since) and still valid.
	 */
	if (last != NULL && policy_cache_valid && last_load == policy_cache_loads &&
		len < NAMEDATALEN && last->name[len] == '\0' &&
		memcmp(last->name, VARDATA_ANY(name), len) == 0)
		return last;

	/* Too long to be a policy's name: said so without copying it whole. */
	if (len >= NAMEDATALEN)
		policy_unknown(VARDATA_ANY(name), len);
	last = apikit_ratelimit_policy(text_to_cstring(name), false);
	last_load = policy_cache_loads;
	return last;
}

void
apikit_ratelimit_policy_names(List **names)
{
	HASH_SEQ_STATUS status;
	RateLimitPolicy *policy;

	if (!policy_cache_valid || policy_cache == NULL)
		policy_cache_load();
	hash_seq_init(&status, policy_cache);
	while ((policy = hash_seq_search(&status)) != NULL)
		*names = lappend(*names, pstrdup(policy->name));
}

/* Statement trigger on apikit.rate_limit_policies: tell every backend. */
Datum
apikit_rate_limit_policies_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("apikit.rate_limit_policies_changed() must be called as a trigger")));
	/* Harmless elsewhere, but meant for one table: say so, as the others do. */
	if (RelationGetRelid(trigdata->tg_relation) !=
		get_relname_relid("rate_limit_policies", get_namespace_oid("apikit", false)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("apikit.rate_limit_policies_changed() can only be a trigger of apikit.rate_limit_policies"),
				 errdetail("It was fired by trigger \"%s\" on table \"%s\".",
						   trigdata->tg_trigger->tgname,
						   RelationGetRelationName(trigdata->tg_relation))));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}
