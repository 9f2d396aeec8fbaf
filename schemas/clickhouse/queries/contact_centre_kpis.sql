-- Question: How is the contact centre doing, by day and queue: speed of
--   answer, abandonment, handle time and first-contact resolution?
-- Answer: One row per day and queue with inbound calls.
--   day, queue           the call's day (UTC) and queue
--   offered              inbound calls
--   answered_calls, abandoned_calls
--                        of which answered, abandoned
--   abandonment_pct      100 x abandoned_calls / offered
--   asa_seconds          average speed of answer: mean wait of answered calls
--   aht_seconds          average handle time: mean handle_seconds of answered calls
--   fcr_calls, fcr_pct   answered calls resolved at first contact, and
--                        100 x fcr_calls / answered_calls
--   A mean or share is NULL when it has no calls to average (no answered call,
--   or no wait or handle time reported).
-- Notes: From cx360.calls: a call is an event with a call id or outcome;
--   outbound calls are left out. Abandoned: outcome abandoned, hang or
--   hangup; every other inbound call is answered. First-contact resolution:
--   an answered call after which the same customer (merges followed) did
--   not call in again with the same call_reason within 7 days (an abandoned
--   retry counts as calling again). Calls in the last 7 days of the data
--   have not had their 7 days yet and count as resolved. Rounded to 2 decimals.
SELECT
    call_date AS day,
    call_queue AS queue,
    count() AS offered,
    toUInt64(sum(answered)) AS answered_calls,
    toUInt64(sum(abandoned)) AS abandoned_calls,
    round(100 * abandoned_calls / offered, 2) AS abandonment_pct,
    if(countIf(answered = 1 AND isNotNull(wait_seconds)) = 0, NULL,
        round(sumIf(assumeNotNull(wait_seconds), answered = 1 AND isNotNull(wait_seconds))
            / countIf(answered = 1 AND isNotNull(wait_seconds)), 2)) AS asa_seconds,
    if(countIf(answered = 1 AND isNotNull(handle_seconds)) = 0, NULL,
        round(sumIf(assumeNotNull(handle_seconds), answered = 1 AND isNotNull(handle_seconds))
            / countIf(answered = 1 AND isNotNull(handle_seconds)), 2)) AS aht_seconds,
    countIf(answered = 1 AND repeat_7d = 0) AS fcr_calls,
    if(answered_calls = 0, NULL, round(100 * fcr_calls / answered_calls, 2)) AS fcr_pct
FROM cx360.calls
WHERE inbound = 1
GROUP BY call_date, call_queue
ORDER BY day, queue;
