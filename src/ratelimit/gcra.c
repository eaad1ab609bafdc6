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
