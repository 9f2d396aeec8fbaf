-- Question: How many customers does each channel see, and how many of them
--   do we know?
-- Answer: One row per channel.
--   channel              web, app, store, phone or a custom channel
--   events               events on the channel
--   customers            distinct live customers with an event there
--   identified_customers of which known by some identifier other than an
--                        anonymous id (a login, loyalty card, email, phone...)
--   anonymous_customers  of which known there only by anonymous ids (a
--                        visitor's cookie, a guest basket, an unidentified
--                        caller)
-- Notes: From cx360.journey, so duplicates count once, merges are followed
--   and erased customers are left out. Anonymity is per channel: a customer
--   who browsed anonymously but logged in on the same channel is identified
--   there. Customers are counted exactly.
SELECT
    channel,
    sum(channel_events) AS events,
    count() AS customers,
    countIf(anonymous = 0) AS identified_customers,
    countIf(anonymous = 1) AS anonymous_customers
FROM
(
    SELECT
        channel,
        customer_id,
        count() AS channel_events,
        min(toUInt8(notEmpty(identifier_types) AND arrayAll(t -> t = 'anonymous_id', identifier_types))) AS anonymous
    FROM cx360.journey
    GROUP BY channel, customer_id
) AS per_customer
GROUP BY channel
ORDER BY channel;
