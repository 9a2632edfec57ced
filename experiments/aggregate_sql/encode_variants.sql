-- Replace variant names by integer codes (configured variants 0..k-1, other names found in the
-- data k.., unrecognised -1): per-user min/max over an integer costs ~40 % less CPU than over
-- text at 100M events, and the hash tables hold no strings.
SELECT {columns}, CASE {cases} ELSE -1 END AS v
FROM staged
