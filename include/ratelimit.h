/*
 * ratelimit.h
 *		Rate limiting: the shared-memory table of GCRA states, the per-backend
 *		cache of policies, and the counters apikit.rate_limit_stats shows.
 */
#ifndef APIKIT_RATELIMIT_H
#define APIKIT_RATELIMIT_H

#include "gcra.h"
#include "nodes/pg_list.h"

/* Lock partitions of the shared table (a power of two, as in core). */
#define RL_PARTITIONS			16
/* Bytes of each key kept for apikit.rate_limit_state; lookups use hashes. */
#define RL_KEY_SHOWN			64
/* Policies with their own counters; more share the last slot. */
#define RL_MAX_POLICY_STATS		256
/* Entries a full table examines to make room for one new key. */
#define RL_EXAMINE				16
/* Databases whose entries are counted apart; more share the last count. */
#define RL_MAX_DATABASES		64
/* Pairs apikit.rate_limit_check_all() decides at once (it locks while deciding). */
#define RL_MAX_PAIRS			100

/* A policy as a backend caches it from apikit.rate_limit_policies. */
typedef struct RateLimitPolicy
{
	char		name[NAMEDATALEN];	/* hash key */
	GcraPolicy	gcra;
	int32		rate;
	int32		burst;
	int64		period_s;		/* whole seconds, rounded up, for headers */
	int			stats_slot;
	uint64		name_hash;		/* mixed into the key hashes */
} RateLimitPolicy;

/* What a check answers; times in nanoseconds, -1 for "none". */
typedef struct RateLimitAnswer
{
	bool		allowed;
	bool		bypassed;		/* apikit.ratelimit_enabled was off */
	int32		limit;
	int32		remaining;
	int64		retry_after_ns;
	int64		reset_after_ns;
	int64		refill_ns;		/* until the quota next grows */
	bool		full;			/* denied: a new key and no room in the table */
} RateLimitAnswer;

/* One (key, policy) pair of apikit.rate_limit_check_all(). */
typedef struct RateLimitRequest
{
	RateLimitPolicy policy;		/* a copy: the cache may reload between lookups */
	const char *key;
	int			keylen;
	RateLimitAnswer answer;
} RateLimitRequest;

/* A live entry, copied out for apikit.rate_limit_state. */
typedef struct RateLimitStateRow
{
	char		policy[NAMEDATALEN];
	char		key[RL_KEY_SHOWN];
	bool		truncated;		/* the key is longer than what is kept */
	int64		tat;
} RateLimitStateRow;

typedef struct RateLimitStatsRow
{
	char		policy[NAMEDATALEN];
	uint64		allowed;
	uint64		denied;
	uint64		bypassed;
	uint64		evicted;
	uint64		denied_full;
} RateLimitStatsRow;

/* How full the table is: apikit.rate_limit_usage(). */
typedef struct RateLimitUsage
{
	int32		max_keys;
	int64		places_used;
	int64		entries;
	int64		live;
	int64		database_entries;
	int64		database_live;
	int32		database_max_keys;	/* apikit.ratelimit_database_share of max_keys */
} RateLimitUsage;

/* ratelimit_shmem.c */
extern Size apikit_ratelimit_shmem_size(void);
extern void apikit_ratelimit_shmem_startup(void *ptr, bool found);
extern void apikit_ratelimit_shmem_request(void);
extern void apikit_ratelimit_consume(RateLimitPolicy *policy, const char *key,
									 int keylen, int32 cost, RateLimitAnswer *answer);
extern bool apikit_ratelimit_consume_all(RateLimitRequest *requests, int n, int32 cost);
extern int	apikit_ratelimit_reset_key(const char *policy, const char *key, int keylen);
extern int	apikit_ratelimit_stats_slot(Oid dbid, const char *policy);
extern void apikit_ratelimit_count(int slot, const RateLimitAnswer *answer);
extern int64 apikit_ratelimit_now_ns(void);
extern uint64 apikit_ratelimit_name_hash(const char *policy);
extern int	apikit_ratelimit_snapshot(RateLimitStateRow **rows);
extern int	apikit_ratelimit_stats_rows(RateLimitStatsRow *rows);
extern void apikit_ratelimit_usage(RateLimitUsage *usage);

/* ratelimit_policy.c */
extern RateLimitPolicy *apikit_ratelimit_policy(const char *name, bool missing_ok);
extern RateLimitPolicy *apikit_ratelimit_policy_text(text *name);
extern void apikit_ratelimit_policy_names(List **names);

#endif							/* APIKIT_RATELIMIT_H */
