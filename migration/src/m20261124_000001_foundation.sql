-- Reference data: currencies and the payment-system catalogue (PAYMENT_SYSTEMS.md).
CREATE TABLE currencies (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    minor_units INTEGER NOT NULL
);
CREATE TABLE payment_systems (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    country TEXT NOT NULL,
    currency TEXT NOT NULL REFERENCES currencies(code),
    -- JSON array of field specs, recipient first, in form order
    withdrawal_fields TEXT NOT NULL,
    position INTEGER NOT NULL
);

-- Tenants and their people.
CREATE TABLE merchants (
    id {pk},
    name TEXT NOT NULL,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    plugin_key TEXT NOT NULL UNIQUE,
    delayed_auto_activation BOOLEAN NOT NULL DEFAULT FALSE,
    postback_url TEXT,
    withdrawal_postback_url TEXT,
    -- the Standard Webhooks signing secret, whsec_<base64>
    postback_secret TEXT NOT NULL,
    after_payment_action TEXT NOT NULL DEFAULT 'SHOW_RESULT',
    success_url TEXT,
    fail_url TEXT,
    theme TEXT NOT NULL DEFAULT 'LIGHT',
    custom_css_file_id BIGINT,
    created_at {ts} NOT NULL
);
CREATE TABLE users (
    id {pk},
    merchant_id BIGINT NOT NULL REFERENCES merchants(id),
    -- stored lower-cased: logins are case-insensitive and globally unique
    login TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    language TEXT NOT NULL DEFAULT 'EN',
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at {ts} NOT NULL,
    last_login_at {ts},
    password_changed_at {ts} NOT NULL
);
CREATE INDEX users_merchant ON users (merchant_id, id);
CREATE TABLE password_history (
    id {pk},
    user_id BIGINT NOT NULL REFERENCES users(id),
    password_hash TEXT NOT NULL,
    created_at {ts} NOT NULL
);
CREATE INDEX password_history_user ON password_history (user_id, id);
CREATE TABLE sessions (
    id {pk},
    user_id BIGINT NOT NULL REFERENCES users(id),
    merchant_id BIGINT NOT NULL REFERENCES merchants(id),
    -- SHA-256 of the opaque token; the token itself is never stored
    token_hash TEXT NOT NULL UNIQUE,
    created_at {ts} NOT NULL,
    last_seen_at {ts} NOT NULL,
    expires_at {ts} NOT NULL,
    ended_at {ts},
    end_reason TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);
-- Failed logins in a row per login (known or not), shared by every instance.
CREATE TABLE login_failures (
    login TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    locked_until {ts},
    updated_at {ts} NOT NULL
);
CREATE TABLE api_keys (
    id {pk},
    scope TEXT NOT NULL,
    merchant_id BIGINT REFERENCES merchants(id),
    key_hash TEXT NOT NULL UNIQUE,
    -- the first characters of the key, to recognise it in lists
    prefix TEXT NOT NULL,
    created_at {ts} NOT NULL,
    revoked_at {ts}
);

-- Money in: wallets, rates, transactions, stockpilings, activation requests.
CREATE TABLE wallets (
    id {pk},
    merchant_id BIGINT NOT NULL REFERENCES merchants(id),
    payment_system TEXT NOT NULL REFERENCES payment_systems(code),
    identifier TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at {ts} NOT NULL,
    UNIQUE (payment_system, identifier)
);
CREATE INDEX wallets_merchant ON wallets (merchant_id, id);
CREATE TABLE exchange_rates (
    currency TEXT NOT NULL REFERENCES currencies(code),
    -- YYYY-MM-DD
    date TEXT NOT NULL,
    -- exact decimal text: value of one unit in USD
    usd TEXT NOT NULL,
    PRIMARY KEY (currency, date)
);
CREATE TABLE minimum_deposits (
    merchant_id BIGINT NOT NULL REFERENCES merchants(id),
    currency TEXT NOT NULL REFERENCES currencies(code),
    amount_minor BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, currency)
);
CREATE TABLE stockpilings (
    id {pk},
    merchant_id BIGINT NOT NULL REFERENCES merchants(id),
    label TEXT NOT NULL,
    currency TEXT NOT NULL,
    minimum_minor BIGINT NOT NULL,
    accumulated_minor BIGINT NOT NULL,
    status TEXT NOT NULL,
    -- 'merchant:currency:label' while IN_PROGRESS, NULL once completed: at most one open per key
    open_key TEXT UNIQUE,
    created_at {ts} NOT NULL,
    completed_at {ts}
);
CREATE INDEX stockpilings_merchant ON stockpilings (merchant_id, id);
CREATE TABLE transactions (
    id {pk},
    merchant_id BIGINT NOT NULL REFERENCES merchants(id),
    payment_system TEXT NOT NULL REFERENCES payment_systems(code),
    wallet_id BIGINT NOT NULL REFERENCES wallets(id),
    wallet_identifier TEXT NOT NULL,
    direction TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    commission_minor BIGINT NOT NULL DEFAULT 0,
    transaction_number TEXT NOT NULL,
    counterparty TEXT,
    created_at {ts} NOT NULL,
    ingested_at {ts} NOT NULL,
    label TEXT,
    order_id TEXT,
    activated_at {ts},
    type TEXT NOT NULL,
    originality TEXT NOT NULL,
    country TEXT NOT NULL,
    stockpiling_id BIGINT REFERENCES stockpilings(id),
    UNIQUE (payment_system, transaction_number)
);
CREATE INDEX transactions_merchant_id ON transactions (merchant_id, id);
CREATE INDEX transactions_merchant_created ON transactions (merchant_id, created_at, id);
CREATE INDEX transactions_merchant_activated ON transactions (merchant_id, activated_at, id);
CREATE INDEX transactions_stockpiling ON transactions (stockpiling_id);
CREATE TABLE activation_requests (
    id {pk},
    -- random, unguessable: the plugin follows the request by it without a session
    ticket TEXT NOT NULL UNIQUE,
    merchant_id BIGINT NOT NULL REFERENCES merchants(id),
    payment_system TEXT NOT NULL REFERENCES payment_systems(code),
    transaction_number TEXT NOT NULL,
    label TEXT NOT NULL,
    order_id TEXT,
    status TEXT NOT NULL,
    created_at {ts} NOT NULL,
    expires_at {ts} NOT NULL,
    settled_at {ts},
    transaction_id BIGINT REFERENCES transactions(id)
);
CREATE INDEX activation_requests_lookup ON activation_requests (payment_system, transaction_number, status);

