/*
 * gcra.h
 *		The Generic Cell Rate Algorithm, as redis-cell defines it: pure
 *		integer arithmetic on nanoseconds, no PostgreSQL headers, so that
 *		test/unit can check it against exact tables with an injected clock.
 */
#ifndef APIKIT_GCRA_H
#define APIKIT_GCRA_H

#include <stdbool.h>
#include <stdint.h>

/*
 * A policy admits rate requests per period with a burst: limit = burst + 1
 * requests at once, then one every emission interval T = period / rate.
 * tau = T * limit is how far ahead of now the theoretical arrival time may
 * run.
 */
typedef struct GcraPolicy
{
	int64_t		emission_ns;	/* T */
	int64_t		tau_ns;			/* T * limit */
	int32_t		limit;			/* burst + 1 */
} GcraPolicy;

/* The answer to one request. */
typedef struct GcraResult
{
	bool		allowed;
	bool		store;			/* new_tat must be stored (allowed with cost > 0) */
	int32_t		limit;
	int32_t		remaining;		/* unit requests that would pass right now */
	int64_t		retry_after_ns; /* when denied: wait this long; -1 if allowed or never */
	int64_t		reset_after_ns; /* until the key is back to full capacity */
	int64_t		new_tat;		/* the state after this request (store it if store) */
} GcraResult;

/* The largest tau a policy may have: a year, far from int64 overflow. */
#define GCRA_MAX_TAU_NS ((int64_t) 366 * 24 * 3600 * 1000000000)

extern bool gcra_policy_init(GcraPolicy *policy, int64_t period_ns,
							 int32_t rate, int32_t burst);
extern void gcra_apply(const GcraPolicy *policy, int64_t tat, int64_t now,
					   int32_t cost, GcraResult *result);
extern int64_t gcra_refill_ns(const GcraPolicy *policy, int64_t tat, int64_t now);
extern bool gcra_apply_all(const GcraPolicy *const *policies, const int *state,
						   int n, const int64_t *tat, int64_t *new_tat,
						   int nstates, int64_t now, int32_t cost,
						   GcraResult *results);
extern void gcra_refuse_all(const GcraPolicy *const *policies, const int *state,
							int n, const int64_t *tat, int64_t now,
							GcraResult *results);
extern double gcra_used_share(int64_t tat, int64_t now, int64_t tau_ns);

#endif							/* APIKIT_GCRA_H */
