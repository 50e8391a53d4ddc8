//! Live events (BEHAVIOUR §9): what subscriptions push.
//!
//! Services publish after their database transaction commits; each event
//! carries the object as it stood right after the change, so delivering it
//! reads nothing. One bus per instance: a bounded `broadcast` channel that
//! every subscriber of this instance listens to. With `REDIS_URL`, publishing
//! goes through Redis pub/sub and one subscriber connection per instance
//! feeds the local channel, so an event committed on any instance reaches
//! subscribers on all of them. Redis down: events are delivered locally
//! (nothing is lost from the database; other instances miss them), the bus
//! reconnects on its own, and when it is back every subscriber gets a
//! `Resync` so clients refetch.

pub mod graphql;

use chrono::{DateTime, Utc};
use entity::{activation_request, transaction, withdrawal};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// One change, as subscribers receive it. (Shared behind an `Arc`, so the
/// size of the larger variants costs nothing per subscriber.)
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Event {
    Transaction {
        merchant_id: i64,
        kind: TransactionEventKind,
        at: DateTime<Utc>,
        transaction: transaction::Model,
    },
    Withdrawal {
        merchant_id: i64,
        kind: WithdrawalEventKind,
        at: DateTime<Utc>,
        withdrawal: withdrawal::Model,
    },
    ActivationRequest {
        request: activation_request::Model,
        /// Amount and currency of the settled transaction, with its stockpiling progress.
        transaction: Option<transaction::Model>,
        stockpiling: Option<entity::stockpiling::Model>,
    },
    /// Sessions that ended (logout, password change, user disabled): their sockets close.
    SessionsEnded { session_ids: Vec<i64> },
    /// API keys that were revoked: no instance trusts them any longer.
    KeysRevoked { key_ids: Vec<i64> },
    /// Fan-out between instances was interrupted and is back: refetch.
    Resync,
}

/// What happened to a transaction.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TransactionEventKind {
    /// The payment system reported it.
    Created,
    /// The payer (or delayed automatic activation) activated it.
    Activated,
    /// Its postbackStatus moved.
    PostbackStatusChanged,
    /// The platform marked it NORMAL or SCAM.
    OriginalityChanged,
}

/// What happened to a withdrawal.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WithdrawalEventKind {
    /// It was requested.
    Created,
    /// The platform approved or rejected it.
    StatusChanged,
    /// Its postbackStatus moved.
    PostbackStatusChanged,
}

impl Event {
    pub fn transaction(
        kind: TransactionEventKind,
        at: DateTime<Utc>,
        t: &transaction::Model,
    ) -> Event {
        Event::Transaction {
            merchant_id: t.merchant_id,
            kind,
            at,
            transaction: t.clone(),
        }
    }

    pub fn withdrawal(
        kind: WithdrawalEventKind,
        at: DateTime<Utc>,
        w: &withdrawal::Model,
    ) -> Event {
        Event::Withdrawal {
            merchant_id: w.merchant_id,
            kind,
            at,
            withdrawal: w.clone(),
        }
    }
}

/// The format of events on the Redis channel: `{"v": 1, "event": …}`. An
/// instance that meets another version (a rolling deploy mixing releases)
/// cannot know what it missed, so it tells its subscribers to resync.
pub const EVENT_FORMAT: u32 = 1;

#[derive(Serialize)]
struct Outgoing<'a> {
    v: u32,
    event: &'a Event,
}

#[derive(Deserialize)]
struct Incoming {
    v: u32,
    event: serde_json::Value,
}

/// A payload from the channel: the event, or why it cannot be read.
fn decode(payload: &str) -> Result<Event, String> {
    let incoming: Incoming =
        serde_json::from_str(payload).map_err(|e| format!("not a versioned event ({e})"))?;
    if incoming.v != EVENT_FORMAT {
        return Err(format!(
            "event format {} (this instance reads {EVENT_FORMAT})",
            incoming.v
        ));
    }
    serde_json::from_value(incoming.event).map_err(|e| format!("an unknown event ({e})"))
}

/// What the bus has done since start: at /metrics.
#[derive(Default)]
pub struct BusStats {
    pub published: AtomicU64,
    pub received: AtomicU64,
    pub undecodable: AtomicU64,
    pub resyncs: AtomicU64,
}

/// The instance's event bus.
pub struct Bus {
    local: broadcast::Sender<Arc<Event>>,
    redis: Option<RedisLink>,
    pub stats: Arc<BusStats>,
}

struct RedisLink {
    client: redis::Client,
    /// The channel every instance of the deployment publishes to and listens on.
    channel: String,
    /// The publishing connection; `None` until Redis answers.
    publisher: tokio::sync::Mutex<Option<redis::aio::ConnectionManager>>,
    /// Whether the subscriber connection is up (events from this instance
    /// then come back through it; otherwise they are delivered locally).
    listening: Arc<AtomicBool>,
}

impl Bus {
    /// An in-process bus.
    /// An in-process bus buffering `capacity` events per subscriber; one
    /// that falls further behind is dropped (its socket closes with 1013).
    pub fn local(capacity: usize) -> Arc<Bus> {
        Arc::new(Bus {
            local: broadcast::channel(capacity).0,
            redis: None,
            stats: Arc::default(),
        })
    }

