-- Question: Of the customers who browsed the website, how many came to a store,
--   and how many bought in a store, within 7 days of browsing?
-- Answer: One row.
--   web_browsers       customers with at least one web browsing event
--   store_visitors_7d  of them, customers with a store event (any type) within
--                      7 days after a browsing event
--   store_buyers_7d    of them, customers with a store purchase within 7 days
--                      after a browsing event
--   visit_rate_pct, purchase_rate_pct
--                      store_visitors_7d and store_buyers_7d as a percentage
--                      of web_browsers (NULL when there are no browsers)
-- Notes: Two two-step windowFunnel(7 days) per customer over the unified
--   journey, so anonymous browsing counts for the customer it was later
--   merged into. Browsing: a web event in the pre_visit phase. Store
--   purchase: a store event with an order total of 0 or more whose type is
--   not return or refund. The store step must come after a browsing event
--   and at most 604800 s (7 days) after it. Percentages are rounded to 2
--   decimals.
SELECT
    countIf(level_visit >= 1) AS web_browsers,
    countIf(level_visit = 2) AS store_visitors_7d,
    countIf(level_buy = 2) AS store_buyers_7d,
    if(web_browsers = 0, NULL, round(100 * store_visitors_7d / web_browsers, 2)) AS visit_rate_pct,
    if(web_browsers = 0, NULL, round(100 * store_buyers_7d / web_browsers, 2)) AS purchase_rate_pct
FROM
(
    SELECT
        customer_id,
        windowFunnel(604800)(event_time,
            channel = 'web' AND phase = 'pre_visit',
            channel = 'store') AS level_visit,
        windowFunnel(604800)(event_time,
            channel = 'web' AND phase = 'pre_visit',
            channel = 'store' AND ifNull(order_total, -1) >= 0 AND type NOT IN ('return', 'refund')) AS level_buy
    FROM cx360.journey
    GROUP BY customer_id
) AS funnels;
