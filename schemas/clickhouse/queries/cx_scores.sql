-- Question: How satisfied are customers (CSAT, NPS, CES) by day, channel,
--   store and journey phase?
-- Answer: One row per answer day, channel, store_id and phase with answers.
--   day                  the day the survey was answered (UTC)
--   channel, store_id, phase
--                        of the experience rated (the event named by the
--                        survey's about_event_id; the survey's own when it
--                        names none); store_id is empty outside stores
--   csat_responses, csat_pct
--                        CSAT answers and the share of satisfied ones, %
--   nps_responses, nps   NPS answers and the Net Promoter Score, -100..100
--   ces_responses, ces_avg
--                        CES answers and their mean on a 1-7 scale
--   A score is NULL when the group has no answer of its kind.
-- Notes: From cx360.survey_responses. Each answer is read on its own scale
--   (survey_scale_max, or CSAT 5, NPS 10, CES 7 when absent).
--   CSAT % = 100 x answers scoring at least 80% of the scale (4-5 of 5) / CSAT answers.
--   NPS = 100 x (promoters - detractors) / NPS answers, with the score on
--   0-10: promoters 9-10, detractors 0-6 (other scales are rescaled to 0-10).
--   CES = mean of score x 7 / scale_max (lower is better: less effort).
--   Sum the *_responses columns, never average the scores, to roll up; all
--   scores are rounded to 2 decimals.
SELECT
    answer_date AS day, channel, store_id, phase,
    countIf(kind = 'csat') AS csat_responses,
    if(csat_responses = 0, NULL, round(100 * sum(satisfied) / csat_responses, 2)) AS csat_pct,
    countIf(kind = 'nps') AS nps_responses,
    if(nps_responses = 0, NULL, round(100 * (toInt64(sum(promoter)) - toInt64(sum(detractor))) / nps_responses, 2)) AS nps,
    countIf(kind = 'ces') AS ces_responses,
    if(ces_responses = 0, NULL, round(sum(ces_7) / ces_responses, 2)) AS ces_avg
FROM cx360.survey_responses
GROUP BY answer_date, channel, store_id, phase
ORDER BY day, channel, store_id, phase;
