-- The Transactions page filters by postback status; it is kept on the row
-- (moved with the stockpiling and the postback) instead of derived per query.
ALTER TABLE transactions ADD COLUMN postback_status TEXT NOT NULL DEFAULT 'STOCKPILING_NOT_FOUND';
-- 'merchant:payment_system:number' while WAITING, NULL once settled: one waiting request per number.
ALTER TABLE activation_requests ADD COLUMN waiting_key TEXT;
CREATE UNIQUE INDEX activation_requests_waiting ON activation_requests (waiting_key);
ALTER TABLE activation_requests ADD COLUMN client_ip TEXT;
-- Sort and filter paths of the Transactions page (chosen from query plans, see README).
CREATE INDEX transactions_merchant_amount ON transactions (merchant_id, amount_minor, id);
-- activated_at inside the index lets `totalCount` of the usual filter
-- (systems + status + created range) run as an index-only scan.
CREATE INDEX transactions_merchant_system_created ON transactions (merchant_id, payment_system, created_at, activated_at, id);
CREATE INDEX transactions_merchant_label ON transactions (merchant_id, label);
CREATE INDEX transactions_merchant_order ON transactions (merchant_id, order_id);
CREATE INDEX transactions_merchant_number ON transactions (merchant_id, transaction_number);
CREATE INDEX stockpilings_merchant_label ON stockpilings (merchant_id, label, id)
