-- Events -> one row per user for a single look (no week buckets): the fast path.
SELECT {last_look} AS k, u, min(v) AS v_min, max(v) AS v_max{dims}{partials}
FROM src
WHERE {where}
GROUP BY u
