-- Question: Which customers have had the most friction with us?
-- Answer: The 20 customers with the highest friction score, highest first.
--   customer_id      the live customer (merges followed)
--   friction_score   sum of the weights of the customer's unsatisfactory moments
--   low_scores, abandoned_calls, long_waits, returns
--                    how many moments of each kind
--   first_moment, last_moment
--                    when the first and the latest moment happened (UTC)
-- Notes: From cx360.friction_moments, whose weights are the customer
--   profile's (cx.customers friction.score): a low survey score 3 (CSAT or
--   any score at most 40% of its scale, NPS 0-6 of 10, CES at least 60% of
--   its scale), an abandoned call 2 (outcome abandoned, hang, hangup), a
--   wait of 180 s or more 1, a return 2 (type return or refund, or a
--   negative order total). Moments accumulate over the customer's whole
--   history; an abandoned call after a long wait is two moments. Ties are
--   broken by the latest moment, then by customer_id. Erased customers never
--   appear.
SELECT
    customer_id,
    sum(weight) AS friction_score,
    countIf(moment = 'low_score') AS low_scores,
    countIf(moment = 'abandoned_call') AS abandoned_calls,
    countIf(moment = 'long_wait') AS long_waits,
    countIf(moment = 'return') AS returns,
    min(event_time) AS first_moment,
    max(event_time) AS last_moment
FROM cx360.friction_moments
GROUP BY customer_id
ORDER BY friction_score DESC, last_moment DESC, customer_id
LIMIT 20;
