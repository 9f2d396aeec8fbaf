-- cx360 core tables. One dialect for ClickHouse 18.16 and modern ClickHouse:
-- no DateTime64, Map, TTL, JSONExtract or window functions. Millisecond times
-- are Int64 epoch ms next to a DateTime; properties are parallel key/value
-- arrays; retention is by dropping monthly partitions.

CREATE DATABASE IF NOT EXISTS cx360;

-- One row per event after FINAL (ReplacingMergeTree on event_id); replays and
-- duplicates collapse. customer_id is the id the event was resolved to; read it
-- through identity_map to follow later merges.
CREATE TABLE IF NOT EXISTS cx360.journey_events
(
    event_id          String,
    customer_id       String,
    channel           String,
    type              String,
    phase             String,
    event_time        DateTime,
    event_ts_ms       Int64,
    received_ts_ms    Int64,
    identifier_types  Array(String),
    identifier_values Array(String),
    property_keys     Array(String),
    property_values   Array(String),
    url               String,
    referrer          String,
    session_id        String,
    app_platform      String,
    app_version       String,
    screen            String,
    store_id          String,
    register_id       String,
    staff_id          String,
    order_id          String,
    order_total       Nullable(Float64),
    currency          String,
    item_skus         Array(String),
    item_quantities   Array(Float64),
    item_prices       Array(Float64),
    call_id           String,
    call_direction    String,
    call_queue        String,
    wait_seconds      Nullable(Float64),
    handle_seconds    Nullable(Float64),
    call_outcome      String,
    agent_id          String,
    call_reason       String,
    survey_kind       String,
    survey_score      Nullable(Float64),
    survey_scale_max  Nullable(Float64),
    survey_comment    String,
    about_event_id    String,
    version           UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(event_time)
ORDER BY event_id;

-- The latest profile per customer (cx.customers); is_deleted marks tombstones.
CREATE TABLE IF NOT EXISTS cx360.customers
(
    customer_id       String,
    version           Int64,
    is_deleted        UInt8,
    identifier_types  Array(String),
    identifier_values Array(String),
    first_seen        DateTime,
    last_seen         DateTime,
    channels          Array(String),
    count_channels    Array(String),
    count_values      Array(Int64),
    orders            Int64,
    total_spend       Float64,
    last_csat         Nullable(Float64),
    last_nps          Nullable(Float64),
    last_ces          Nullable(Float64),
    low_scores        Int64,
    abandoned_calls   Int64,
    long_waits        Int64,
    returns           Int64,
    friction_score    Float64,
    merged_ids        Array(String),
    updated_at        DateTime
)
ENGINE = ReplacingMergeTree(version)
ORDER BY customer_id;

-- Any customer id ever issued → its current survivor; read with
-- argMax(survivor_id, version).
CREATE TABLE IF NOT EXISTS cx360.identity_map
(
    customer_id String,
    survivor_id String,
    version     Int64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY customer_id;

-- cx.identity.changes, one row per change.
CREATE TABLE IF NOT EXISTS cx360.identity_changes
(
    change_id         String,
    kind              String,
    customer_id       String,
    related_ids       Array(String),
    identifier_types  Array(String),
    identifier_values Array(String),
    event_id          String,
    channel           String,
    reason            String,
    at                DateTime,
    at_ms             Int64,
    version           Int64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(at)
ORDER BY change_id;

-- Erasures, kept without personal data, as the audit trail of the right to be forgotten.
CREATE TABLE IF NOT EXISTS cx360.erasures
(
    customer_id  String,
    related_ids  Array(String),
    requested_at DateTime,
    change_id    String
)
ENGINE = ReplacingMergeTree()
ORDER BY change_id;
