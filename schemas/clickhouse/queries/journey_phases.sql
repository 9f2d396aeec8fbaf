-- Question: How many events and customers does each journey phase see, per
--   channel?
-- Answer: One row per phase and channel.
--   phase       pre_visit (browsing, research), visit (store visit,
--               purchase, call about an order) or post_visit (returns,
--               support calls, surveys, deliveries)
--   channel     web, app, store, phone or a custom channel
--   events      events in that phase and channel
--   customers   distinct live customers with such an event (merges
--               followed: a profile merged into another counts as that one)
--   share_of_phase_events_pct
--               100 x events / all events of the phase
-- Notes: From cx360.journey, so duplicates count once and erased customers
--   not at all. The phase is assigned by identity resolution's phase rules
--   when the event arrives. Phases sort in journey order; customers are
--   counted exactly (uniqExact). Rounded to 2 decimals.
SELECT
    phase,
    channel,
    count() AS events,
    uniqExact(customer_id) AS customers,
    round(100 * events / any(phase_events), 2) AS share_of_phase_events_pct
FROM cx360.journey AS j
ANY LEFT JOIN
(
    SELECT phase, count() AS phase_events FROM cx360.journey GROUP BY phase
) AS per_phase USING phase
GROUP BY phase, channel
ORDER BY indexOf(['pre_visit', 'visit', 'post_visit'], phase) = 0, indexOf(['pre_visit', 'visit', 'post_visit'], phase), phase, channel;
