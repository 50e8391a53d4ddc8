-- The Transactions page filtered to activated deposits (status ACTIVATED),
-- alone or with payment systems, newest first: an index of the activated
-- rows only, so a page reads its own rows instead of stepping over every
-- not-yet-activated one (two in three of a merchant's rows) to find them.
CREATE INDEX transactions_merchant_id_activated ON transactions (merchant_id, id) WHERE activated_at IS NOT NULL;
CREATE INDEX transactions_merchant_system_id_activated ON transactions (merchant_id, payment_system, id) WHERE activated_at IS NOT NULL
