-- The buckets rolled up into local days of the merchant's current time zone,
-- kept in the same transaction as the buckets and rebuilt from them when the
-- zone changes: a dashboard reads one row per day and dimension.
CREATE TABLE stat_days (
    merchant_id BIGINT NOT NULL REFERENCES merchants(id),
    section TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- days since 1970-01-01 in the merchant's time zone
    day BIGINT NOT NULL,
    payment_system TEXT NOT NULL,
    currency TEXT NOT NULL,
    country TEXT NOT NULL,
    completed INTEGER NOT NULL,
    amount_minor BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, section, kind, day, payment_system, currency, country, completed)
);
