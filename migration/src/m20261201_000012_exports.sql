-- CSV exports: a download token (stored as SHA-256) for one merchant's rows
-- under one filter, valid for ten minutes.
CREATE TABLE exports (
    id {pk},
    token_hash TEXT NOT NULL UNIQUE,
    merchant_id BIGINT NOT NULL REFERENCES merchants(id),
    -- TRANSACTIONS or WITHDRAWALS
    kind TEXT NOT NULL,
    -- the page's filter, as the GraphQL input (JSON)
    filter TEXT NOT NULL,
    created_at {ts} NOT NULL,
    expires_at {ts} NOT NULL
);
