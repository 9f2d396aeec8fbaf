-- Question: At what time of day do customers call, and how well are those
--   calls answered?
-- Answer: One row per hour of the day (0-23, UTC) with inbound calls.
--   hour                 the hour the call came in
--   offered              inbound calls in that hour, over every day
--   answered_calls, abandoned_calls
--                        of which answered, abandoned
--   abandonment_pct      100 x abandoned_calls / offered
--   asa_seconds          average speed of answer: mean wait of answered calls
--   share_of_calls_pct   100 x offered / all inbound calls
-- Notes: From cx360.calls, with its rules: outbound calls are left out;
--   abandoned is outcome abandoned, hang or hangup, every other inbound call
--   is answered. The hour is the call's event time (when it came in) in the
--   server's time zone, UTC on cx360's servers. Hours without calls have no
--   row. ASA is NULL when no answered call reported a wait. Rounded to 2
--   decimals.
SELECT
    toHour(event_time) AS hour,
    count() AS offered,
    toUInt64(sum(answered)) AS answered_calls,
    toUInt64(sum(abandoned)) AS abandoned_calls,
    round(100 * abandoned_calls / offered, 2) AS abandonment_pct,
    if(countIf(answered = 1 AND isNotNull(wait_seconds)) = 0, NULL,
        round(sumIf(assumeNotNull(wait_seconds), answered = 1 AND isNotNull(wait_seconds))
            / countIf(answered = 1 AND isNotNull(wait_seconds)), 2)) AS asa_seconds,
    round(100 * offered / (SELECT count() FROM cx360.calls WHERE inbound = 1), 2) AS share_of_calls_pct
FROM cx360.calls
WHERE inbound = 1
GROUP BY hour
ORDER BY hour;