    /// A bus fanned out through Redis at `url`; starts its listener and
    /// keeps trying while Redis is away.
    pub fn redis(url: &str, channel: &str, capacity: usize) -> anyhow::Result<Arc<Bus>> {
        let client = redis::Client::open(url)?;
        let bus = Arc::new(Bus {
            local: broadcast::channel(capacity).0,
            redis: Some(RedisLink {
                client,
                channel: channel.to_string(),
                publisher: tokio::sync::Mutex::new(None),
                listening: Arc::new(AtomicBool::new(false)),
            }),
            stats: Arc::default(),
        });
        tokio::spawn(listen(Arc::downgrade(&bus)));
        Ok(bus)
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.local.subscribe()
    }

    /// Whether this bus fans out through Redis at all.
    pub fn is_shared(&self) -> bool {
        self.redis.is_some()
    }

    /// Whether events currently fan out to other instances.
    pub fn connected(&self) -> bool {
        self.redis
            .as_ref()
            .is_some_and(|r| r.listening.load(Ordering::SeqCst))
    }

    /// Publishes events (call after the commit). Never fails the caller:
    /// without Redis they are delivered to this instance's subscribers.
    #[tracing::instrument(name = "bus.publish", skip_all, fields(events = events.len()))]
    pub async fn publish(&self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        self.stats
            .published
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        if let Some(link) = &self.redis {
            if link.listening.load(Ordering::SeqCst) && link.publish(&events).await {
                return;
            }
        }
        for e in events {
            let _ = self.local.send(Arc::new(e));
        }
    }
}

impl RedisLink {
    async fn publish(&self, events: &[Event]) -> bool {
        let mut guard = self.publisher.lock().await;
        if guard.is_none() {
            let connect = redis::aio::ConnectionManager::new(self.client.clone());
            match tokio::time::timeout(Duration::from_secs(2), connect).await {
                Ok(Ok(c)) => *guard = Some(c),
                _ => return false,
            }
        }
        let Some(conn) = guard.as_mut() else {
            return false;
        };
        for e in events {
            let Ok(payload) = serde_json::to_string(&Outgoing {
                v: EVENT_FORMAT,
                event: e,
            }) else {
                continue;
            };
            let mut cmd = redis::cmd("PUBLISH");
            cmd.arg(&self.channel).arg(payload);
            let sent = cmd.query_async::<i64>(conn);
            match tokio::time::timeout(Duration::from_secs(2), sent).await {
                Ok(Ok(_)) => {}
                _ => return false,
            }
        }
        true
    }
}

/// Feeds the local channel from Redis; reconnects with back-off and tells
/// subscribers to resync when fan-out resumes.
async fn listen(bus: std::sync::Weak<Bus>) {
    let mut delay = Duration::from_millis(100);
    let mut was_down = false;
    loop {
        let Some(strong) = bus.upgrade() else { return };
        let Some(link) = &strong.redis else { return };
        let client = link.client.clone();
        let channel = link.channel.clone();
        let listening = link.listening.clone();
        let local = strong.local.clone();
        let stats = strong.stats.clone();
        drop(strong);
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if pubsub.subscribe(&channel).await.is_ok() {
                    listening.store(true, Ordering::SeqCst);
                    delay = Duration::from_millis(100);
                    if was_down {
                        tracing::info!("event fan-out through Redis resumed");
                        stats.resyncs.fetch_add(1, Ordering::Relaxed);
                        let _ = local.send(Arc::new(Event::Resync));
                    }
                    let mut stream = pubsub.into_on_message();
                    while let Some(msg) = stream.next().await {
                        let decoded = msg
                            .get_payload::<String>()
                            .map_err(|e| format!("not text ({e})"))
                            .and_then(|payload| decode(&payload));
                        match decoded {
                            Ok(e) => {
                                stats.received.fetch_add(1, Ordering::Relaxed);
                                let _ = local.send(Arc::new(e));
                            }
                            Err(why) => {
                                // Counted every time, logged once: a mixed
                                // deploy sends many. Subscribers refetch
                                // what they may have missed.
                                if stats.undecodable.fetch_add(1, Ordering::Relaxed) == 0 {
                                    tracing::warn!(reason = %why, "an event from the Redis channel cannot be read (is another release publishing?); subscribers resync");
                                }
                                stats.resyncs.fetch_add(1, Ordering::Relaxed);
                                let _ = local.send(Arc::new(Event::Resync));
                            }
                        }
                    }
                }
                listening.store(false, Ordering::SeqCst);
                tracing::warn!(
                    "lost the Redis event connection; delivering locally until it is back"
                );
            }
            Err(e) => {
                if !was_down {
                    tracing::warn!(error = %e, "Redis unreachable; events are delivered locally until it is back");
                }
            }
        }
        was_down = true;
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_their_format_and_others_are_refused() {
        let e = Event::SessionsEnded {
            session_ids: vec![7],
        };
        let text = serde_json::to_string(&Outgoing {
            v: EVENT_FORMAT,
            event: &e,
        })
        .unwrap();
        assert!(text.starts_with(r#"{"v":1,"event":"#), "{text}");
        assert!(
            matches!(decode(&text), Ok(Event::SessionsEnded { session_ids }) if session_ids == [7])
        );
        let next = text.replace(r#"{"v":1"#, r#"{"v":2"#);
        assert!(decode(&next).unwrap_err().contains("format 2"));
        assert!(decode(r#"{"SessionsEnded":{"session_ids":[7]}}"#).is_err());
        assert!(decode(r#"{"v":1,"event":{"Teleported":{}}}"#).is_err());
    }
}