-- Money out: balances, withdrawals, idempotency.
CREATE TABLE balances (
    merchant_id BIGINT NOT NULL REFERENCES merchants(id),
    currency TEXT NOT NULL REFERENCES currencies(code),
    -- activated NORMAL deposits less commission, less NEW and APPROVED withdrawals
    available_minor BIGINT NOT NULL DEFAULT 0,
    reserved_minor BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (merchant_id, currency),
    CHECK (available_minor >= 0)
);
CREATE TABLE withdrawals (
    id {pk},
    merchant_id BIGINT NOT NULL REFERENCES merchants(id),
    payment_system TEXT NOT NULL REFERENCES payment_systems(code),
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    recipient TEXT NOT NULL,
    label TEXT,
    comment TEXT,
    -- JSON array of {name, value}
    fields TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL,
    request_kind TEXT NOT NULL,
    created_by BIGINT REFERENCES users(id),
    api_key_id BIGINT REFERENCES api_keys(id),
    created_at {ts} NOT NULL,
    processed_at {ts}
);
CREATE INDEX withdrawals_merchant_id ON withdrawals (merchant_id, id);
CREATE INDEX withdrawals_merchant_created ON withdrawals (merchant_id, created_at, id);
CREATE TABLE idempotency_keys (
    merchant_id BIGINT NOT NULL REFERENCES merchants(id),
    key TEXT NOT NULL,
    -- SHA-256 of the canonical input: the same key with other input is a conflict
    request_hash TEXT NOT NULL,
    withdrawal_id BIGINT REFERENCES withdrawals(id),
    created_at {ts} NOT NULL,
    PRIMARY KEY (merchant_id, key)
);

