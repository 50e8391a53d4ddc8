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
//!
//! A credential looked up before an ending and cached after it would outlive
//! the ending by those 5 seconds (a request that read the session just before
//! logout committed, then cached it): every ending counts one, a lookup takes
//! a [`Ticket`] before it reads, and its answer is cached only if nothing
//! ended meanwhile (an ending that has nothing to do with it costs it only
//! one more lookup next time).

use super::model::Actor;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Endings so far (sessions, keys, everything): counted while `entries`
    /// is locked, read by [`AuthCache::put`] under the same lock.
    endings: AtomicU64,
}

/// Taken before a credential is looked up in the database; its answer is
/// cached only if no ending came between ([`AuthCache::put`]).
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct Ticket(u64);

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

    /// What to show [`AuthCache::put`] after looking a credential up: take
    /// it before the lookup reads anything.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.endings.load(Ordering::SeqCst))
    }

    /// Remembers that the database confirmed `actor` for `digest` at `now`,
    /// unless some session or key ended since `ticket` was taken (the
    /// lookup may have read it before it ended).
    pub fn put(
        &self,
        ticket: Ticket,
        digest: String,
        actor: Actor,
        now: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) {
        if matches!(actor, Actor::Invalid | Actor::Anonymous) {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if self.endings.load(Ordering::SeqCst) != ticket.0 {
            return;
        }
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
        self.endings.fetch_add(1, Ordering::SeqCst);
        entries.retain(|_, e| match &e.actor {
            Actor::User(u) => !session_ids.contains(&u.session_id),
            _ => true,
        });
    }

    /// Forgets the entries of revoked API keys.
    pub fn end_keys(&self, key_ids: &[i64]) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        self.endings.fetch_add(1, Ordering::SeqCst);
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
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        self.endings.fetch_add(1, Ordering::SeqCst);
        entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::model::{KeyActor, Role, Scope, UserActor};

    fn user(session_id: i64) -> Actor {
        Actor::User(UserActor {
            user_id: 7,
            merchant_id: 3,
            role: Role::Owner,
            session_id,
        })
    }

    fn key(key_id: i64) -> Actor {
        Actor::Key(KeyActor {
            key_id,
            scope: Scope::Merchant,
            merchant_id: Some(3),
        })
    }

    #[test]
    fn a_lookup_is_cached_when_nothing_ended_meanwhile() {
        let cache = AuthCache::default();
        let now = Utc::now();
        let ticket = cache.ticket();
        cache.put(ticket, "s".into(), user(1), now, None);
        assert!(matches!(cache.get("s", now), Some(Actor::User(u)) if u.session_id == 1));
        assert!(cache.get("s", now + FRESH).is_none(), "trusted past FRESH");
    }

    /// The lookup read the session before logout committed and caches it
    /// after logout dropped the entries: the ended session must not be
    /// trusted from the cache (for the next 5 seconds) all the same.
    #[test]
    fn a_lookup_overtaken_by_an_ending_is_not_cached() {
        let now = Utc::now();
        type Ending = fn(&AuthCache);
        let endings: [(&str, Actor, Ending); 3] = [
            ("logout", user(1), |c| c.end_sessions(&[1])),
            ("revoke", key(9), |c| c.end_keys(&[9])),
            ("missed events", user(1), AuthCache::clear),
        ];
        for (what, actor, end) in endings {
            let cache = AuthCache::default();
            let ticket = cache.ticket();
            end(&cache);
            cache.put(ticket, "t".into(), actor.clone(), now, None);
            assert!(
                cache.get("t", now).is_none(),
                "{what}: cached after the ending"
            );
            // a lookup begun after the ending is cached again
            let ticket = cache.ticket();
            cache.put(ticket, "t".into(), actor, now, None);
            assert!(
                cache.get("t", now).is_some(),
                "{what}: a later lookup not cached"
            );
        }
    }

    #[test]
    fn an_ending_drops_its_entries_and_keeps_the_others() {
        let cache = AuthCache::default();
        let now = Utc::now();
        for (digest, actor) in [("a", user(1)), ("b", user(2)), ("k", key(9))] {
            let ticket = cache.ticket();
            cache.put(ticket, digest.into(), actor, now, None);
        }
        cache.end_sessions(&[1]);
        cache.end_keys(&[9]);
        assert!(cache.get("a", now).is_none());
        assert!(cache.get("k", now).is_none());
        assert!(cache.get("b", now).is_some());
    }
}
