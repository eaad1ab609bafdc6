/*
 * gcra.c
 *		GCRA, the "virtual scheduling" leaky bucket of redis-cell and nginx
 *		limit_req: one theoretical arrival time (TAT) per key.
 *
 * The state is a single int64, so the shared-memory glue can update it with
 * a compare-and-swap; a TAT at or before now means "full capacity", so such
 * entries carry no information and may be dropped without changing any
 * answer.
 *
 * Differences from redis-cell, on purpose:
 *	- a request larger than the limit can never succeed: it is denied with
 *	  remaining 0 and no retry time (redis-cell answers "remaining = full"),
 *	  as the Redis core port settled on;
 *	- times are nanoseconds of a monotonic clock supplied by the caller.
 *
 * This file must not include PostgreSQL headers: test/unit links it alone.
 */
#include "gcra.h"

/*
 * Reject what would overflow or mean nothing.  The policies table has the
 * same rules as CHECK constraints; this is the last line of defence.
 */
bool
gcra_policy_init(GcraPolicy *policy, int64_t period_ns, int32_t rate, int32_t burst)
{
	int64_t		emission;

	if (period_ns <= 0 || rate <= 0 || burst < 0 || burst == INT32_MAX)
		return false;
	emission = period_ns / rate;
	if (emission <= 0)
		return false;
	if ((int64_t) burst + 1 > GCRA_MAX_TAU_NS / emission)
		return false;

	policy->emission_ns = emission;
	policy->limit = burst + 1;
	policy->tau_ns = emission * policy->limit;
	return true;
}

static int32_t
remaining_at(const GcraPolicy *policy, int64_t tat, int64_t now)
{
	int64_t		ahead = tat > now ? tat - now : 0;
	int64_t		room = policy->tau_ns - ahead;

	return room <= 0 ? 0 : (int32_t) (room / policy->emission_ns);
}

/*
 * Decide one request of "cost" units at time "now" against stored state
 * "tat" (0 or any time <= now for a key never seen or fully recovered).
 * Cost 0 only looks.  Nothing is changed unless result->store is set.
 */
void
gcra_apply(const GcraPolicy *policy, int64_t tat, int64_t now, int32_t cost,
		   GcraResult *result)
{
	int64_t		base = tat > now ? tat : now;

	result->limit = policy->limit;
	result->store = false;
	result->new_tat = base;

	/* Looking always works, even when a policy shrank below the state. */
	if (cost == 0)
	{
		result->allowed = true;
		result->retry_after_ns = -1;
		result->reset_after_ns = base - now;
		result->remaining = remaining_at(policy, base, now);
		return;
	}

	if (cost > policy->limit)
	{
		result->allowed = false;
		result->remaining = 0;
		result->retry_after_ns = -1;
		result->reset_after_ns = base - now;
		return;
	}

	/* cost <= limit, so cost * T <= tau: no overflow. */
	{
		int64_t		new_tat = base + (int64_t) cost * policy->emission_ns;
		int64_t		allow_at = new_tat - policy->tau_ns;

		if (now < allow_at)
		{
			result->allowed = false;
			result->retry_after_ns = allow_at - now;
			result->reset_after_ns = base - now;
			result->remaining = remaining_at(policy, base, now);
			return;
		}

		result->allowed = true;
		result->retry_after_ns = -1;
		result->store = cost > 0;
		result->new_tat = new_tat;
		result->reset_after_ns = new_tat - now;
		result->remaining = remaining_at(policy, new_tat, now);
	}
}

/*
 * Nanoseconds until the quota next grows, for the "t" parameter of the
 * RateLimit header ("seconds until additional quota is made available"):
 * 0 when the key is at full capacity.  Remaining grows by one each time the
 * room tau - (tat - now) crosses a multiple of T.  The room is negative when
 * a policy was made stricter than a stored state: then the first unit comes
 * back once the room reaches T.
 */
int64_t
gcra_refill_ns(const GcraPolicy *policy, int64_t tat, int64_t now)
{
	int64_t		ahead = tat > now ? tat - now : 0;
	int64_t		room = policy->tau_ns - ahead;

	if (ahead == 0)
		return 0;
	if (room < 0)
		return policy->emission_ns - room;
	return policy->emission_ns - room % policy->emission_ns;
}

/*
 * Decide n requests as one request: request i is checked under policies[i]
 * against state tat[state[i]], after requests 0..i-1 and against the states
 * they would leave (so a state named twice is consumed twice).  new_tat
 * (nstates long) receives the states as they would be afterwards.
 *
 * Returns true when every request is allowed: then new_tat[s] differs from
 * tat[s] exactly for the states to store, and results[] are the answers of
 * checks made one after another.  When any is denied, nothing may be
 * stored: new_tat is a copy of tat and results[] are what
 * gcra_refuse_all() makes of them.
 */
bool
gcra_apply_all(const GcraPolicy *const *policies, const int *state, int n,
			   const int64_t *tat, int64_t *new_tat, int nstates,
			   int64_t now, int32_t cost, GcraResult *results)
{
	bool		admitted = true;

	for (int s = 0; s < nstates; s++)
		new_tat[s] = tat[s];
	for (int i = 0; i < n; i++)
	{
		gcra_apply(policies[i], new_tat[state[i]], now, cost, &results[i]);
		if (!results[i].allowed)
			admitted = false;
		else if (results[i].store)
			new_tat[state[i]] = results[i].new_tat;
	}
	if (admitted)
		return true;

	for (int s = 0; s < nstates; s++)
		new_tat[s] = tat[s];
	gcra_refuse_all(policies, state, n, tat, now, results);
	return false;
}

/*
 * Make the answers of a request that consumes nothing: each becomes a peek
 * of its state as it was (remaining, reset_after), keeping its verdict and,
 * when denied, its retry time.
 */
void
gcra_refuse_all(const GcraPolicy *const *policies, const int *state, int n,
				const int64_t *tat, int64_t now, GcraResult *results)
{
	for (int i = 0; i < n; i++)
	{
		GcraResult	peek;

		gcra_apply(policies[i], tat[state[i]], now, 0, &peek);
		peek.allowed = results[i].allowed;
		peek.retry_after_ns = results[i].allowed ? -1 : results[i].retry_after_ns;
		results[i] = peek;
	}
}

/*
 * The share of its policy's capacity a state holds: 0 when fully recovered,
 * 1 when exhausted (more when a policy was made stricter since).  Dropping a
 * state gives its key back that share of a burst window, so a full table
 * evicts the state with the smallest share: a barely used key on a daily
 * quota, not an exhausted per-minute bucket that merely expires sooner.
 */
double
gcra_used_share(int64_t tat, int64_t now, int64_t tau_ns)
{
	if (tat <= now)
		return 0.0;
	if (tau_ns <= 0)
		return 1.0;
	return (double) (tat - now) / (double) tau_ns;
}
