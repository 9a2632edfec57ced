-- Events -> one row per (user, week bucket). Every partial is decomposable (sum or max), so the
-- week-to-date value of a user at look k is the sum/max of its buckets b <= k.
-- A user seen in two variants has v_min <> v_max and is dropped later (and counted).
SELECT u, {bucket} AS b, min(v) AS v_min, max(v) AS v_max{dims}{partials}
FROM src
WHERE {where}
GROUP BY u, {bucket}
