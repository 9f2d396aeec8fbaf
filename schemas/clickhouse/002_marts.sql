-- cx360 CX marts: plain views over the core tables (001_core.sql), so they
-- hold no data, need no backfill and always reflect the latest merges, splits
-- and erasures. Analyst questions built on them live in queries/*.sql.
--
-- One dialect for ClickHouse 18.16 and modern ClickHouse (checked on 26.x):
-- no window functions, no multiple JOINs in one SELECT (18.16 has one JOIN
-- per SELECT, so joins nest), every joined subquery has an alias (modern
-- servers require one), no avgIf/minIf over empty sets (18.16 answers nan
-- where modern servers answer NULL: ratios are written as sums over counts).
--
-- Every view is dropped and created again, so a changed definition reaches
-- existing databases; both statements are idempotent (DROP TABLE IF EXISTS
-- drops a view on every version, CREATE VIEW IF NOT EXISTS tolerates a
-- concurrent migration), and 18.16 has no CREATE OR REPLACE VIEW.

-- identity_latest: each issued customer id and the survivor its latest
-- identity_map row names (one hop: a survivor may itself have been merged
-- later, which identity_map records only on the survivor's own row).
DROP TABLE IF EXISTS cx360.identity_latest;
CREATE VIEW IF NOT EXISTS cx360.identity_latest AS
SELECT customer_id, argMax(survivor_id, version) AS survivor_id
FROM cx360.identity_map
GROUP BY customer_id;

-- identity_hop2 / identity_hop4: the same map followed twice, then four
-- times (pointer doubling: each view applies the one before it to itself).
DROP TABLE IF EXISTS cx360.identity_hop2;
CREATE VIEW IF NOT EXISTS cx360.identity_hop2 AS
SELECT customer_id, if(next_id = '', mid_id, next_id) AS survivor_id
FROM (SELECT customer_id, survivor_id AS mid_id FROM cx360.identity_latest) AS hop_from
ANY LEFT JOIN (SELECT customer_id AS mid_id, survivor_id AS next_id FROM cx360.identity_latest) AS hop_to
USING mid_id;

DROP TABLE IF EXISTS cx360.identity_hop4;
CREATE VIEW IF NOT EXISTS cx360.identity_hop4 AS
SELECT customer_id, if(next_id = '', mid_id, next_id) AS survivor_id
FROM (SELECT customer_id, survivor_id AS mid_id FROM cx360.identity_hop2) AS hop_from
ANY LEFT JOIN (SELECT customer_id AS mid_id, survivor_id AS next_id FROM cx360.identity_hop2) AS hop_to
USING mid_id;

-- customer_survivor: every customer id in identity_map → the live customer
-- it belongs to now, following chains of up to 8 merges (A merged into B,
-- later B into C: A → C). Ids absent from identity_map were never merged and
-- stand for themselves. ClickHouse 18.16 has no recursive queries, so the
-- depth is fixed; a longer chain stops at its 8th id.
DROP TABLE IF EXISTS cx360.customer_survivor;
CREATE VIEW IF NOT EXISTS cx360.customer_survivor AS
SELECT customer_id, if(next_id = '', mid_id, next_id) AS survivor_id
FROM (SELECT customer_id, survivor_id AS mid_id FROM cx360.identity_hop4) AS hop_from
ANY LEFT JOIN (SELECT customer_id AS mid_id, survivor_id AS next_id FROM cx360.identity_hop4) AS hop_to
USING mid_id;

-- erased_customers: ids that must never appear in a mart. The erasures
-- table is the authority (the erased id and every id that pointed at it);
-- the sink also deletes their rows, but ALTER … DELETE is an asynchronous
-- mutation, so until it finishes the rows are still there. A tombstone in
-- customers (is_deleted = 1) alone does not mean erased: every profile merged
-- into another is tombstoned too. A tombstoned id that identity_map does not
-- know was never merged, so its tombstone is an erasure whose audit row has
-- not arrived yet (or, rarely, a profile that a split left with no identifier,
-- which the sink records in no identity_map row either).
DROP TABLE IF EXISTS cx360.erased_customers;
CREATE VIEW IF NOT EXISTS cx360.erased_customers AS
SELECT customer_id FROM cx360.erasures
UNION ALL
SELECT arrayJoin(related_ids) AS customer_id FROM cx360.erasures
UNION ALL
SELECT customer_id
FROM
(
    SELECT customer_id, argMax(is_deleted, version) AS deleted
    FROM cx360.customers
    GROUP BY customer_id
)
WHERE deleted = 1 AND customer_id NOT IN (SELECT customer_id FROM cx360.identity_map);

-- journey: the unified journey, one row per event, every channel.
--   customer_id           the customer the event belongs to now (merges
--                         followed through customer_survivor)
--   resolved_customer_id  the id identity resolution gave it at the time
--                         (history is never rewritten)
--   event_date            toDate(event_time), for grouping by day
-- Erased customers are left out, under either id.
--
-- Dedup: journey_events is a ReplacingMergeTree, so until a merge runs the
-- same event_id can be stored twice (a redelivered batch, a replay). The view
-- keeps the row with the highest version by `ORDER BY event_id, version DESC
-- LIMIT 1 BY event_id`: plain SQL that means the same on every version, across
-- partitions and whether or not parts were merged. Modern servers read the
-- table in its sorting-key order (event_id) and only finish the sort within an
-- event_id, so it streams; 18.16 sorts in memory (about 0.9 s per million rows
-- on 2 cores, against 0.2 s for FINAL). Not FINAL: it collapses rows only
-- within a partition (a re-sent event whose corrected time moved to another
-- month would stay twice), and a filter pushed into the view may run before
-- the collapse on some versions, surfacing an outdated row. Not argMax per
-- column: with equal versions each column may come from a different row.
DROP TABLE IF EXISTS cx360.journey;
CREATE VIEW IF NOT EXISTS cx360.journey AS
SELECT
    if(survivor_id = '', resolved_customer_id, survivor_id) AS customer_id,
    resolved_customer_id,
    event_id, channel, type, phase, event_time, toDate(event_time) AS event_date, event_ts_ms, received_ts_ms,
    identifier_types, identifier_values, property_keys, property_values,
    url, referrer, session_id, app_platform, app_version, screen,
    store_id, register_id, staff_id,
    order_id, order_total, currency, item_skus, item_quantities, item_prices,
    call_id, call_direction, call_queue, wait_seconds, handle_seconds, call_outcome, agent_id, call_reason,
    survey_kind, survey_score, survey_scale_max, survey_comment, about_event_id,
    version
FROM
(
    SELECT
        customer_id AS resolved_customer_id,
        event_id, channel, type, phase, event_time, event_ts_ms, received_ts_ms,
        identifier_types, identifier_values, property_keys, property_values,
        url, referrer, session_id, app_platform, app_version, screen,
        store_id, register_id, staff_id,
        order_id, order_total, currency, item_skus, item_quantities, item_prices,
        call_id, call_direction, call_queue, wait_seconds, handle_seconds, call_outcome, agent_id, call_reason,
        survey_kind, survey_score, survey_scale_max, survey_comment, about_event_id,
        version
    FROM cx360.journey_events
    ORDER BY event_id, version DESC
    LIMIT 1 BY event_id
) AS events
ANY LEFT JOIN
(
    SELECT customer_id AS resolved_customer_id, survivor_id FROM cx360.customer_survivor
) AS survivors
USING resolved_customer_id
WHERE resolved_customer_id NOT IN (SELECT customer_id FROM cx360.erased_customers)
  AND survivor_id NOT IN (SELECT customer_id FROM cx360.erased_customers);

-- purchases: purchases and returns, one row per order event. The rules are
-- the customer profile's (pkg/identity/profile.go): a return is an event of
-- type return or refund, or an order with a negative total; every other event
-- with an order total is a purchase. amount is signed (returns are negative
-- when the channel sends them so), so sum(amount) is net spend.
DROP TABLE IF EXISTS cx360.purchases;
CREATE VIEW IF NOT EXISTS cx360.purchases AS
SELECT
    customer_id, event_id, event_time, event_date, channel, phase, type, store_id, order_id,
    assumeNotNull(order_total) AS amount, currency,
    toUInt8(type IN ('return', 'refund') OR assumeNotNull(order_total) < 0) AS is_return
FROM cx360.journey
WHERE isNotNull(order_total) OR type IN ('return', 'refund');

-- survey_responses: one row per CSAT, NPS or CES answer, scored on its own
-- scale (survey_scale_max, or the kind's default: CSAT 5, NPS 10, CES 7) and
-- attributed to the experience it rates: channel, store_id and phase are those
-- of the event named by about_event_id when it is known (a store visit rated
-- by e-mail counts for the store), else the survey event's own.
--   satisfied   CSAT: score ≥ 80% of the scale (4 or 5 of 5)
--   promoter    NPS: score ≥ 9 on 0–10 (rescaled when the scale differs)
--   detractor   NPS: score ≤ 6 on 0–10
--   ces_7       CES rescaled to a 1–7 scale, to average across scales
--   low_score   the profile's friction rule: score ≤ 40% of the scale; NPS
--               detractors; CES ≥ 60% of the scale (high effort is bad)
DROP TABLE IF EXISTS cx360.survey_responses;
CREATE VIEW IF NOT EXISTS cx360.survey_responses AS
SELECT
    customer_id, event_id, answered_at, toDate(answered_at) AS answer_date, survey_channel,
    if(about_channel = '', survey_channel, about_channel) AS channel,
    if(about_channel = '', survey_store_id, about_store_id) AS store_id,
    if(about_channel = '', survey_phase, about_phase) AS phase,
    kind, score, scale_max, about_event_id,
    toUInt8(kind = 'csat' AND score * 5 / scale_max >= 4) AS satisfied,
    toUInt8(kind = 'nps' AND score * 10 / scale_max >= 9) AS promoter,
    toUInt8(kind = 'nps' AND score * 10 / scale_max <= 6) AS detractor,
    if(kind = 'ces', score * 7 / scale_max, 0) AS ces_7,
    toUInt8(multiIf(
        kind = 'ces', score >= (1 - 0.4) * scale_max,
        kind = 'nps', (score <= 6 AND scale_max = 10) OR score <= 0.4 * scale_max,
        score <= 0.4 * scale_max)) AS low_score
FROM
(
    SELECT
        customer_id, event_id, event_time AS answered_at, channel AS survey_channel,
        store_id AS survey_store_id, phase AS survey_phase, survey_kind AS kind,
        assumeNotNull(survey_score) AS score,
        ifNull(survey_scale_max, multiIf(survey_kind = 'csat', 5, survey_kind = 'nps', 10, 7)) AS scale_max,
        about_event_id
    FROM cx360.journey
    WHERE survey_kind IN ('csat', 'nps', 'ces') AND isNotNull(survey_score)
) AS surveys
ANY LEFT JOIN
(
    SELECT event_id AS about_event_id, channel AS about_channel, store_id AS about_store_id, phase AS about_phase
    FROM cx360.journey
    WHERE event_id IN (SELECT about_event_id FROM cx360.journey_events WHERE about_event_id != '')
) AS rated
USING about_event_id;

-- calls: contact-centre calls (events with a call id or outcome), one row
-- each, with what the KPIs need.
--   inbound      not an outbound call (an empty direction counts as inbound)
--   abandoned    outcome abandoned, hang or hangup (the profile's rule)
--   answered     inbound and not abandoned
--   long_wait    waited 180 s or more (the profile's rule)
--   repeat_7d    the same customer called in again with the same reason
--                within 7 days after this call (answered or not); an answered
--                call without one counts as resolved at first contact
-- Repeats are found per customer and reason: the calls sorted by time, each
-- compared with the next inbound call after it (no window functions on 18.16;
-- and 18.16 only sees a column inside a lambda when the column is also an
-- argument of the call, hence arraySlice(calls, i + 1) over arrayEnumerate(calls)).
DROP TABLE IF EXISTS cx360.calls;
CREATE VIEW IF NOT EXISTS cx360.calls AS
SELECT
    customer_id, call_reason,
    call.1 AS event_ts_ms, call.2 AS event_id, call.3 AS event_time, toDate(call.3) AS call_date,
    call.4 AS call_id, call.5 AS call_queue, call.6 AS wait_seconds, call.7 AS handle_seconds,
    call.8 AS call_outcome, call.9 AS agent_id, call.10 AS inbound,
    toUInt8(call.8 IN ('abandoned', 'hang', 'hangup')) AS abandoned,
    toUInt8(call.10 = 1 AND call.8 NOT IN ('abandoned', 'hang', 'hangup')) AS answered,
    toUInt8(ifNull(call.6, 0) >= 180) AS long_wait,
    toUInt8(next_inbound_ms != 0 AND next_inbound_ms - call.1 <= 7 * 86400 * 1000) AS repeat_7d
FROM
(
    SELECT
        customer_id, call_reason, calls,
        arrayMap(i -> arrayFirst(c -> c.10 = 1, arraySlice(calls, i + 1)).1, arrayEnumerate(calls)) AS next_inbound
    FROM
    (
        SELECT
            customer_id, call_reason,
            arraySort(groupArray(tuple(event_ts_ms, event_id, event_time, call_id, call_queue, wait_seconds,
                handle_seconds, call_outcome, agent_id, toUInt8(call_direction != 'outbound')))) AS calls
        FROM cx360.journey
        WHERE call_id != '' OR call_outcome != ''
        GROUP BY customer_id, call_reason
    ) AS grouped
) AS with_next
ARRAY JOIN calls AS call, next_inbound AS next_inbound_ms;

-- friction_moments: the unsatisfactory moments of each customer, one row per
-- moment, weighted as the profile's friction score is (pkg/identity/profile.go):
-- a low survey score 3, an abandoned call 2, a long wait (≥ 180 s) 1, a
-- return 2. One event can be two moments (an abandoned call after a long wait).
DROP TABLE IF EXISTS cx360.friction_moments;
CREATE VIEW IF NOT EXISTS cx360.friction_moments AS
SELECT
    customer_id, event_id, event_time, event_date, channel, phase, type,
    moment_weight.1 AS moment, moment_weight.2 AS weight
FROM
(
    SELECT
        customer_id, event_id, event_time, event_date, channel, phase, type,
        arrayFilter(m -> m.2 > 0, [
            tuple('low_score', if(survey_kind IN ('csat', 'nps', 'ces') AND isNotNull(survey_score) AND multiIf(
                survey_kind = 'ces', assumeNotNull(survey_score) >= (1 - 0.4) * ifNull(survey_scale_max, 7),
                survey_kind = 'nps', (assumeNotNull(survey_score) <= 6 AND ifNull(survey_scale_max, 10) = 10)
                    OR assumeNotNull(survey_score) <= 0.4 * ifNull(survey_scale_max, 10),
                assumeNotNull(survey_score) <= 0.4 * ifNull(survey_scale_max, 5)), 3., 0.)),
            tuple('abandoned_call', if(call_outcome IN ('abandoned', 'hang', 'hangup'), 2., 0.)),
            tuple('long_wait', if(ifNull(wait_seconds, 0) >= 180, 1., 0.)),
            tuple('return', if(type IN ('return', 'refund') OR ifNull(order_total, 0) < 0, 2., 0.))
        ]) AS moments
    FROM cx360.journey
) AS scored
ARRAY JOIN moments AS moment_weight;
