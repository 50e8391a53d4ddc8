-- The Transactions page filtered by payment system (its commonest filter),
-- newest first: an index range per system instead of the merchant's whole
-- id range with every other system's rows filtered out.
CREATE INDEX transactions_merchant_system_id ON transactions (merchant_id, payment_system, id);
