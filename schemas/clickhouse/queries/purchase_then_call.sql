-- Question: How many buyers called the contact centre within 7 days after a
--   purchase?
-- Answer: One row.
--   buyers                 live customers with at least one purchase
--   buyers_calling_7d      of them, customers who called in within 7 days
--                          after a purchase
--   calling_pct            100 x buyers_calling_7d / buyers (NULL without buyers)
--   purchase_call_pairs    how often a purchase was followed by such a call,
--                          over all customers
-- Notes: sequenceMatch / sequenceCount with the pattern
--   (?1)(?t<=604800)(?2) over each customer's unified journey: a purchase
--   (an order total of 0 or more, type not return or refund, any channel)
--   followed by an inbound call (a call id or outcome, not outbound) at most
--   604800 s (7 days) later, with no other purchase in between (only events
--   matching a step take part in the sequence). Calls after a purchase hint at
--   a broken promise (delivery, payment, availability): a deflection target.
--   Rounded to 2 decimals.
SELECT
    countIf(purchases > 0) AS buyers,
    countIf(called = 1) AS buyers_calling_7d,
    if(buyers = 0, NULL, round(100 * buyers_calling_7d / buyers, 2)) AS calling_pct,
    sum(pairs) AS purchase_call_pairs
FROM
(
    SELECT
        customer_id,
        countIf(ifNull(order_total, -1) >= 0 AND type NOT IN ('return', 'refund')) AS purchases,
        sequenceMatch('(?1)(?t<=604800)(?2)')(event_time,
            ifNull(order_total, -1) >= 0 AND type NOT IN ('return', 'refund'),
            (call_id != '' OR call_outcome != '') AND call_direction != 'outbound') AS called,
        sequenceCount('(?1)(?t<=604800)(?2)')(event_time,
            ifNull(order_total, -1) >= 0 AND type NOT IN ('return', 'refund'),
            (call_id != '' OR call_outcome != '') AND call_direction != 'outbound') AS pairs
    FROM cx360.journey
    GROUP BY customer_id
) AS per_customer;
