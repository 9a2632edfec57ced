-- Per-user rows -> per-look rows: a user belongs to look k when exposed by the end of week k.
-- Values are the snapshot in the file (not week-to-date): see docs/experiments-report.md.
-- (Column names of src and looks do not collide, so they need no table prefix.)
SELECT l.k AS k, u, v AS v_min, v AS v_max{dims}{values}
FROM src JOIN looks l ON {bucket} <= l.k
WHERE {where}
