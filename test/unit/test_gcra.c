/*
 * test_gcra.c
 *		Unit tests for GCRA (src/ratelimit/gcra.c) with an injected clock.
 *
 * The first table is redis-cell's worked example (burst 4, 1 per second:
 * five immediate requests pass with remaining 4..0, the sixth waits 1 s),
 * continued through peeks, weighted and oversize requests and recovery.
 */
#include "gcra.h"
#include "unit.h"

#define SEC INT64_C(1000000000)
#define MS	INT64_C(1000000)

typedef struct Step
{
	int64_t		at;				/* ns since the test began */
	int32_t		cost;
	bool		allowed;
	int32_t		remaining;
	int64_t		retry_after;
	int64_t		reset_after;
} Step;

static void
run_steps(const GcraPolicy *p, const Step *steps, int n)
{
	int64_t		tat = 0;
	int64_t		origin = 1000 * SEC;	/* any monotonic origin */

	for (int i = 0; i < n; i++)
	{
		GcraResult r;

		gcra_apply(p, tat, origin + steps[i].at, steps[i].cost, &r);
		CHECK_EQ(r.allowed, steps[i].allowed);
		CHECK_EQ(r.limit, p->limit);
		CHECK_EQ(r.remaining, steps[i].remaining);
		CHECK_EQ(r.retry_after_ns, steps[i].retry_after);
		CHECK_EQ(r.reset_after_ns, steps[i].reset_after);
		/* new_tat is the state after the request, stored or not. */
		if (!r.store)
			CHECK_EQ(r.new_tat, tat > origin + steps[i].at ? tat : origin + steps[i].at);
		if (r.store)
			tat = r.new_tat;
		if (!r.allowed || steps[i].cost == 0)
			CHECK(!r.store);
	}
}

static void
test_redis_cell_table(void)
{
	GcraPolicy	p;
	static const Step steps[] = {
		/* at, cost, allowed, remaining, retry_after, reset_after */
		{0, 1, true, 4, -1, 1 * SEC},
		{0, 1, true, 3, -1, 2 * SEC},
		{0, 1, true, 2, -1, 3 * SEC},
		{0, 1, true, 1, -1, 4 * SEC},
		{0, 1, true, 0, -1, 5 * SEC},
		{0, 1, false, 0, 1 * SEC, 5 * SEC},	/* the sixth waits 1 s */
		{0, 0, true, 0, -1, 5 * SEC},	/* a peek passes, changes nothing */
		{500 * MS, 1, false, 0, 500 * MS, 4500 * MS},
		{1 * SEC, 1, true, 0, -1, 5 * SEC}, /* one per second after the burst */
		{3 * SEC, 2, true, 0, -1, 5 * SEC}, /* two seconds bought two */
		{3 * SEC, 6, false, 0, -1, 5 * SEC},	/* over the limit: never */
		{10 * SEC, 0, true, 5, -1, 0},	/* fully recovered */
		{10 * SEC, 5, true, 0, -1, 5 * SEC},	/* the whole limit at once */
		{11 * SEC, 3, false, 1, 2 * SEC, 4 * SEC},	/* weighted: waits for 3 */
	};

	CHECK(gcra_policy_init(&p, 1 * SEC, 1, 4));
	CHECK_EQ(p.limit, 5);
	CHECK_EQ(p.emission_ns, SEC);
	CHECK_EQ(p.tau_ns, 5 * SEC);
	run_steps(&p, steps, sizeof(steps) / sizeof(steps[0]));
}

static void
test_no_burst(void)
{
	GcraPolicy	p;
	static const Step steps[] = {
		{0, 1, true, 0, -1, 100 * MS},
		{50 * MS, 1, false, 0, 50 * MS, 50 * MS},
		{100 * MS, 1, true, 0, -1, 100 * MS},
		{100 * MS, 2, false, 0, -1, 100 * MS},	/* limit 1: 2 never fits */
	};

	/* 10 per second, burst 0: one every 100 ms. */
	CHECK(gcra_policy_init(&p, SEC, 10, 0));
	CHECK_EQ(p.limit, 1);
	run_steps(&p, steps, sizeof(steps) / sizeof(steps[0]));
}

static void
test_stale_state_is_full_capacity(void)
{
	GcraPolicy	p;
	GcraResult	r1,
				r2;

	/* A TAT in the past answers exactly like no state at all. */
	CHECK(gcra_policy_init(&p, 60 * SEC, 100, 9));
	gcra_apply(&p, 0, 5000 * SEC, 1, &r1);
	gcra_apply(&p, 4000 * SEC, 5000 * SEC, 1, &r2);
	CHECK_EQ(r1.allowed, r2.allowed);
	CHECK_EQ(r1.remaining, r2.remaining);
	CHECK_EQ(r1.reset_after_ns, r2.reset_after_ns);
	CHECK_EQ(r1.new_tat, r2.new_tat);
}

