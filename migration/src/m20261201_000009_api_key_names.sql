-- Self-service API keys: a name the owner gives, who made it, when it was
-- last used (written at most once a minute per key and instance).
ALTER TABLE api_keys ADD COLUMN name TEXT;
ALTER TABLE api_keys ADD COLUMN created_by BIGINT REFERENCES users(id);
ALTER TABLE api_keys ADD COLUMN last_used_at {ts};
CREATE INDEX api_keys_merchant ON api_keys (merchant_id, id);
