-- Pre-aggregated dashboard statistics: one row per merchant, section
-- ('T' transactions, 'W' withdrawals), date kind, 15-minute UTC bucket and
-- the dimensions the dashboard filters or groups by. Every zone in use today
-- has an offset that is a multiple of 15 minutes and changes it on a
-- 15-minute boundary, so every bucket lies inside exactly one local day of
-- any zone: any day of any zone is a sum of whole buckets.
-- Kept in the same database transaction as the change that moves a row into
-- or out of a bucket; `kassa admin rebuild-stats` recomputes them.
CREATE TABLE stat_buckets (
    merchant_id BIGINT NOT NULL REFERENCES merchants(id),
    section TEXT NOT NULL,
    -- ACTIVATION, CREATION or STOCKPILING_END
    kind TEXT NOT NULL,
    -- seconds since the Unix epoch / 900
    bucket BIGINT NOT NULL,
    payment_system TEXT NOT NULL,
    currency TEXT NOT NULL,
    -- a withdrawal's is its payment system's
    country TEXT NOT NULL,
    -- 1 when the transaction's stockpiling is completed (always 1 for withdrawals)
    completed INTEGER NOT NULL,
    amount_minor BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, section, kind, bucket, payment_system, currency, country, completed)
);