static void
test_exact_count_without_refill(void)
{
	GcraPolicy	p;
	int64_t		tat = 0;
	int			allowed = 0;

	/* 100 per day, burst 99: exactly 100 of 1000 immediate requests pass. */
	CHECK(gcra_policy_init(&p, 86400 * SEC, 100, 99));
	for (int i = 0; i < 1000; i++)
	{
		GcraResult	r;

		gcra_apply(&p, tat, 7 * SEC, 1, &r);
		if (r.allowed)
		{
			allowed++;
			tat = r.new_tat;
		}
	}
	CHECK_EQ(allowed, 100);
}

static void
test_refill_for_headers(void)
{
	GcraPolicy	p;

	CHECK(gcra_policy_init(&p, SEC, 1, 4));
	/* Full: nothing to wait for. */
	CHECK_EQ(gcra_refill_ns(&p, 0, 10 * SEC), 0);
	/* One used 300 ms ago: the next unit comes back in 700 ms. */
	CHECK_EQ(gcra_refill_ns(&p, 10 * SEC + 700 * MS, 10 * SEC), 700 * MS);
	/* Empty (tat = now + tau): the next unit in T. */
	CHECK_EQ(gcra_refill_ns(&p, 15 * SEC, 10 * SEC), SEC);
}

static void
test_policy_made_stricter(void)
{
	GcraPolicy	p;
	GcraResult	r;
	int64_t		now = 100 * SEC;
	int64_t		tat = now + 5300 * MS;	/* stored under a looser policy */

	/* Now 1 per second with a burst of 1: tau = 2 s, 5.3 s ahead. */
	CHECK(gcra_policy_init(&p, SEC, 1, 1));
	gcra_apply(&p, tat, now, 0, &r);
	CHECK(r.allowed);			/* a peek always works */
	CHECK(!r.store);
	CHECK_EQ(r.remaining, 0);
	CHECK_EQ(r.reset_after_ns, 5300 * MS);
	gcra_apply(&p, tat, now, 1, &r);
	CHECK(!r.allowed);
	CHECK_EQ(r.retry_after_ns, 4300 * MS);
	/* The RateLimit "t" agrees with the retry time. */
	CHECK_EQ(gcra_refill_ns(&p, tat, now), 4300 * MS);
}

static void
test_refill_part_used(void)
{
	GcraPolicy	p;

	/* 1 per second, burst 4 (tau 5 s); 2.4 s ahead: remaining 2, a third in 0.4 s. */
	CHECK(gcra_policy_init(&p, SEC, 1, 4));
	CHECK_EQ(gcra_refill_ns(&p, 12400 * MS, 10 * SEC), 400 * MS);
	{
		GcraResult	r;

		gcra_apply(&p, 12400 * MS, 10 * SEC, 0, &r);
		CHECK_EQ(r.remaining, 2);
	}
}

static void
test_policy_validation(void)
{
	GcraPolicy	p;

	CHECK(!gcra_policy_init(&p, 0, 1, 0));
	CHECK(!gcra_policy_init(&p, SEC, 0, 0));
	CHECK(!gcra_policy_init(&p, SEC, -5, 0));
	CHECK(!gcra_policy_init(&p, SEC, 1, -1));
	CHECK(!gcra_policy_init(&p, 10, 100, 0));	/* T would be 0 ns */
	/* tau over a year: one per day with a burst of a thousand. */
	CHECK(!gcra_policy_init(&p, 86400 * SEC, 1, 1000));
	CHECK(!gcra_policy_init(&p, SEC, 1, INT32_MAX));
	CHECK(gcra_policy_init(&p, 86400 * SEC, 1, 300));
	CHECK(gcra_policy_init(&p, 1, 1, 0));	/* 1 per ns: absurd but exact */
}

