-- Users per (dimension level, variant) at the last look, for the per-dimension SRM check.
SELECT '{dimension}' AS dimension, CAST({column} AS {text}) AS level, v_min AS v, count(*) AS n
FROM user_looks
WHERE v_min = v_max AND k = {last_look}
GROUP BY {column}, v_min
