//! Credentials verified a moment ago, so a busy client's requests do not
//! each look up their session (or key) and user.
//!
//! An entry lives at most [`FRESH`] (5 s): a session's entry is dropped as
//! soon as it is due for its activity touch, which goes to the database as
//! before, and a key's after the same time. Ending sessions (logout,
//! password change, a user disabled) drops their entries at once on the
//! instance that ended them and, through the event bus, on every other
//! one; without the bus, another instance trusts an ended session for at
//! most those 5 seconds. Unknown credentials are never cached, so a flood of
//! made-up tokens cannot fill it.

use super::model::Actor;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

/// How long a verified credential is trusted without the database.
pub const FRESH: TimeDelta = TimeDelta::seconds(5);
/// Most credentials kept; past it the cache starts over.
const MAX_ENTRIES: usize = 10_000;

struct Entry {
    actor: Actor,
    /// When the database last confirmed it.
    confirmed: DateTime<Utc>,
    /// A session's absolute end.
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub struct AuthCache {
    entries: Mutex<HashMap<String, Entry>>,
    /// When each API key's last use was written.
    key_used: Mutex<HashMap<i64, DateTime<Utc>>>,
}

/// How often an API key's `last_used_at` is written, at most.
pub const KEY_USE_EVERY: TimeDelta = TimeDelta::seconds(60);

impl AuthCache {
    /// The caller of credential `digest`, if confirmed less than [`FRESH`] ago.
    pub fn get(&self, digest: &str, now: DateTime<Utc>) -> Option<Actor> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(digest)?;
        let fresh = now >= entry.confirmed
            && now - entry.confirmed < FRESH
            && entry.expires_at.is_none_or(|end| now < end);
        if fresh {
            Some(entry.actor.clone())
        } else {
            entries.remove(digest);
            None
        }
    }

    /// Remembers that the database confirmed `actor` for `digest` at `now`.
    pub fn put(
        &self,
        digest: String,
        actor: Actor,
        now: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) {
        if matches!(actor, Actor::Invalid | Actor::Anonymous) {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            digest,
            Entry {
                actor,
                confirmed: now,
                expires_at,
            },
        );
    }

    /// Forgets the entries of ended sessions.
    pub fn end_sessions(&self, session_ids: &[i64]) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, e| match &e.actor {
            Actor::User(u) => !session_ids.contains(&u.session_id),
            _ => true,
        });
    }

    /// Forgets the entries of revoked API keys.
    pub fn end_keys(&self, key_ids: &[i64]) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, e| match &e.actor {
            Actor::Key(k) => !key_ids.contains(&k.key_id),
            _ => true,
        });
    }

    /// Whether key `key_id`'s last use should be written now: at most once
    /// a minute per key (on this instance), so requests do not each write.
    pub fn key_use_due(&self, key_id: i64, now: DateTime<Utc>) -> bool {
        let mut used = self.key_used.lock().unwrap_or_else(|p| p.into_inner());
        match used.get(&key_id) {
            Some(at) if now >= *at && now - *at < KEY_USE_EVERY => false,
            _ => {
                if used.len() >= MAX_ENTRIES {
                    used.clear();
                }
                used.insert(key_id, now);
                true
            }
        }
    }

    /// Forgets everything (events may have been missed).
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}
