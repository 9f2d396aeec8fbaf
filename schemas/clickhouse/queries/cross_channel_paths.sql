-- Question: Which sequences of channels do customers take, and which are the
--   most common?
-- Answer: The 20 most common paths, most customers first.
--   path          the channels of a customer's journey in time order,
--                 repeats in a row collapsed, joined with ' > '
--                 (e.g. 'web > store > phone')
--   steps         how many channels the path has
--   customers     live customers whose journey follows exactly that path
--   share_pct     100 x customers / all customers with a journey
-- Notes: From cx360.journey (merges followed, duplicates once, erased
--   customers left out), every event type counted: a survey answered on the
--   web is a web step. Events in the same millisecond are ordered by
--   event_id. Ties are broken by path. Rounded to 2 decimals.
SELECT
    path,
    any(steps) AS steps,
    count() AS customers,
    round(100 * customers / any(all_customers), 2) AS share_pct
FROM
(
    SELECT
        customer_id,
        arrayMap(e -> e.3, arraySort(groupArray(tuple(event_ts_ms, event_id, channel)))) AS channels,
        arrayFilter((c, i) -> i = 1 OR c != channels[i - 1], channels, arrayEnumerate(channels)) AS collapsed,
        arrayStringConcat(collapsed, ' > ') AS path,
        length(collapsed) AS steps
    FROM cx360.journey
    GROUP BY customer_id
) AS per_customer
CROSS JOIN
(
    SELECT uniqExact(customer_id) AS all_customers FROM cx360.journey
) AS total
GROUP BY path
ORDER BY customers DESC, path
LIMIT 20;
