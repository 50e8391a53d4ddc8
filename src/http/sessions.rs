//! The open sockets of signed-in users, watched by one task per instance:
//! a session that ends (logout, password change, user disabled: a bus event)
//! or expires (one batched query every few seconds for all of them) closes
//! its sockets with 4401. No socket queries the database on its own.

use crate::deps::Deps;
use crate::events::graphql::SocketControl;
use crate::events::Event;
use chrono::TimeDelta;
use entity::session;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

type Sockets = HashMap<i64, Vec<(u64, SocketControl)>>;

#[derive(Default)]
pub struct SessionWatch {
    sockets: Mutex<Sockets>,
    next: AtomicU64,
}

/// Keeps a socket registered while it lives.
pub struct Registration {
    watch: Arc<SessionWatch>,
    session: i64,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut map = self.watch.lock();
        if let Some(list) = map.get_mut(&self.session) {
            list.retain(|(id, _)| *id != self.id);
            if list.is_empty() {
                map.remove(&self.session);
            }
        }
    }
}

impl SessionWatch {
    fn lock(&self) -> std::sync::MutexGuard<'_, Sockets> {
        self.sockets.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn register(self: &Arc<Self>, session: i64, control: SocketControl) -> Registration {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().entry(session).or_default().push((id, control));
        Registration {
            watch: self.clone(),
            session,
            id,
        }
    }

    fn close(&self, sessions: &[i64]) {
        let map = self.lock();
        for s in sessions {
            for (_, control) in map.get(s).into_iter().flatten() {
                control.request(super::ws::CLOSE_UNAUTHORIZED, "the session ended");
            }
        }
    }

    fn sessions(&self) -> Vec<i64> {
        self.lock().keys().copied().collect()
    }
}

/// Which of `ids` are still open sessions at the clock's now.
async fn alive(d: &Deps, ids: &[i64]) -> anyhow::Result<Vec<i64>> {
    let now = d.clock.now();
    let idle = TimeDelta::from_std(d.config.session_idle).unwrap_or(TimeDelta::MAX);
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let rows = session::Entity::find()
            .filter(session::Column::Id.is_in(chunk.to_vec()))
            .filter(session::Column::EndedAt.is_null())
            .all(&d.db)
            .await?;
        out.extend(
            rows.into_iter()
                .filter(|s| now < s.expires_at && now < s.last_seen_at + idle)
                .map(|s| s.id),
        );
    }
    Ok(out)
}

/// Runs until `stop`: closes the sockets of sessions that ended or expired.
pub async fn run(d: Deps, watch: Arc<SessionWatch>, mut stop: watch::Receiver<bool>) {
    let mut bus = d.bus.subscribe();
    let mut tick = tokio::time::interval(d.config.session_check);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Expired sign-in failure counts are swept now and then, so a flood of
    // made-up logins leaves nothing behind once its window has passed.
    let mut sweep = tokio::time::interval_at(
        tokio::time::Instant::now() + d.config.purge_every,
        d.config.purge_every,
    );
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = bus.recv() => match event {
                Ok(e) => {
                    match &*e {
                        Event::SessionsEnded { session_ids } => {
                            // (ended on any instance: trusted here no longer)
                            d.auth_cache.end_sessions(session_ids);
                            watch.close(session_ids);
                        }
                        Event::KeysRevoked { key_ids } => d.auth_cache.end_keys(key_ids),
                        _ => {}
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    d.auth_cache.clear();
                    continue;
                }
                Err(RecvError::Closed) => return,
            },
            _ = tick.tick() => {
                let open = watch.sessions();
                if open.is_empty() {
                    continue;
                }
                match alive(&d, &open).await {
                    Ok(alive) => {
                        let ended: Vec<i64> = open.into_iter().filter(|s| !alive.contains(s)).collect();
                        watch.close(&ended);
                    }
                    // The database is away: keep the sockets; the next tick tries again.
                    Err(e) => tracing::warn!(error = %e, "checking open sessions"),
                }
            },
            _ = sweep.tick() => {
                match crate::auth::service::purge_login_failures(&d).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(rows = n, "purged expired sign-in failures"),
                    Err(e) => tracing::warn!(error = %e, "purging sign-in failures"),
                }
            },
            _ = stop.changed() => return,
        }
    }
}

/// Open sockets per owner (session, key or client address), so that one
/// caller cannot hold an unbounded number of them (`KASSA_WS_PER_CLIENT`).
#[derive(Default)]
pub struct Seats {
    taken: Arc<std::sync::Mutex<HashMap<String, usize>>>,
}

/// One socket's place in its owner's share; given back on drop.
pub struct Seat {
    owner: String,
    taken: Arc<std::sync::Mutex<HashMap<String, usize>>>,
}

impl Seats {
    /// A seat for `owner` if it holds fewer than `max`.
    pub fn take(&self, owner: String, max: usize) -> Option<Seat> {
        let mut taken = self.taken.lock().unwrap_or_else(|p| p.into_inner());
        let n = taken.entry(owner.clone()).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Seat {
            owner,
            taken: self.taken.clone(),
        })
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut taken = self.taken.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = taken.get_mut(&self.owner) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                taken.remove(&self.owner);
            }
        }
    }
}
