-- Question: Which customers show signs of churning?
-- Answer: One row per live customer with at least one churn signal as of
--   {as_of:Date}, most friction after their last purchase first.
--   customer_id            the live customer (merges followed)
--   purchases              purchases on or before as_of
--   last_purchase          day of the latest of them
--   days_since_purchase    days from last_purchase to as_of
--   friction_since_purchase
--                          friction score of the moments after the last
--                          purchase, up to as_of (cx360.friction_moments)
--   lapsed                 1: an active customer (2 or more purchases) who
--                          has not bought for more than 90 days
--   friction_after_purchase
--                          1: friction of 3 or more since the last purchase
--                          (one low score, or e.g. a return and a long wait)
-- Notes: A purchase is an order event that is not a return (cx360.purchases);
--   only events on or before as_of count, so the answer for a past date is
--   what was knowable then. Friction weights are the profile's: low score 3,
--   abandoned call 2, long wait 1, return 2. Moments on the day of the last
--   purchase count only when they come after the purchase itself. Ties are
--   broken by days_since_purchase (longest first), then customer_id.
-- Example: as_of=2024-06-30
SELECT
    customer_id, purchases, last_purchase, days_since_purchase, friction_since_purchase,
    toUInt8(purchases >= 2 AND days_since_purchase > 90) AS lapsed,
    toUInt8(friction_since_purchase >= 3) AS friction_after_purchase
FROM
(
    SELECT
        customer_id, purchases, toDate(last_purchase_at) AS last_purchase,
        toRelativeDayNum({as_of:Date}) - toRelativeDayNum(toDate(last_purchase_at)) AS days_since_purchase,
        friction_since_purchase
    FROM
    (
        SELECT customer_id, count() AS purchases, max(event_time) AS last_purchase_at
        FROM cx360.purchases
        WHERE is_return = 0 AND event_date <= {as_of:Date}
        GROUP BY customer_id
    ) AS bought
    ANY LEFT JOIN
    (
        SELECT customer_id, sum(weight) AS friction_since_purchase
        FROM
        (
            SELECT customer_id, event_time, weight
            FROM cx360.friction_moments
            WHERE event_date <= {as_of:Date}
        ) AS moments
        INNER JOIN
        (
            SELECT customer_id, max(event_time) AS last_purchase_at
            FROM cx360.purchases
            WHERE is_return = 0 AND event_date <= {as_of:Date}
            GROUP BY customer_id
        ) AS last_purchases USING customer_id
        WHERE event_time > last_purchase_at
        GROUP BY customer_id
    ) AS friction USING customer_id
) AS facts
WHERE lapsed = 1 OR friction_after_purchase = 1
ORDER BY friction_since_purchase DESC, days_since_purchase DESC, customer_id;
