-- One scan of the staged source, per variant name, counting every data defect we can name in a
-- message (NULL ids/variants, NaN or NULL metric inputs, negative counts, non-0/1 conversions)
-- and listing the variant names found, so they can be encoded as small integers afterwards.
SELECT v, count(*) AS n_rows{checks}
FROM staged
GROUP BY v
