-- Question: What did one customer do, across every channel, in order?
-- Answer: One row per event of the customer, oldest first.
--   event_time            when it happened (UTC)
--   channel, phase, type  where, which journey phase (pre_visit, visit,
--                         post_visit) and what
--   event_id              the event
--   resolved_customer_id  the id the event was resolved to when it arrived;
--                         it differs from the customer's id for events of
--                         profiles merged into it later
--   store_id, order_total, call_outcome, wait_seconds, survey_kind,
--   survey_score          the event's main facts (empty or NULL when not
--                         applicable)
-- Notes: {customer_id:String} may be any id the customer ever had: an id
--   merged into another customer is followed to the live customer
--   (cx360.customer_survivor), whose whole journey, every merged id's events
--   included, is shown. Duplicated events appear once; an erased customer
--   returns no rows. Events in the same millisecond are ordered by event_id.
-- Example: customer_id=bob-app
WITH (SELECT any(survivor_id) FROM cx360.customer_survivor WHERE customer_id = {customer_id:String}) AS survivor
SELECT
    event_time, channel, phase, type, event_id, resolved_customer_id,
    store_id, order_total, call_outcome, wait_seconds, survey_kind, survey_score
FROM cx360.journey
WHERE customer_id = if(survivor = '', {customer_id:String}, survivor)
ORDER BY event_ts_ms, event_id;
