-- One scan of the normalised source counting every data defect we can name in a message:
-- NULL ids/variants, NaN or NULL metric inputs, negative counts, non-0/1 conversions.
SELECT count(*) AS n_rows{checks}
FROM src
