-- The audit log filtered by user, by action or by time, each page by id
-- (newest first) from an index range.
CREATE INDEX audit_entries_merchant_user ON audit_entries (merchant_id, user_id, id);
CREATE INDEX audit_entries_merchant_action ON audit_entries (merchant_id, action, id);
CREATE INDEX audit_entries_merchant_at ON audit_entries (merchant_id, at, id);
