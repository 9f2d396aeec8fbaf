-- Question: How many of the customers who call us call more than once?
-- Answer: One row.
--   callers              known customers with at least one inbound call
--   repeat_callers       of which those with two or more
--   repeat_caller_pct    100 x repeat_callers / callers
--   calls_per_caller     inbound calls of known customers / callers
--   anonymous_calls      inbound calls of anonymous callers (not counted above)
-- Notes: From cx360.journey: a call is an event with a call id or outcome;
--   outbound calls are left out; every call counts, answered or abandoned,
--   over all the data. A caller is the live customer (merges followed). An
--   anonymous caller is a customer whose calls carry no identifier but
--   anonymous ids (a call centre's unidentified caller, each its own
--   customer): such callers would only dilute the rate. NULL without
--   callers; rounded to 2 decimals.
SELECT
    countIf(anonymous = 0) AS callers,
    countIf(anonymous = 0 AND inbound_calls >= 2) AS repeat_callers,
    if(callers = 0, NULL, round(100 * repeat_callers / callers, 2)) AS repeat_caller_pct,
    if(callers = 0, NULL, round(sumIf(inbound_calls, anonymous = 0) / callers, 2)) AS calls_per_caller,
    sumIf(inbound_calls, anonymous = 1) AS anonymous_calls
FROM
(
    SELECT
        customer_id,
        count() AS inbound_calls,
        min(toUInt8(notEmpty(identifier_types) AND arrayAll(t -> t = 'anonymous_id', identifier_types))) AS anonymous
    FROM cx360.journey
    WHERE (call_id != '' OR call_outcome != '') AND call_direction != 'outbound'
    GROUP BY customer_id
) AS per_caller;
