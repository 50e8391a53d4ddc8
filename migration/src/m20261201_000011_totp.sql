-- Two-factor sign-in (TOTP, RFC 6238). The secret is never readable back
-- through the API; totp_last_step is the last time step a code was accepted
-- for, so a code is accepted once. Recovery codes are stored as SHA-256.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_enabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;
CREATE TABLE recovery_codes (
    id {pk},
    user_id BIGINT NOT NULL REFERENCES users(id),
    code_hash TEXT NOT NULL,
    used_at {ts}
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id, code_hash);
