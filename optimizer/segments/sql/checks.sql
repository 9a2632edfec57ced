-- Every defect counted in one scan of the normalised rows (view "staged").
-- {as_of} is the end of observation in epoch microseconds (exclusive; t is an integer there).
SELECT
  COUNT(*) AS n_rows,
  SUM(CASE WHEN u IS NULL THEN 1 ELSE 0 END) AS n_null_id,
  SUM(CASE WHEN t IS NULL THEN 1 ELSE 0 END) AS n_null_time,
  SUM(CASE WHEN amt IS NULL OR isnan(amt) THEN 1 ELSE 0 END) AS n_null_amount,
  SUM(CASE WHEN amt < 0 THEN 1 ELSE 0 END) AS n_returns,
  SUM(CASE WHEN amt = 0 THEN 1 ELSE 0 END) AS n_zero_amount,
  SUM(CASE WHEN t >= {as_of} THEN 1 ELSE 0 END) AS n_future,
  MIN(t) AS min_t,
  MAX(t) AS max_t
FROM staged
