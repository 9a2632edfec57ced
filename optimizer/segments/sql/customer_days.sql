-- One row per customer and calendar day (UTC): net amount and transaction count. Rows at or after
-- as_of (epoch microseconds; future dates) are excluded; exact duplicates (same u, t, amt and,
-- with a currency column, cur) are removed first unless duplicates: keep. t is an integer
-- (microseconds): integer keys hash and compare faster than the DOUBLE seconds used before.
-- The caller may add a customer partition filter (DuckDB at large sizes: each part's hash tables
-- then fit in memory instead of spilling). Used as a subquery of customer_features.sql (streamed,
-- never stored: about one row per transaction).
SELECT u, CAST(FLOOR(t / 86400000000) AS BIGINT) AS d, SUM(amt) AS amt, COUNT(*) AS n_tx
FROM (SELECT {distinct} {keys} FROM staged WHERE t < {as_of}{part}) s
GROUP BY u, CAST(FLOOR(t / 86400000000) AS BIGINT)
