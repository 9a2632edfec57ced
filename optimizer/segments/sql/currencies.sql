-- Rows per currency code (only run when a currency column is configured).
SELECT cur, COUNT(*) AS n FROM staged GROUP BY cur ORDER BY cur
