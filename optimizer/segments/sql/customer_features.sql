-- Per-customer recency/frequency/monetary/tenure and the BG/NBD summary, in days, in one pass over
-- the customer-days subquery (customer_days.sql, filled in by the caller; streamed, never stored; no join:
-- min_by gives the first purchase day's amount; DuckDB and Spark >= 3.3).
-- A purchase day is a day with a positive net amount; a day whose returns outweigh its purchases
-- counts toward revenue (net) and returns but is not a purchase occasion. Every customer seen is
-- returned, those with no purchase day (returns only: n_purchase_days = 0, day columns NULL) too:
-- the caller counts and drops them (this saves a second pass for the counts).
--   frequency      = purchase days - 1 (repeat purchases, as in BG/NBD)
--   recency_days   = as_of_day - last purchase day (RFM recency: days since the last purchase)
--   tenure_days    = as_of_day - first purchase day (BG/NBD's T)
--   t_x_days       = last - first purchase day (BG/NBD's recency)
--   monetary       = net revenue / purchase days (currency per purchase occasion)
--   monetary_repeat= mean value of the repeat purchase days (Gamma-Gamma input; 0 if none)
-- The id comes as text (the engine's text type); the caller orders by it in SQL (binary/code-point
-- order on DuckDB and Spark: the order of Python's str sort), not with a Python sort of millions of strings.
WITH agg AS (
  SELECT u,
    MIN(CASE WHEN amt > 0 THEN d END) AS first_day,
    MAX(CASE WHEN amt > 0 THEN d END) AS last_day,
    SUM(CASE WHEN amt > 0 THEN 1 ELSE 0 END) AS n_purchase_days,
    SUM(n_tx) AS n_transactions,
    SUM(amt) AS revenue,
    SUM(CASE WHEN amt > 0 THEN amt ELSE 0 END)
      - min_by(CASE WHEN amt > 0 THEN amt END, CASE WHEN amt > 0 THEN d END) AS repeat_revenue,
    SUM(CASE WHEN amt < 0 THEN -amt ELSE 0 END) AS returns
  FROM ({customer_days}) customer_days
  GROUP BY u
)
SELECT CAST(u AS {text}) AS u,
  {as_of_day} - last_day AS recency_days,
  n_purchase_days - 1 AS frequency,
  CASE WHEN n_purchase_days > 0 THEN revenue / n_purchase_days END AS monetary,
  {as_of_day} - first_day AS tenure_days,
  last_day - first_day AS t_x_days,
  CASE WHEN n_purchase_days > 1 THEN repeat_revenue / (n_purchase_days - 1) ELSE 0 END AS monetary_repeat,
  n_purchase_days, n_transactions, revenue, returns, first_day, last_day
FROM agg
