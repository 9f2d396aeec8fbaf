-- Question: How recently, how often and for how much do customers buy (RFM),
--   and which segment is each customer in?
-- Answer: One row per live customer with a purchase on or before {as_of:Date},
--   best scores first.
--   customer_id          the live customer (merges followed)
--   last_purchase        day of the latest purchase on or before as_of
--   recency_days         days from last_purchase to as_of
--   frequency            purchases in the 365 days up to as_of
--   monetary             net spend in those 365 days: purchases minus returns
--   r, f, m              scores 1-5 (5 is best) from the fixed thresholds below
--   rfm                  the three scores as one code, e.g. '545'
--   segment              champions, loyal, new, promising, needs_attention,
--                        at_risk, hibernating or lost (see Notes)
-- Notes: Fixed thresholds, not quintiles, so a customer's score does not
--   move when others buy, and small stores score the same way as large ones:
--   r: recency_days <= 30 -> 5, <= 90 -> 4, <= 180 -> 3, <= 365 -> 2, else 1.
--   f: frequency >= 10 -> 5, >= 5 -> 4, >= 3 -> 3, 2 -> 2, else 1.
--   m: monetary >= 1000 -> 5, >= 500 -> 4, >= 200 -> 3, >= 50 -> 2, else 1.
--   Segments, first match wins: champions r >= 4 and f >= 4; loyal r >= 3
--   and f >= 3; new r = 5 and f = 1; promising r >= 4; needs_attention
--   r = 3; at_risk f >= 3 (bought often, but not for over 180 days);
--   hibernating r = 2; lost otherwise.
--   A purchase is an order event that is not a return (cx360.purchases);
--   the window is the 365 days as_of - 364 .. as_of, both included. Ties
--   are broken by customer_id; monetary is rounded to 2 decimals.
-- Example: as_of=2024-06-30
SELECT
    customer_id, last_purchase, recency_days, frequency, monetary,
    r, f, m,
    concat(toString(r), toString(f), toString(m)) AS rfm,
    multiIf(
        r >= 4 AND f >= 4, 'champions',
        r >= 3 AND f >= 3, 'loyal',
        r = 5 AND f = 1, 'new',
        r >= 4, 'promising',
        r = 3, 'needs_attention',
        f >= 3, 'at_risk',
        r = 2, 'hibernating',
        'lost') AS segment
FROM
(
    SELECT
        customer_id, last_purchase, recency_days, frequency, monetary,
        toUInt8(multiIf(recency_days <= 30, 5, recency_days <= 90, 4, recency_days <= 180, 3, recency_days <= 365, 2, 1)) AS r,
        toUInt8(multiIf(frequency >= 10, 5, frequency >= 5, 4, frequency >= 3, 3, frequency = 2, 2, 1)) AS f,
        toUInt8(multiIf(monetary >= 1000, 5, monetary >= 500, 4, monetary >= 200, 3, monetary >= 50, 2, 1)) AS m
    FROM
    (
        SELECT
            customer_id,
            maxIf(event_date, is_return = 0) AS last_purchase,
            toRelativeDayNum({as_of:Date}) - toRelativeDayNum(last_purchase) AS recency_days,
            countIf(is_return = 0 AND event_date > {as_of:Date} - 365) AS frequency,
            round(sumIf(amount, event_date > {as_of:Date} - 365), 2) AS monetary
        FROM cx360.purchases
        WHERE event_date <= {as_of:Date}
        GROUP BY customer_id
        HAVING countIf(is_return = 0) > 0
    ) AS facts
) AS scored
ORDER BY r + f + m DESC, rfm DESC, customer_id;