/* Several policies as one request: all consume, or none does. */
static void
test_apply_all(void)
{
	GcraPolicy	burst,
				quota;
	const GcraPolicy *policies[3];
	int			state[3];
	int64_t		tat[2] = {0, 0};
	int64_t		new_tat[2];
	GcraResult	r[3];
	int64_t		now = 50 * SEC;

	CHECK(gcra_policy_init(&burst, 60 * SEC, 1, 1));	/* limit 2 */
	CHECK(gcra_policy_init(&quota, 86400 * SEC, 100, 99));	/* limit 100 */
	policies[0] = &burst;
	policies[1] = &quota;
	state[0] = 0;
	state[1] = 1;

	/* Both allow: both states move, as two checks in a row would. */
	CHECK(gcra_apply_all(policies, state, 2, tat, new_tat, 2, now, 1, r));
	CHECK(r[0].allowed && r[1].allowed);
	CHECK_EQ(r[0].remaining, 1);
	CHECK_EQ(r[1].remaining, 99);
	CHECK_EQ(new_tat[0], now + 60 * SEC);
	CHECK_EQ(new_tat[1], now + 864 * SEC);
	tat[0] = new_tat[0];
	tat[1] = new_tat[1];
	CHECK(gcra_apply_all(policies, state, 2, tat, new_tat, 2, now, 1, r));
	tat[0] = new_tat[0];
	tat[1] = new_tat[1];

	/*
	 * The burst is spent: the third request is refused and the quota, which
	 * would allow it, keeps its state and answers as a peek.
	 */
	CHECK(!gcra_apply_all(policies, state, 2, tat, new_tat, 2, now, 1, r));
	CHECK(!r[0].allowed);
	CHECK_EQ(r[0].retry_after_ns, 60 * SEC);
	CHECK_EQ(r[0].remaining, 0);
	CHECK(r[1].allowed);
	CHECK_EQ(r[1].retry_after_ns, -1);
	CHECK_EQ(r[1].remaining, 98);
	CHECK(!r[0].store && !r[1].store);
	CHECK_EQ(new_tat[0], tat[0]);
	CHECK_EQ(new_tat[1], tat[1]);

	/* The same order the other way round: a refusal by the later one. */
	policies[0] = &quota;
	policies[1] = &burst;
	state[0] = 1;
	state[1] = 0;
	CHECK(!gcra_apply_all(policies, state, 2, tat, new_tat, 2, now, 1, r));
	CHECK(r[0].allowed && !r[1].allowed);
	CHECK_EQ(r[0].remaining, 98);
	CHECK_EQ(new_tat[1], tat[1]);
}

/* A state named twice in one request is consumed twice. */
static void
test_apply_all_same_state_twice(void)
{
	GcraPolicy	p;
	const GcraPolicy *policies[3] = {&p, &p, &p};
	int			state[3] = {0, 0, 0};
	int64_t		tat[1] = {0};
	int64_t		new_tat[1];
	GcraResult	r[3];
	int64_t		now = 7 * SEC;

	CHECK(gcra_policy_init(&p, 86400 * SEC, 3, 2));	/* limit 3 */
	CHECK(gcra_apply_all(policies, state, 2, tat, new_tat, 1, now, 1, r));
	CHECK_EQ(r[0].remaining, 2);
	CHECK_EQ(r[1].remaining, 1);
	CHECK_EQ(new_tat[0], now + 2 * 28800 * SEC);
	/* Three more on what is left (1): the second of them is refused, so none counts. */
	tat[0] = new_tat[0];
	CHECK(!gcra_apply_all(policies, state, 3, tat, new_tat, 1, now, 1, r));
	CHECK(r[0].allowed && !r[1].allowed && !r[2].allowed);
	CHECK_EQ(r[0].remaining, 1);
	CHECK_EQ(new_tat[0], tat[0]);
	/* Cost 0 looks only: admitted, nothing to store. */
	CHECK(gcra_apply_all(policies, state, 3, tat, new_tat, 1, now, 0, r));
	CHECK_EQ(new_tat[0], tat[0]);
}

/*
 * The share of capacity in use decides evictions: an exhausted per-minute
 * bucket is worth more than a single use of a daily quota, although it
 * expires far sooner.
 */
static void
test_used_share(void)
{
	GcraPolicy	minute,
				daily;
	int64_t		now = 1000 * SEC;
	int64_t		exhausted = now + 60 * SEC; /* 5 of 5 used, tau 1 min */
	int64_t		once = now + 864 * SEC / 10;	/* 1 of 1000 used, tau 1 day */

	CHECK(gcra_policy_init(&minute, 60 * SEC, 5, 4));
	CHECK(gcra_policy_init(&daily, 86400 * SEC, 1000, 999));
	CHECK(gcra_used_share(exhausted, now, minute.tau_ns) == 1.0);
	CHECK(gcra_used_share(once, now, daily.tau_ns) < 0.0011);
	CHECK(gcra_used_share(once, now, daily.tau_ns) < gcra_used_share(exhausted, now, minute.tau_ns));
	CHECK(once - now > exhausted - now);	/* ... though it expires later */
	CHECK(gcra_used_share(now - SEC, now, minute.tau_ns) == 0.0);
	CHECK(gcra_used_share(now, now, minute.tau_ns) == 0.0);
	CHECK(gcra_used_share(now + 2 * minute.tau_ns, now, minute.tau_ns) == 2.0);
}

int
main(void)
{
	RUN(test_redis_cell_table);
	RUN(test_no_burst);
	RUN(test_stale_state_is_full_capacity);
	RUN(test_exact_count_without_refill);
	RUN(test_refill_for_headers);
	RUN(test_policy_made_stricter);
	RUN(test_refill_part_used);
	RUN(test_policy_validation);
	RUN(test_apply_all);
	RUN(test_apply_all_same_state_twice);
	RUN(test_used_share);
	UNIT_DONE("gcra");
}
