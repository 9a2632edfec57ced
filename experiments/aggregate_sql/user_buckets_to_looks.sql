-- Week-to-date user rows: a user enters look k once it has any bucket <= k (its first
-- exposure week), and carries the cumulative partials of buckets <= k.
SELECT l.k AS k, w.u AS u, min(w.v_min) AS v_min, max(w.v_max) AS v_max{dims}{partials}
FROM user_buckets w JOIN looks l ON w.b <= l.k
GROUP BY l.k, w.u
