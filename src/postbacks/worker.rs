//! The delivery worker inside every `kassa serve`.

use super::sign::signature;
use super::url_guard::{literal_host_allowed, PublicOnlyResolver};
use crate::app::Deps;
use crate::db::begin_write;
use crate::error::AppResult;
use crate::transactions::model::PostbackStatus;
use chrono::{DateTime, TimeDelta, Utc};
use entity::{merchant, postback, postback_attempt, transaction};
use futures_util::StreamExt;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult,
    QueryFilter, Set, Statement,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Postbacks claimed per round.
const BATCH: u64 = 100;
/// Deliveries in flight at once per instance.
const CONCURRENCY: usize = 64;
/// Per-attempt timeout (BEHAVIOUR §6).
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The longest `Retry-After` honoured; longer asks wait for the schedule instead.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The HTTP client for deliveries: no redirects, 10 s, public addresses only
/// (unless private URLs are allowed for development).
pub fn client(allow_private: bool) -> anyhow::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        // HTTP(S)_PROXY / ALL_PROXY in the environment must not carry
        // deliveries past the address checks (the proxy would connect).
        .no_proxy()
        .user_agent("Kassa-Postbacks/1");
    if !allow_private {
        b = b.dns_resolver(Arc::new(PublicOnlyResolver));
    }
    Ok(b.build()?)
}

/// Runs until `stop` turns true: claims due postbacks, delivers them, records
/// each attempt. Woken at once by `Deps::postbacks_due`, and every poll
/// interval for work queued by other instances or retries coming due.
pub async fn run(d: Deps, mut stop: watch::Receiver<bool>) {
    let client = match client(d.config.allow_private_urls) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "postback worker cannot start");
            return;
        }
    };
    let me = format!("worker-{}", crate::auth::tokens::generate(""));
    loop {
        if *stop.borrow() {
            return;
        }
        let claimed = match claim(&d, &me).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = ?e, "claiming postbacks failed; retrying");
                Vec::new()
            }
        };
        if claimed.is_empty() {
            tokio::select! {
                _ = d.postbacks_due.notified() => {}
                _ = tokio::time::sleep(d.config.postback_poll) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        futures_util::stream::iter(claimed)
            .for_each_concurrent(CONCURRENCY, |p| {
                let d = &d;
                let client = &client;
                let me = &me;
                async move {
                    let id = p.id;
                    if let Err(e) = deliver(d, client, me, p).await {
                        tracing::warn!(postback = id, error = ?e, "recording a postback attempt failed");
                    }
                }
            })
            .await;
    }
}

/// Takes up to `BATCH` due postbacks for this worker, stamping a lease.
async fn claim(d: &Deps, me: &str) -> AppResult<Vec<postback::Model>> {
    let now = d.clock.now();
    let until =
        now + TimeDelta::from_std(d.config.postback_lease).unwrap_or(TimeDelta::seconds(60));
    let backend = d.db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "UPDATE postbacks SET claimed_by = $1, claimed_until = $2 WHERE id IN (
               SELECT id FROM postbacks
               WHERE status IN ('PENDING', 'RETRYING') AND next_attempt_at <= $3
                 AND (claimed_until IS NULL OR claimed_until < $3)
               ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED)
             RETURNING *"
        }
        _ => {
            "UPDATE postbacks SET claimed_by = ?, claimed_until = ? WHERE id IN (
               SELECT id FROM postbacks
               WHERE status IN ('PENDING', 'RETRYING') AND next_attempt_at <= ?
                 AND (claimed_until IS NULL OR claimed_until < ?)
               ORDER BY next_attempt_at LIMIT ?)
             RETURNING *"
        }
    };
    let values: Vec<sea_orm::Value> = match backend {
        DbBackend::Postgres => vec![me.into(), until.into(), now.into(), (BATCH as i64).into()],
        _ => vec![
            me.into(),
            until.into(),
            now.into(),
            now.into(),
            (BATCH as i64).into(),
        ],
    };
    let rows =
        d.db.query_all_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    Ok(rows
        .iter()
        .map(|r| postback::Model::from_query_result(r, ""))
        .collect::<Result<_, _>>()?)
}

