-- Question: How much do customers buy and return each month, per channel?
-- Answer: One row per month and channel with purchases or returns.
--   month              the first day of the month (UTC)
--   channel            the channel of the orders
--   purchases          order events that are not returns
--   buyers             distinct live customers with a purchase that month
--   revenue            sum of the purchases' totals
--   returns            return events
--   returned           sum of the returns' totals, as a positive amount
--   net_revenue        revenue - returned
-- Notes: From cx360.purchases: a return is an event of type return or refund,
--   or an order with a negative total; every other order event is a
--   purchase. Returns count whether the channel sends their totals negative
--   or positive (returned adds their absolute values). Amounts are in the
--   orders' own currencies, not converted; rounded to 2 decimals. Customers
--   are counted exactly (merges followed).
SELECT
    toStartOfMonth(event_date) AS month,
    channel,
    countIf(is_return = 0) AS purchases,
    uniqExactIf(customer_id, is_return = 0) AS buyers,
    round(sumIf(amount, is_return = 0), 2) AS revenue,
    countIf(is_return = 1) AS returns,
    round(sumIf(abs(amount), is_return = 1), 2) AS returned,
    round(sumIf(amount, is_return = 0) - sumIf(abs(amount), is_return = 1), 2) AS net_revenue
FROM cx360.purchases
GROUP BY month, channel
ORDER BY month, channel;
