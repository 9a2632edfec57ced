"""Customer segments from transactions: RFM features in SQL, RFM groups, K-means, profiles, privacy.

Modules (one job each):

- ``config``: the ``segments:`` settings (pydantic).
- ``aggregate`` + ``sql/``: per-customer features in SQL (DuckDB embedded; the same SQL on Spark).
- ``rfm``: quantile scores and the named RFM groups (rule table).
- ``kmeans``: K-means on scaled features, k by silhouette or elbow, stable labels (Hungarian).
- ``profiles``: the pipeline (:func:`profiles.run_segments`) and its result.
- ``privacy``: HMAC-SHA256 pseudonyms; ``simulate``: seeded transaction logs.
- ``section``: the ``segments:`` scenario section; ``cli``: ``dmpopt segments fit``.

Units: days for recency/tenure; money in the report currency; shares 0-1. Nothing heavy is
imported here.
"""