/// How one attempt ended.
enum Attempt {
    Answered {
        status: u16,
        retry_after: Option<Duration>,
    },
    NoAnswer(String),
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let raw = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    let at = DateTime::parse_from_rfc2822(raw).ok()?.with_timezone(&Utc);
    (at - Utc::now())
        .to_std()
        .ok()
        .map(|d| d.min(MAX_RETRY_AFTER))
}

/// The URL a postback goes to now: the merchant's current setting.
pub fn target_url(m: &merchant::Model, kind: &str) -> Option<String> {
    let url = if kind == "WITHDRAWAL" {
        m.withdrawal_postback_url
            .clone()
            .or_else(|| m.postback_url.clone())
    } else {
        m.postback_url.clone()
    };
    url.filter(|u| !u.trim().is_empty())
}

async fn deliver(
    d: &Deps,
    client: &reqwest::Client,
    me: &str,
    p: postback::Model,
) -> AppResult<()> {
    let m = merchant::Entity::find_by_id(p.merchant_id)
        .one(&d.db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("postback {} has no merchant", p.id))?;
    let Some(url) = target_url(&m, &p.kind) else {
        return finish_without_attempt(d, me, &p, "no postback URL is set").await;
    };
    let started = Instant::now();
    let at = d.clock.now();
    let outcome = match url::Url::parse(&url) {
        Err(_) => Attempt::NoAnswer("the postback URL is not valid".into()),
        Ok(u) if !d.config.allow_private_urls && !literal_host_allowed(&u) => {
            Attempt::NoAnswer("the postback URL points at a non-public address".into())
        }
        Ok(u) => {
            let timestamp = Utc::now().timestamp();
            let id = p.id.to_string();
            let sig = signature(&m.postback_secret, &id, timestamp, &p.payload)?;
            let sent = client
                .post(u)
                .header("content-type", "application/json")
                .header("webhook-id", &id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", sig)
                .body(p.payload.clone())
                .send()
                .await;
            match sent {
                Ok(resp) => Attempt::Answered {
                    status: resp.status().as_u16(),
                    retry_after: matches!(resp.status().as_u16(), 429 | 503)
                        .then(|| retry_after(resp.headers()))
                        .flatten(),
                },
                Err(e) => Attempt::NoAnswer(describe(&e)),
            }
        }
    };
    record(d, me, &p, &url, at, started.elapsed(), outcome).await
}

/// What an attempt that got no answer records: a fixed sentence per kind.
pub fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out after 10 s".into()
    } else if e.is_connect() {
        // One sentence for every way a connection fails (refused, reset, no
        // public address, DNS): the log must not map the network behind the
        // endpoint for whoever reads it.
        "could not connect to the endpoint".into()
    } else {
        "the request failed".into()
    }
}

