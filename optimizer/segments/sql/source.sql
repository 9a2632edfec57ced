-- Normalise the raw transactions (view "raw") to fixed names used by every later query:
--   u = customer id (its own type: text or integer), t = transaction time in epoch seconds, amt = amount in the report
--   currency (DOUBLE; negative = a return), cur = currency code (text, '' when there is no column).
-- The projection is built per engine (identifier quoting, epoch function, currency conversion).
SELECT {projection}
FROM raw
