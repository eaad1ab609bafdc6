-- The table-based limiter of ../shared/research/ratelimit.md, as people
-- write it today: one row per (key, window), each check an upsert that
-- increments the counter.  The baseline of the rate-limit benchmarks.
CREATE TABLE rl_counter (
	key text NOT NULL,
	window_start timestamptz NOT NULL,
	hits integer NOT NULL,
	PRIMARY KEY (key, window_start)
);

CREATE FUNCTION rl_check(p_key text, p_limit integer, p_window_s integer)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	w timestamptz := to_timestamp(floor(extract(epoch FROM clock_timestamp()) / p_window_s) * p_window_s);
	n integer;
BEGIN
	INSERT INTO rl_counter AS c (key, window_start, hits) VALUES (p_key, w, 1)
	ON CONFLICT (key, window_start) DO UPDATE SET hits = c.hits + 1
	RETURNING c.hits INTO n;
	RETURN n <= p_limit;
END $$;

-- Generous enough that apikit's checks keep being admitted.
INSERT INTO apikit.rate_limit_policies (name, rate, period, burst)
VALUES ('bench', 1000000000, '1 second', 0);