#[allow(clippy::too_many_arguments)]
async fn record(
    d: &Deps,
    me: &str,
    p: &postback::Model,
    url: &str,
    at: DateTime<Utc>,
    took: Duration,
    outcome: Attempt,
) -> AppResult<()> {
    let (status, error, delivered, wait) = match &outcome {
        Attempt::Answered { status, .. } if (200..300).contains(status) => {
            (Some(*status as i32), None, true, None)
        }
        Attempt::Answered {
            status,
            retry_after,
        } => (Some(*status as i32), None, false, *retry_after),
        Attempt::NoAnswer(e) => (None, Some(e.clone()), false, None),
    };
    let attempts = p.attempt_count + 1;
    let schedule = &d.config.postback_retry_schedule;
    let now = d.clock.now();
    let (state, next) = if delivered {
        ("DELIVERED", None)
    } else if attempts as usize > schedule.len() {
        ("FAILED", None)
    } else {
        let planned = schedule[attempts as usize - 1];
        let delay = wait.map_or(planned, |w| w.max(planned));
        (
            "RETRYING",
            Some(now + TimeDelta::from_std(delay).unwrap_or(TimeDelta::hours(1))),
        )
    };
    let txn = begin_write(&d.db).await?;
    postback_attempt::ActiveModel {
        postback_id: Set(p.id),
        at: Set(at),
        response_status: Set(status),
        error: Set(error.clone()),
        duration_ms: Set(took.as_millis().min(i32::MAX as u128) as i32),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    use postback::Column as P;
    let updated = postback::Entity::update_many()
        .col_expr(P::Status, Expr::value(state))
        .col_expr(P::AttemptCount, Expr::value(attempts))
        .col_expr(
            P::LastOutcome,
            Expr::value(Some(if delivered { "SENT" } else { "ERROR" })),
        )
        .col_expr(
            P::LastError,
            Expr::value(error.or_else(|| status.map(|s| format!("HTTP {s}")))),
        )
        .col_expr(P::NextAttemptAt, Expr::value(next))
        .col_expr(P::DeliveredAt, Expr::value(delivered.then_some(now)))
        .col_expr(P::Url, Expr::value(Some(url.to_string())))
        .col_expr(P::ClaimedBy, Expr::value(Option::<String>::None))
        .col_expr(P::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(P::Id.eq(p.id))
        .filter(P::ClaimedBy.eq(me))
        .exec(&txn)
        .await?;
    if updated.rows_affected == 1 {
        let tx_status = if delivered {
            PostbackStatus::Sent
        } else {
            PostbackStatus::ErrorSending
        };
        mark_transactions(&txn, p, tx_status).await?;
    }
    txn.commit().await?;
    if updated.rows_affected == 1 {
        publish_status(d, p, now).await?;
    }
    Ok(())
}

/// Tells subscribers the postback status of what `p` reports has changed.
async fn publish_status(d: &Deps, p: &postback::Model, now: DateTime<Utc>) -> AppResult<()> {
    use crate::events::Event;
    let mut events = Vec::new();
    if let Some(sp) = p.stockpiling_id {
        for t in transaction::Entity::find()
            .filter(transaction::Column::StockpilingId.eq(sp))
            .all(&d.db)
            .await?
        {
            events.push(Event::transaction("POSTBACK_STATUS_CHANGED", now, &t));
        }
    }
    if let Some(w) = p.withdrawal_id {
        if let Some(w) = entity::withdrawal::Entity::find_by_id(w).one(&d.db).await? {
            events.push(Event::withdrawal("POSTBACK_STATUS_CHANGED", now, &w));
        }
    }
    d.bus.publish(events).await;
    Ok(())
}

async fn mark_transactions(
    txn: &impl ConnectionTrait,
    p: &postback::Model,
    status: PostbackStatus,
) -> AppResult<()> {
    if let Some(sp) = p.stockpiling_id {
        transaction::Entity::update_many()
            .col_expr(
                transaction::Column::PostbackStatus,
                Expr::value(status.as_str()),
            )
            .filter(transaction::Column::StockpilingId.eq(sp))
            .exec(txn)
            .await?;
    }
    if let Some(w) = p.withdrawal_id {
        let received = if status == PostbackStatus::Sent {
            "RECEIVED"
        } else {
            "ERROR"
        };
        entity::withdrawal::Entity::update_many()
            .col_expr(
                entity::withdrawal::Column::PostbackStatus,
                Expr::value(received),
            )
            .filter(entity::withdrawal::Column::Id.eq(w))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// A postback that cannot be sent at all (no URL): FAILED with the reason,
/// resendable once a URL is set.
async fn finish_without_attempt(
    d: &Deps,
    me: &str,
    p: &postback::Model,
    reason: &str,
) -> AppResult<()> {
    use postback::Column as P;
    let txn = begin_write(&d.db).await?;
    let updated = postback::Entity::update_many()
        .col_expr(P::Status, Expr::value("FAILED"))
        .col_expr(P::LastOutcome, Expr::value(Some("ERROR")))
        .col_expr(P::LastError, Expr::value(Some(reason.to_string())))
        .col_expr(P::NextAttemptAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(P::ClaimedBy, Expr::value(Option::<String>::None))
        .col_expr(P::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(P::Id.eq(p.id))
        .filter(P::ClaimedBy.eq(me))
        .exec(&txn)
        .await?;
    if updated.rows_affected == 1 {
        mark_transactions(&txn, p, PostbackStatus::ErrorSending).await?;
    }
    txn.commit().await?;
    if updated.rows_affected == 1 {
        publish_status(d, p, d.clock.now()).await?;
    }
    Ok(())
}
