-- Balances as credits and debits, so the "never overdraw" check is one
-- conditional update: credited - withdrawn >= amount. (The first shape was
-- never written to; it is replaced, and filled from the activated deposits.)
DROP TABLE balances;
CREATE TABLE balances (
    merchant_id BIGINT NOT NULL REFERENCES merchants(id),
    currency TEXT NOT NULL REFERENCES currencies(code),
    -- activated NORMAL incoming deposits, less their commission
    credited_minor BIGINT NOT NULL DEFAULT 0,
    -- withdrawals that are NEW or APPROVED
    withdrawn_minor BIGINT NOT NULL DEFAULT 0,
    -- withdrawals that are NEW
    reserved_minor BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (merchant_id, currency)
);
INSERT INTO balances (merchant_id, currency, credited_minor)
    SELECT merchant_id, currency, SUM(amount_minor - commission_minor)
    FROM transactions
    WHERE activated_at IS NOT NULL AND originality = 'NORMAL' AND direction = 'INCOMING'
    GROUP BY merchant_id, currency;
-- Follows the withdrawal's status postback: NOT_SENT, RECEIVED, ERROR.
ALTER TABLE withdrawals ADD COLUMN postback_status TEXT NOT NULL DEFAULT 'NOT_SENT';
CREATE INDEX withdrawals_merchant_amount ON withdrawals (merchant_id, amount_minor, id);
CREATE INDEX withdrawals_merchant_status ON withdrawals (merchant_id, status, id);
CREATE INDEX withdrawals_merchant_recipient ON withdrawals (merchant_id, recipient);
CREATE INDEX withdrawals_merchant_label ON withdrawals (merchant_id, label)
