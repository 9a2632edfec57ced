-- Per (dimension level, variant) at the last look: n users and the centred moments of each metric,
-- for the report's breakdown by dimension (same stable var_pop / covar_pop as variant_moments.sql).
SELECT CAST({column} AS {text}) AS level, v_min AS v, count(*) AS n{moments}
FROM user_looks
WHERE v_min = v_max AND k = {last_look}
GROUP BY {column}, v_min