-- Postbacks: an outbox written with their cause, and the delivery log.
CREATE TABLE postbacks (
    id {pk},
    merchant_id BIGINT NOT NULL REFERENCES merchants(id),
    -- the Standard Webhooks message id, the same on every attempt
    message_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    url TEXT,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    stockpiling_id BIGINT REFERENCES stockpilings(id),
    withdrawal_id BIGINT REFERENCES withdrawals(id),
    attempt_count INTEGER NOT NULL DEFAULT 0,
    -- whether any attempt was answered (drives QUEUED vs SENT/ERROR_SENDING)
    last_outcome TEXT,
    last_error TEXT,
    next_attempt_at {ts},
    claimed_by TEXT,
    claimed_until {ts},
    delivered_at {ts},
    created_at {ts} NOT NULL
);
CREATE INDEX postbacks_due ON postbacks (status, next_attempt_at);
CREATE INDEX postbacks_merchant ON postbacks (merchant_id, id);
CREATE INDEX postbacks_stockpiling ON postbacks (stockpiling_id);
CREATE INDEX postbacks_withdrawal ON postbacks (withdrawal_id);
CREATE TABLE postback_attempts (
    id {pk},
    postback_id BIGINT NOT NULL REFERENCES postbacks(id),
    at {ts} NOT NULL,
    response_status INTEGER,
    error TEXT,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX postback_attempts_postback ON postback_attempts (postback_id, id);

-- Files (plugin stylesheets, prompt pictures) and the audit trail.
CREATE TABLE files (
    id {pk},
    merchant_id BIGINT NOT NULL REFERENCES merchants(id),
    -- random public name used in /files/<name>
    name TEXT NOT NULL UNIQUE,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    data {blob} NOT NULL,
    created_at {ts} NOT NULL
);
CREATE TABLE payment_system_prompts (
    merchant_id BIGINT NOT NULL REFERENCES merchants(id),
    payment_system TEXT NOT NULL REFERENCES payment_systems(code),
    file_id BIGINT NOT NULL REFERENCES files(id),
    PRIMARY KEY (merchant_id, payment_system)
);
CREATE TABLE audit_entries (
    id {pk},
    merchant_id BIGINT REFERENCES merchants(id),
    user_id BIGINT REFERENCES users(id),
    -- who acted when it was not a user: "platform", "plugin", "cli", "api-key:<id>"
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT,
    details TEXT,
    at {ts} NOT NULL
);
CREATE INDEX audit_entries_merchant ON audit_entries (merchant_id, id);

INSERT INTO currencies (code, name, minor_units) VALUES
    ('INR', 'Indian rupee', 2),
    ('BDT', 'Bangladeshi taka', 2),
    ('PKR', 'Pakistani rupee', 2),
    ('MMK', 'Myanmar kyat', 2),
    ('USD', 'US dollar', 2),
    ('EUR', 'Euro', 2),
    ('JPY', 'Japanese yen', 0),
    ('KWD', 'Kuwaiti dinar', 3);

INSERT INTO payment_systems (code, name, country, currency, position, withdrawal_fields) VALUES
('paytm', 'Paytm', 'IN', 'INR', 1, '[{"name":"recipient","label":"Paytm phone number","kind":"PHONE","required":true,"pattern":"^[6-9][0-9]{9}$","example":"9876543210"}]'),
('phonepe', 'PhonePe', 'IN', 'INR', 2, '[{"name":"recipient","label":"UPI ID","kind":"TEXT","required":true,"pattern":"^[A-Za-z0-9._-]{2,256}@[A-Za-z]{2,64}$","example":"payer@ybl"}]'),
('upi', 'UPI', 'IN', 'INR', 3, '[{"name":"recipient","label":"UPI ID","kind":"TEXT","required":true,"pattern":"^[A-Za-z0-9._-]{2,256}@[A-Za-z]{2,64}$","example":"payer@okaxis"},{"name":"account_name","label":"Account holder name","kind":"TEXT","required":false,"pattern":"^[A-Za-z ]{1,30}$","example":"Ravi Kumar"}]'),
('imps', 'IMPS bank transfer', 'IN', 'INR', 4, '[{"name":"recipient","label":"Bank account number","kind":"NUMBER","required":true,"pattern":"^[0-9]{9,18}$","example":"123456789012"},{"name":"ifsc","label":"IFSC code","kind":"TEXT","required":true,"pattern":"^[A-Z]{4}0[A-Z0-9]{6}$","example":"HDFC0001234"},{"name":"account_name","label":"Account holder name","kind":"TEXT","required":true,"pattern":"^[A-Za-z ]{1,30}$","example":"Ravi Kumar"}]'),
('bkash', 'bKash', 'BD', 'BDT', 5, '[{"name":"recipient","label":"bKash phone number","kind":"PHONE","required":true,"pattern":"^01[3-9][0-9]{8}$","example":"01712345678"}]'),
('nagad', 'Nagad', 'BD', 'BDT', 6, '[{"name":"recipient","label":"Nagad phone number","kind":"PHONE","required":true,"pattern":"^01[3-9][0-9]{8}$","example":"01812345678"}]'),
('rocket', 'Rocket', 'BD', 'BDT', 7, '[{"name":"recipient","label":"Rocket account number","kind":"PHONE","required":true,"pattern":"^01[3-9][0-9]{9}$","example":"019123456789"}]'),
('easypaisa', 'Easypaisa', 'PK', 'PKR', 8, '[{"name":"recipient","label":"Easypaisa phone number","kind":"PHONE","required":true,"pattern":"^03[0-9]{9}$","example":"03123456789"},{"name":"cnic","label":"CNIC","kind":"NUMBER","required":false,"pattern":"^[0-9]{13}$","example":"3520112345671"}]'),
('jazzcash', 'JazzCash', 'PK', 'PKR', 9, '[{"name":"recipient","label":"JazzCash phone number","kind":"PHONE","required":true,"pattern":"^03[0-9]{9}$","example":"03001234567"}]'),
('wavepay', 'WavePay', 'MM', 'MMK', 10, '[{"name":"recipient","label":"WavePay phone number","kind":"PHONE","required":true,"pattern":"^09[0-9]{7,9}$","example":"09123456789"}]');
