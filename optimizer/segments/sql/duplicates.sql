-- Rows before as_of that repeat another row exactly (same customer, time, amount and currency).
-- Only run with duplicates: keep; with drop the count comes free from customer_days.
SELECT COALESCE(SUM(n - 1), 0) AS n_duplicates
FROM (SELECT COUNT(*) AS n FROM staged WHERE t < {as_of} GROUP BY u, t, amt, cur) g
WHERE n > 1
