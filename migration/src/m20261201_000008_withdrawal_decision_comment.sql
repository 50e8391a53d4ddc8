-- The platform's comment on a decision gets its own column: `comment` stays
-- the merchant's. Rows decided before this migration keep what they hold:
-- the merchant's comment a decision overwrote was recorded nowhere (not in
-- the audit log, only hashed for idempotency), so it cannot be restored,
-- and a decided row's comment cannot be told apart as the merchant's or
-- the platform's; moving it would misattribute one or the other.
ALTER TABLE withdrawals ADD COLUMN decision_comment TEXT;
