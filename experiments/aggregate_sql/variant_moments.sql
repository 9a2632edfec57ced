-- Per (look, variant): n users and centred moments of each metric. var_pop / covar_pop are
-- computed by streaming updates in DuckDB and Spark (stable: 1e9 + (1, 2, 3) gives M2 = 2), not by
-- sum(y*y) - sum(y)^2/n, which loses every digit when the mean dwarfs the spread.
-- Users seen in more than one variant (v_min <> v_max) fall in the group v = NULL: they are
-- counted there and left out of every analysis.
SELECT k, CASE WHEN v_min = v_max THEN v_min END AS v, count(*) AS n{moments}
FROM user_looks
GROUP BY k, CASE WHEN v_min = v_max THEN v_min END
