-- Health of each postback endpoint (a merchant's URL): consecutive failures
-- open its circuit; while open, its due postbacks wait without attempts
-- until one probe (half-open) succeeds.
CREATE TABLE postback_endpoints (
    id {pk},
    merchant_id BIGINT NOT NULL REFERENCES merchants(id),
    url TEXT NOT NULL,
    -- CLOSED, OPEN or HALF_OPEN
    circuit TEXT NOT NULL DEFAULT 'CLOSED',
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    -- how many times in a row the circuit opened (the probe wait doubles)
    open_streak INTEGER NOT NULL DEFAULT 0,
    next_probe_at {ts},
    last_success_at {ts},
    last_failure_at {ts},
    last_error TEXT,
    UNIQUE (merchant_id, url)
);
-- Claims in force, counted per merchant for the per-merchant limit.
CREATE INDEX postbacks_claimed ON postbacks (claimed_until);
-- Due work grouped by merchant and kind, and each group's oldest first.
CREATE INDEX postbacks_due_by_merchant ON postbacks (merchant_id, kind, next_attempt_at)
    WHERE status IN ('PENDING', 'RETRYING');
