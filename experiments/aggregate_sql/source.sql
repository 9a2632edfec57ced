-- Normalise the raw file (view "raw") to fixed column names shared by every later query:
--   u = user id, v = variant (text), t = event/exposure time in epoch seconds (or 0),
--   e = event name (events data), c<j> = numeric input columns as DOUBLE, g<j> = dimensions.
-- The projection list is built per engine (identifier quoting and the epoch function differ).
SELECT {projection}
FROM raw
