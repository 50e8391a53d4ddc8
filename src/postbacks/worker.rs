//! The delivery worker inside every `kassa serve`.

use super::model::{
    self, AttemptOutcome, PostbackCircuit, PostbackDeliveryStatus as Delivery, PostbackKind,
};
use super::sign::signature;
use super::url_guard::{literal_host_allowed, PublicOnlyResolver};
use crate::db::begin_write;
use crate::deps::Deps;
use crate::error::AppResult;
use crate::events::{TransactionEventKind, WithdrawalEventKind};
use chrono::{DateTime, TimeDelta, Utc};
use entity::{merchant, postback, postback_attempt, postback_endpoint, transaction};
use entity::{sql_list, TextEnum};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, Set, Statement,
};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// The due work as last read, kept for a moment between claims: reading it
/// scans every due postback, claiming from it does not. Read again when it
/// is older than [`DUE_FRESH`], when work was queued or came due (wake-ups,
/// poll ticks), or when a claim got less than it expected.
#[derive(Default)]
struct DueCache {
    read_at: Option<Instant>,
    groups: Vec<DueGroup>,
}

/// How long the due work, once read, is claimed from without reading it again.
const DUE_FRESH: Duration = Duration::from_millis(200);

impl DueCache {
    fn invalidate(&mut self) {
        self.read_at = None;
    }
}

/// Attempts made by this instance and waiting to be recorded, per merchant:
/// their postbacks are still claimed, but their slots are free again.
type Pending = Arc<std::sync::Mutex<std::collections::HashMap<i64, i64>>>;

fn pending_add(pending: &Pending, merchant_id: i64, by: i64) {
    let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
    let n = p.entry(merchant_id).or_default();
    *n += by;
    if *n <= 0 {
        p.remove(&merchant_id);
    }
}

/// Per-attempt timeout (BEHAVIOUR §6).
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The longest `Retry-After` honoured; longer asks wait for the schedule instead.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);
/// The longest a circuit stays open before its next probe.
const MAX_PROBE_WAIT: Duration = Duration::from_secs(600);
/// While deliveries are running, freed slots are gathered for this long (or
/// until an eighth of the slots are free) before the next claim, so a busy
/// worker claims in batches rather than once per delivery.
const CLAIM_GATHER: Duration = Duration::from_millis(10);

/// What the delivery pipeline has done, for `/metrics`.
#[derive(Default)]
pub struct PostbackStats {
    /// Deliveries running right now on this instance.
    pub in_flight: AtomicI64,
    /// Attempts answered 2xx.
    pub delivered: AtomicU64,
    /// Attempts answered with another status.
    pub rejected: AtomicU64,
    /// Attempts that got no answer (timeout, connection, refused address).
    pub no_answer: AtomicU64,
    /// Circuits this instance opened.
    pub circuits_opened: AtomicU64,
    /// Claims made, and the microseconds they took.
    pub claims: AtomicU64,
    pub claim_micros: AtomicU64,
    /// Recording transactions, the attempts they recorded, and their microseconds.
    pub record_batches: AtomicU64,
    pub recorded: AtomicU64,
    pub record_micros: AtomicU64,
}

/// The HTTP client for deliveries: no redirects, 10 s, public addresses only
/// (unless private URLs are allowed for development).
pub fn client(allow_private: bool) -> anyhow::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        // HTTP(S)_PROXY / ALL_PROXY in the environment must not carry
        // deliveries past the address checks (the proxy would connect).
        .no_proxy()
        .pool_max_idle_per_host(16)
        .user_agent("Kassa-Postbacks/1");
    if !allow_private {
        b = b.dns_resolver(Arc::new(PublicOnlyResolver));
    }
    Ok(b.build()?)
}

/// The delivery pipeline, until `stop` turns true. Every free slot (at most
/// `KASSA_POSTBACK_CONCURRENCY` at once) takes the next due postback as soon
/// as it frees — no batch waits for its slowest member — with at most
/// `KASSA_POSTBACK_PER_MERCHANT` of one merchant's postbacks in flight
/// (counted over every instance's claims) and never more than its fair
/// share of the slots, and merchants served in turn: the merchant with the
/// fewest in flight first, each merchant's oldest due postback first.
/// An endpoint whose circuit is open is skipped until its probe.
///
/// Woken at once by `Deps::postbacks_due`, and every poll interval for work
/// queued by other instances or retries coming due. On stop, attempts in
/// flight get `KASSA_POSTBACK_SHUTDOWN_GRACE` to finish; the claims of any
/// still running are released so another instance takes them at once.
pub async fn run(d: Deps, mut stop: watch::Receiver<bool>) {
    let client = match client(d.config.allow_private_urls) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "postback worker cannot start");
            return;
        }
    };
    let me: Arc<str> = format!("worker-{}", crate::auth::tokens::generate("")).into();
    let limit = d.config.postback_concurrency.max(1);
    let mut running: JoinSet<()> = JoinSet::new();
    let (outcomes, to_record) = tokio::sync::mpsc::channel::<Outcome>(limit * 4);
    let pending: Pending = Default::default();
    let recorder = tokio::spawn(record_loop(
        d.clone(),
        me.clone(),
        to_record,
        pending.clone(),
    ));
    // Whether the last claim found all the due work there was: then only a
    // wake-up, a poll tick or a finished delivery makes the next one worth it.
    let mut drained = false;
    let mut due = DueCache::default();
    let mut last_claim = Instant::now() - CLAIM_GATHER;
    loop {
        if *stop.borrow() {
            break;
        }
        let free = limit.saturating_sub(running.len());
        let gathered = free >= (limit / 8).max(1)
            || running.is_empty()
            || last_claim.elapsed() >= CLAIM_GATHER;
        if free > 0 && !drained && gathered {
            last_claim = Instant::now();
            let claimed = claim(&d, &me, free, &pending, &mut due).await;
            d.postback_stats.claims.fetch_add(1, Ordering::Relaxed);
            d.postback_stats
                .claim_micros
                .fetch_add(last_claim.elapsed().as_micros() as u64, Ordering::Relaxed);
            match claimed {
                Ok(batch) => {
                    drained = batch.len() < free;
                    // the batch's merchants (URL and secret as they are now), in one read
                    let merchants = match merchants_of(&d, &batch).await {
                        Ok(m) => m,
                        Err(e) => {
                            tracing::warn!(error = ?e, "reading the merchants of claimed postbacks failed");
                            Default::default()
                        }
                    };
                    for p in batch {
                        let (d, client, me) = (d.clone(), client.clone(), me.clone());
                        let merchant = merchants.get(&p.merchant_id).cloned();
                        let outcomes = outcomes.clone();
                        let pending = pending.clone();
                        running.spawn(async move {
                            d.postback_stats.in_flight.fetch_add(1, Ordering::Relaxed);
                            let id = p.id;
                            match deliver(&d, &client, &me, p, merchant).await {
                                Ok(Some(outcome)) => {
                                    // A delivered attempt frees its merchant's slot
                                    // at once; a failed one holds it until recorded,
                                    // so a failing endpoint is not tried faster.
                                    let frees = outcome.attempt.delivered().then_some(outcome.postback.merchant_id);
                                    if let Some(m) = frees {
                                        pending_add(&pending, m, 1);
                                    }
                                    if outcomes.send(outcome).await.is_err() {
                                        if let Some(m) = frees {
                                            pending_add(&pending, m, -1);
                                        }
                                    }
                                }
                                Ok(None) => {}
                                Err(e) => {
                                    tracing::warn!(postback = id, error = ?e, "a postback attempt failed to run");
                                }
                            }
                            d.postback_stats.in_flight.fetch_sub(1, Ordering::Relaxed);
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!(error = ?e, "claiming postbacks failed; retrying");
                    drained = true;
                }
            }
            continue;
        }
        let gather = free > 0 && !drained;
        tokio::select! {
            Some(_) = running.join_next(), if !running.is_empty() => {
                while running.try_join_next().is_some() {}
                drained = false;
            }
            _ = tokio::time::sleep_until((last_claim + CLAIM_GATHER).into()), if gather => {}
            _ = d.postbacks_due.notified() => { drained = false; due.invalidate(); }
            _ = tokio::time::sleep(d.config.postback_poll) => { drained = false; due.invalidate(); }
            _ = stop.changed() => {}
        }
    }
    // Shutting down: attempts in flight may finish within the grace period;
    // the rest are cut and their claims given back at once.
    let grace = d.config.postback_shutdown_grace.min(TIMEOUT);
    let finished = tokio::time::timeout(grace, async {
        while running.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        tracing::info!(
            cut = running.len(),
            "postback attempts still running at shutdown: their claims are released"
        );
        running.abort_all();
        while running.join_next().await.is_some() {}
    }
    // Every attempt made is recorded before the claims are given back.
    drop(outcomes);
    let _ = recorder.await;
    match release_claims(&d, &me).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(released = n, "postback claims released for other instances"),
        Err(e) => {
            tracing::warn!(error = ?e, "releasing postback claims failed; they lapse with their lease")
        }
    }
}

/// The merchants of `postbacks`, read once for the batch.
async fn merchants_of(
    d: &Deps,
    postbacks: &[postback::Model],
) -> AppResult<std::collections::HashMap<i64, Arc<merchant::Model>>> {
    let mut ids: Vec<i64> = postbacks.iter().map(|p| p.merchant_id).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(merchant::Entity::find()
        .filter(merchant::Column::Id.is_in(ids))
        .all(&d.db)
        .await?
        .into_iter()
        .map(|m| (m.id, Arc::new(m)))
        .collect())
}

/// Gives back every claim this worker holds (at shutdown).
async fn release_claims(d: &Deps, me: &str) -> AppResult<u64> {
    use postback::Column as P;
    let released = postback::Entity::update_many()
        .col_expr(P::ClaimedBy, Expr::value(Option::<String>::None))
        .col_expr(P::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(P::ClaimedBy.eq(me))
        .exec(&d.db)
        .await?;
    d.postbacks_due.notify_one();
    Ok(released.rows_affected)
}

/// The URL a postback of kind `kind` of merchant `m` goes to, in SQL: the
/// merchant's current setting, as [`target_url`] computes it.
fn target_sql(kind: &str) -> String {
    format!(
        "CASE WHEN {kind} = {withdrawal} AND m.withdrawal_postback_url IS NOT NULL \
         THEN m.withdrawal_postback_url ELSE m.postback_url END",
        withdrawal = PostbackKind::Withdrawal.sql()
    )
}

/// The endpoint of merchant `merchant`'s postbacks of kind `kind` takes
/// deliveries: no circuit of it is open or half-open. Checked inside the
/// claim statement itself (once per group), so a circuit that opened after
/// the claim's earlier reads still stops it.
fn circuit_closed_sql(merchant: &str, kind: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM merchants m JOIN postback_endpoints h ON h.merchant_id = m.id \
         WHERE m.id = {merchant} AND h.circuit <> {closed} AND h.url = {})",
        target_sql(kind),
        closed = PostbackCircuit::Closed.sql()
    )
}

/// Writes `sql` (with `$1`-style parameters) for the connection's backend.
fn statement(d: &Deps, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    crate::db::numbered(d.db.get_database_backend(), sql, values)
}

async fn claimed_rows(d: &Deps, st: Statement) -> AppResult<Vec<postback::Model>> {
    let rows = d.db.query_all_raw(st).await?;
    Ok(rows
        .iter()
        .map(|r| postback::Model::from_query_result(r, ""))
        .collect::<Result<_, _>>()?)
}

/// Claims up to `free` due postbacks for this worker: first one probe for
/// each endpoint whose circuit is due for one, then the rest fairly.
async fn claim(
    d: &Deps,
    me: &str,
    free: usize,
    pending: &Pending,
    due: &mut DueCache,
) -> AppResult<Vec<postback::Model>> {
    let now = d.clock.now();
    let until =
        now + TimeDelta::from_std(d.config.postback_lease).unwrap_or(TimeDelta::seconds(60));
    // endpoints whose circuit is not closed, read once for both steps
    let unhealthy = postback_endpoint::Entity::find()
        .filter(postback_endpoint::Column::Circuit.ne(PostbackCircuit::Closed))
        .all(&d.db)
        .await?;
    let mut claimed = claim_probes(d, me, now, until, free, &unhealthy).await?;
    let free = free - claimed.len();
    if free == 0 {
        return Ok(claimed);
    }
    let open: std::collections::HashSet<(i64, String)> = unhealthy
        .into_iter()
        .map(|h| (h.merchant_id, h.url))
        .collect();
    let lease = Lease { me, now, until };
    claimed.extend(claim_fairly(d, &lease, free, pending, due, &open).await?);
    Ok(claimed)
}

/// Who claims, as of when, and until when the claims hold.
struct Lease<'a> {
    me: &'a str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
}

/// Due work per (merchant, kind): how many postbacks and since when.
#[derive(FromQueryResult, Clone)]
struct DueGroup {
    merchant_id: i64,
    kind: PostbackKind,
    n: i64,
    oldest: DateTime<Utc>,
    postback_url: Option<String>,
    withdrawal_postback_url: Option<String>,
}

/// Claims up to `free` due postbacks, merchants in turn. A merchant may hold
/// at most its fair share of the slots — the slots over the merchants with
/// work in hand, at least one — and never more than the per-merchant limit
/// (claims of every instance count): ten merchants whose endpoints hang
/// hold ten of a hundred merchants' slots, not all of them. Merchants with
/// the fewest in flight, then the longest waiting, go first; an endpoint
/// whose circuit is open is skipped.
///
/// Two short statements whatever the backlog: the due work grouped by
/// (merchant, kind) from a partial index, then one claim made of an
/// index-range `LIMIT` per group.
async fn claim_fairly(
    d: &Deps,
    lease: &Lease<'_>,
    free: usize,
    pending: &Pending,
    due: &mut DueCache,
    open: &std::collections::HashSet<(i64, String)>,
) -> AppResult<Vec<postback::Model>> {
    #[derive(FromQueryResult)]
    struct Busy {
        merchant_id: i64,
        n: i64,
    }
    if due.read_at.is_none_or(|at| at.elapsed() >= DUE_FRESH) || due.groups.is_empty() {
        due.groups = DueGroup::find_by_statement(statement(
            d,
            &format!(
                "SELECT p.merchant_id, p.kind, COUNT(*) AS n, MIN(p.next_attempt_at) AS oldest,
                    m.postback_url, m.withdrawal_postback_url
             FROM postbacks p JOIN merchants m ON m.id = p.merchant_id
             WHERE p.status IN {due} AND p.next_attempt_at <= $1
               AND (p.claimed_until IS NULL OR p.claimed_until < $1)
             GROUP BY p.merchant_id, p.kind, m.postback_url, m.withdrawal_postback_url",
                due = sql_list(&Delivery::DUE)
            ),
            vec![lease.now.into()],
        ))
        .all(&d.db)
        .await?;
        due.read_at = Some(Instant::now());
    }
    if due.groups.is_empty() {
        return Ok(Vec::new());
    }
    let groups = due.groups.clone();
    let busy: std::collections::HashMap<i64, i64> = Busy::find_by_statement(statement(
        d,
        "SELECT merchant_id, COUNT(*) AS n FROM postbacks WHERE claimed_until >= $1 GROUP BY merchant_id",
        vec![lease.now.into()],
    ))
    .all(&d.db)
    .await?
    .into_iter()
    .map(|b| {
        // (this instance's attempts already made, waiting to be recorded,
        // hold a claim but no slot)
        let waiting = pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&b.merchant_id)
            .copied()
            .unwrap_or(0);
        (b.merchant_id, (b.n - waiting).max(0))
    })
    .collect();
    // the groups whose endpoint takes deliveries (no URL: claimed, to be
    // finished as FAILED with the reason)
    let mut groups: Vec<DueGroup> = groups
        .into_iter()
        .filter(|g| {
            model::url_for(
                g.postback_url.as_deref(),
                g.withdrawal_postback_url.as_deref(),
                g.kind,
            )
            .is_none_or(|url| !open.contains(&(g.merchant_id, url)))
        })
        .collect();
    let mut merchants: Vec<i64> = groups.iter().map(|g| g.merchant_id).collect();
    merchants.extend(busy.keys());
    merchants.sort_unstable();
    merchants.dedup();
    let per_merchant = d.config.postback_per_merchant.max(1) as i64;
    let cap = (d.config.postback_concurrency.max(1) as i64 / merchants.len().max(1) as i64)
        .clamp(1, per_merchant);
    groups.sort_by(|a, b| {
        let in_flight = |g: &DueGroup| busy.get(&g.merchant_id).copied().unwrap_or(0);
        in_flight(a)
            .cmp(&in_flight(b))
            .then(a.oldest.cmp(&b.oldest))
            .then(a.merchant_id.cmp(&b.merchant_id))
    });
    // Round robin: one more for each merchant under its cap, until the
    // slots are given out.
    let mut taken: std::collections::HashMap<i64, i64> = Default::default();
    let mut quota = vec![0i64; groups.len()];
    let mut left = free as i64;
    while left > 0 {
        let mut gave = false;
        for (i, g) in groups.iter().enumerate() {
            if left == 0 {
                break;
            }
            let holds = busy.get(&g.merchant_id).copied().unwrap_or(0)
                + taken.get(&g.merchant_id).copied().unwrap_or(0);
            if holds < cap && quota[i] < g.n {
                quota[i] += 1;
                *taken.entry(g.merchant_id).or_default() += 1;
                left -= 1;
                gave = true;
            }
        }
        if !gave {
            break;
        }
    }
    let expected: i64 = quota.iter().sum();
    for (g, q) in groups.iter().zip(&quota) {
        if let Some(c) = due
            .groups
            .iter_mut()
            .find(|c| c.merchant_id == g.merchant_id && c.kind == g.kind)
        {
            c.n -= q;
        }
    }
    due.groups.retain(|g| g.n > 0);
    let wanted: Vec<(&DueGroup, i64)> = groups.iter().zip(quota).filter(|(_, q)| *q > 0).collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let st = claim_statement(d, lease, &wanted);
    let claimed = claimed_rows(d, st).await?;
    if (claimed.len() as i64) < expected {
        // (another instance took some, or they were delivered meanwhile)
        due.invalidate();
    }
    Ok(claimed)
}

/// The claim of `n` due postbacks from each (merchant, kind) group: an
/// index range with a `LIMIT` per group. On PostgreSQL one fixed text (the
/// groups passed as lists, walked by a lateral join), so it is parsed once
/// per connection and planned cheaply; SQLite gets one `LIMIT` branch per
/// group.
fn claim_statement(d: &Deps, lease: &Lease<'_>, wanted: &[(&DueGroup, i64)]) -> Statement {
    let mut values: Vec<sea_orm::Value> =
        vec![lease.me.into(), lease.until.into(), lease.now.into()];
    if d.db.get_database_backend() == sea_orm::DbBackend::Postgres {
        let list = |f: &dyn Fn(&(&DueGroup, i64)) -> String| {
            wanted.iter().map(f).collect::<Vec<_>>().join(",")
        };
        values.push(list(&|(g, _)| g.merchant_id.to_string()).into());
        values.push(list(&|(g, _)| g.kind.as_str().to_string()).into());
        values.push(list(&|(_, q)| q.to_string()).into());
        return statement(
            d,
            &format!(
                "UPDATE postbacks SET claimed_by = $1, claimed_until = $2
             WHERE id IN (
               SELECT c.id
               FROM unnest(string_to_array($4, ',')::bigint[], string_to_array($5, ','),
                           string_to_array($6, ',')::int[]) AS g(merchant_id, kind, n)
               CROSS JOIN LATERAL (
                 SELECT p.id FROM postbacks p
                 WHERE p.merchant_id = g.merchant_id AND p.kind = g.kind
                   AND p.status IN {due} AND p.next_attempt_at <= $3
                   AND (p.claimed_until IS NULL OR p.claimed_until < $3)
                 ORDER BY p.next_attempt_at, p.id LIMIT g.n) AS c
               WHERE {closed})
             AND (claimed_until IS NULL OR claimed_until < $3)
             RETURNING *",
                closed = circuit_closed_sql("g.merchant_id", "g.kind"),
                due = sql_list(&Delivery::DUE)
            ),
            values,
        );
    }
    let mut parts = Vec::new();
    for (g, q) in wanted {
        parts.push(format!(
            "SELECT id FROM (SELECT p.id FROM postbacks p
               WHERE p.merchant_id = ${m} AND p.kind = ${k} AND p.status IN {due}
                 AND p.next_attempt_at <= $3 AND (p.claimed_until IS NULL OR p.claimed_until < $3)
                 AND {closed}
               ORDER BY p.next_attempt_at, p.id LIMIT {q}) AS g{n}",
            m = values.len() + 1,
            k = values.len() + 2,
            n = parts.len(),
            due = sql_list(&Delivery::DUE),
            closed = circuit_closed_sql(
                &format!("${}", values.len() + 1),
                &format!("${}", values.len() + 2)
            ),
        ));
        values.push(g.merchant_id.into());
        values.push(g.kind.into());
    }
    let sql = format!(
        "UPDATE postbacks SET claimed_by = $1, claimed_until = $2
         WHERE id IN ({})
         AND (claimed_until IS NULL OR claimed_until < $3)
         RETURNING *",
        parts.join(" UNION ALL ")
    );
    statement(d, &sql, values)
}

/// One probe for each endpoint whose circuit is open and due for a probe
/// (or half-open with a lapsed probe): the endpoint turns HALF_OPEN and its
/// oldest due postback is claimed. An endpoint with nothing due closes.
async fn claim_probes(
    d: &Deps,
    me: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    free: usize,
    unhealthy: &[postback_endpoint::Model],
) -> AppResult<Vec<postback::Model>> {
    let ready = unhealthy
        .iter()
        .filter(|h| h.next_probe_at.is_some_and(|at| at <= now))
        .take(free);
    let mut probes = Vec::new();
    for h in ready {
        use postback_endpoint::Column as H;
        // Only one instance wins the probe.
        let won = postback_endpoint::Entity::update_many()
            .col_expr(H::Circuit, Expr::value(PostbackCircuit::HalfOpen))
            .col_expr(H::NextProbeAt, Expr::value(Some(until)))
            .filter(H::Id.eq(h.id))
            .filter(H::Circuit.eq(h.circuit))
            .filter(H::NextProbeAt.eq(h.next_probe_at))
            .exec(&d.db)
            .await?;
        if won.rows_affected != 1 {
            continue;
        }
        let sql = format!(
            "UPDATE postbacks SET claimed_by = $1, claimed_until = $2 WHERE id = (
               SELECT p.id FROM postbacks p JOIN merchants m ON m.id = p.merchant_id
               WHERE p.merchant_id = $4 AND {target} = $5
                 AND p.status IN {due} AND p.next_attempt_at <= $3
                 AND (p.claimed_until IS NULL OR p.claimed_until < $3)
               ORDER BY p.next_attempt_at, p.id LIMIT 1)
             AND (claimed_until IS NULL OR claimed_until < $3)
             RETURNING *",
            target = target_sql("p.kind"),
            due = sql_list(&Delivery::DUE)
        );
        let values: Vec<sea_orm::Value> = vec![
            me.into(),
            until.into(),
            now.into(),
            h.merchant_id.into(),
            h.url.clone().into(),
        ];
        let probe = claimed_rows(d, statement(d, &sql, values)).await?;
        if probe.is_empty() {
            // nothing waits for this endpoint: its next postback is tried as usual
            postback_endpoint::Entity::update_many()
                .col_expr(H::Circuit, Expr::value(PostbackCircuit::Closed))
                .col_expr(H::NextProbeAt, Expr::value(Option::<DateTime<Utc>>::None))
                .filter(H::Id.eq(h.id))
                .exec(&d.db)
                .await?;
        }
        probes.extend(probe);
    }
    Ok(probes)
}

impl Attempt {
    /// Whether the receiver answered 2xx.
    pub fn delivered(&self) -> bool {
        matches!(self, Attempt::Answered { status, .. } if (200..300).contains(status))
    }
}

/// How one attempt ended.
pub enum Attempt {
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
pub fn target_url(m: &merchant::Model, kind: PostbackKind) -> Option<String> {
    model::url_for(
        m.postback_url.as_deref(),
        m.withdrawal_postback_url.as_deref(),
        kind,
    )
}

/// Makes one attempt; `None` when none could be made (no URL: the
/// postback is finished at once).
async fn deliver(
    d: &Deps,
    client: &reqwest::Client,
    me: &str,
    p: postback::Model,
    merchant: Option<Arc<merchant::Model>>,
) -> AppResult<Option<Outcome>> {
    let m = match merchant {
        Some(m) => m,
        None => Arc::new(
            merchant::Entity::find_by_id(p.merchant_id)
                .one(&d.db)
                .await?
                .ok_or_else(|| anyhow::anyhow!("postback {} has no merchant", p.id))?,
        ),
    };
    let Some(url) = target_url(&m, p.kind) else {
        finish_without_attempt(d, me, &p, "no postback URL is set").await?;
        return Ok(None);
    };
    let started = Instant::now();
    let at = d.clock.now();
    let outcome = send(
        d,
        client,
        m.postback_secret.expose(),
        &url,
        &p.id.to_string(),
        &p.payload,
    )
    .await?;
    Ok(Some(Outcome {
        postback: p,
        url,
        at,
        took: started.elapsed(),
        attempt: outcome,
    }))
}

/// Signs `payload` as message `id` (Standard Webhooks) and POSTs it to `url`
/// through the address guard: what a real delivery and a test postback share.
#[tracing::instrument(name = "postback.attempt", skip_all, fields(message = %id))]
pub async fn send(
    d: &Deps,
    client: &reqwest::Client,
    secret: &str,
    url: &str,
    id: &str,
    payload: &str,
) -> AppResult<Attempt> {
    Ok(match url::Url::parse(url) {
        Err(_) => Attempt::NoAnswer("the postback URL is not valid".into()),
        Ok(u) if !d.config.allow_private_urls && !literal_host_allowed(&u) => {
            Attempt::NoAnswer("the postback URL points at a non-public address".into())
        }
        Ok(u) => {
            let timestamp = Utc::now().timestamp();
            let sig = signature(secret, id, timestamp, payload)?;
            let sent = client
                .post(u)
                .header("content-type", "application/json")
                .header("webhook-id", id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", sig)
                .body(payload.to_string())
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
    })
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

/// One attempt, made and waiting to be recorded.
pub struct Outcome {
    pub postback: postback::Model,
    pub url: String,
    pub at: DateTime<Utc>,
    pub took: Duration,
    pub attempt: Attempt,
}

/// Most attempts recorded in one database transaction.
const RECORD_BATCH: usize = 256;

/// Records attempts as they come from the deliveries, many to a database
/// transaction (one commit for all of them): what makes thousands of
/// deliveries a second possible. A delivery's slot frees when its attempt
/// is made; its claim stays until the attempt is recorded. Ends when every
/// sender is gone and the queue is drained.
async fn record_loop(
    d: Deps,
    me: Arc<str>,
    mut rx: tokio::sync::mpsc::Receiver<Outcome>,
    pending: Pending,
) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while rx.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        let n = batch.len();
        let outcomes = std::mem::take(&mut batch);
        let merchants: Vec<i64> = outcomes
            .iter()
            .filter(|o| o.attempt.delivered())
            .map(|o| o.postback.merchant_id)
            .collect();
        let started = Instant::now();
        let recorded = record_batch(&d, &me, outcomes).await;
        let stats = &d.postback_stats;
        stats.record_batches.fetch_add(1, Ordering::Relaxed);
        stats.recorded.fetch_add(n as u64, Ordering::Relaxed);
        stats
            .record_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        if let Err(e) = recorded {
            // the claims lapse with their lease and the attempts are made again
            tracing::warn!(error = ?e, attempts = n, "recording postback attempts failed");
        }
        for m in merchants {
            pending_add(&pending, m, -1);
        }
    }
}

/// Where an attempt leaves its postback.
struct Recorded {
    id: i64,
    status: Delivery,
    attempts: i32,
    delivered: bool,
    error: Option<String>,
    response: Option<i32>,
    next: Option<DateTime<Utc>>,
}

/// Records `outcomes` in one transaction: the attempts, their postbacks'
/// new state, what they report (transactions, withdrawals) and endpoint
/// health; then publishes the status changes. A postback no longer claimed
/// by this worker (its lease lapsed and another took it) keeps its attempt
/// in the log but is left to its new owner.
async fn record_batch(d: &Deps, me: &str, outcomes: Vec<Outcome>) -> AppResult<()> {
    let now = d.clock.now();
    let schedule = &d.config.postback_retry_schedule;
    let stats = &d.postback_stats;
    let mut rows = Vec::with_capacity(outcomes.len());
    for o in &outcomes {
        let (response, error, delivered, wait) = match &o.attempt {
            Attempt::Answered { status, .. } if (200..300).contains(status) => {
                (Some(*status as i32), None, true, None)
            }
            Attempt::Answered {
                status,
                retry_after,
            } => (Some(*status as i32), None, false, *retry_after),
            Attempt::NoAnswer(e) => (None, Some(e.clone()), false, None),
        };
        match (&o.attempt, delivered) {
            (_, true) => stats.delivered.fetch_add(1, Ordering::Relaxed),
            (Attempt::Answered { .. }, false) => stats.rejected.fetch_add(1, Ordering::Relaxed),
            (Attempt::NoAnswer(_), false) => stats.no_answer.fetch_add(1, Ordering::Relaxed),
        };
        let attempts = o.postback.attempt_count + 1;
        let (status, next) = model::after_attempt(delivered, attempts, schedule, wait, now);
        rows.push(Recorded {
            id: o.postback.id,
            status,
            attempts,
            delivered,
            error,
            response,
            next,
        });
    }
    let txn = begin_write(&d.db).await?;
    postback_attempt::Entity::insert_many(outcomes.iter().zip(&rows).map(|(o, r)| {
        postback_attempt::ActiveModel {
            postback_id: Set(o.postback.id),
            at: Set(o.at),
            response_status: Set(r.response),
            error: Set(r.error.clone()),
            duration_ms: Set(o.took.as_millis().min(i32::MAX as u128) as i32),
            ..Default::default()
        }
    }))
    .exec(&txn)
    .await?;
    // The postbacks, in one statement; only those still claimed by this worker.
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(rows.len() * 8);
    for (o, r) in outcomes.iter().zip(&rows) {
        values.push(r.id.into());
        values.push(r.status.into());
        values.push(r.attempts.into());
        values.push(model::reported(r.delivered).2.into());
        values.push(
            r.error
                .clone()
                .or_else(|| r.response.map(|s| format!("HTTP {s}")))
                .into(),
        );
        values.push(r.next.into());
        values.push(r.delivered.then_some(now).into());
        values.push(o.url.clone().into());
    }
    values.push(me.into());
    let me_param = values.len();
    let sql = format!(
        "UPDATE postbacks SET status = v.column2, attempt_count = v.column3,
           last_outcome = v.column4, last_error = v.column5, next_attempt_at = v.column6,
           delivered_at = v.column7, url = v.column8, claimed_by = NULL, claimed_until = NULL
         FROM (VALUES {}) AS v
         WHERE postbacks.id = v.column1 AND postbacks.claimed_by = ${me_param}
         RETURNING postbacks.id",
        crate::db::value_rows(rows.len(), 8, 1)
    );
    let updated: std::collections::HashSet<i64> = txn
        .query_all_raw(statement(d, &sql, values))
        .await?
        .iter()
        .map(|r| r.try_get::<i64>("", "id"))
        .collect::<Result<_, _>>()?;
    // What the postbacks report, one statement per new status.
    let mut changed = Vec::new();
    let mut healthy: Vec<(i64, &str)> = Vec::new();
    for (o, r) in outcomes.iter().zip(&rows) {
        if !updated.contains(&r.id) {
            continue;
        }
        changed.push((&o.postback, r.delivered));
        if r.delivered {
            healthy.push((o.postback.merchant_id, o.url.as_str()));
        } else {
            let failure = r
                .error
                .clone()
                .or_else(|| r.response.map(|s| format!("HTTP {s}")))
                .unwrap_or_default();
            endpoint_health(d, &txn, o.postback.merchant_id, &o.url, now, Some(failure)).await?;
        }
    }
    mark_reported(&txn, &changed).await?;
    if !healthy.is_empty() {
        endpoints_recovered(d, &txn, &healthy, now).await?;
    }
    txn.commit().await?;
    let reported: Vec<&postback::Model> = changed.iter().map(|(p, _)| *p).collect();
    publish_statuses(d, &reported, now).await?;
    Ok(())
}

/// Closes the circuits of the endpoints that just delivered (those that
/// have a health row: a healthy endpoint never failed and has none).
async fn endpoints_recovered(
    d: &Deps,
    txn: &impl ConnectionTrait,
    endpoints: &[(i64, &str)],
    now: DateTime<Utc>,
) -> AppResult<()> {
    let mut values: Vec<sea_orm::Value> = vec![now.into()];
    for (merchant, url) in endpoints {
        values.push((*merchant).into());
        values.push((*url).into());
    }
    let sql = format!(
        "UPDATE postback_endpoints SET circuit = {closed}, consecutive_failures = 0,
           open_streak = 0, next_probe_at = NULL, last_success_at = $1
         WHERE (merchant_id, url) IN (VALUES {})",
        crate::db::value_rows(endpoints.len(), 2, 2),
        closed = PostbackCircuit::Closed.sql()
    );
    txn.execute_raw(statement(d, &sql, values)).await?;
    Ok(())
}

/// Tells subscribers the postback status of what `postbacks` report has
/// changed: two reads for the whole batch.
async fn publish_statuses(
    d: &Deps,
    postbacks: &[&postback::Model],
    now: DateTime<Utc>,
) -> AppResult<()> {
    use crate::events::Event;
    let sps: Vec<i64> = postbacks.iter().filter_map(|p| p.stockpiling_id).collect();
    let wds: Vec<i64> = postbacks.iter().filter_map(|p| p.withdrawal_id).collect();
    let mut events = Vec::new();
    if !sps.is_empty() {
        for t in transaction::Entity::find()
            .filter(transaction::Column::StockpilingId.is_in(sps))
            .all(&d.db)
            .await?
        {
            events.push(Event::transaction(
                TransactionEventKind::PostbackStatusChanged,
                now,
                &t,
            ));
        }
    }
    if !wds.is_empty() {
        for w in entity::withdrawal::Entity::find()
            .filter(entity::withdrawal::Column::Id.is_in(wds))
            .all(&d.db)
            .await?
        {
            events.push(Event::withdrawal(
                WithdrawalEventKind::PostbackStatusChanged,
                now,
                &w,
            ));
        }
    }
    if !events.is_empty() {
        d.bus.publish(events).await;
    }
    Ok(())
}

/// Records an attempt's outcome in its endpoint's health. A success closes
/// the circuit; `KASSA_POSTBACK_CIRCUIT_FAILURES` failures in a row (or a
/// failed probe) open it until a probe, first after
/// `KASSA_POSTBACK_CIRCUIT_COOLDOWN`, doubling each time it opens again, at
/// most 10 minutes. Healthy endpoints have no row: a success writes nothing
/// unless the endpoint had failed.
async fn endpoint_health(
    d: &Deps,
    txn: &impl ConnectionTrait,
    merchant_id: i64,
    url: &str,
    now: DateTime<Utc>,
    failure: Option<String>,
) -> AppResult<()> {
    use postback_endpoint::Column as H;
    let Some(error) = failure else {
        return endpoints_recovered(d, txn, &[(merchant_id, url)], now).await;
    };
    let sql = format!(
        "INSERT INTO postback_endpoints (merchant_id, url, circuit, consecutive_failures, open_streak, last_failure_at, last_error)
               VALUES ($1, $2, {closed}, 1, 0, $3, $4)
               ON CONFLICT (merchant_id, url) DO UPDATE SET
                 consecutive_failures = postback_endpoints.consecutive_failures + 1,
                 last_failure_at = excluded.last_failure_at, last_error = excluded.last_error
               RETURNING *",
        closed = PostbackCircuit::Closed.sql()
    );
    let row = txn
        .query_one_raw(statement(
            d,
            &sql,
            vec![merchant_id.into(), url.into(), now.into(), error.into()],
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("the endpoint upsert returned nothing"))?;
    let h = postback_endpoint::Model::from_query_result(&row, "")?;
    let threshold = d.config.postback_circuit_failures.max(1) as i32;
    // (a failure of an attempt started before the circuit opened changes nothing)
    if model::opens(h.circuit, h.consecutive_failures, threshold) {
        let wait = d
            .config
            .postback_circuit_cooldown
            .saturating_mul(1u32 << h.open_streak.clamp(0, 16))
            .min(MAX_PROBE_WAIT);
        d.postback_stats
            .circuits_opened
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(merchant = merchant_id, failures = h.consecutive_failures, probe_in = ?wait,
            "postback endpoint failing: circuit open, its postbacks wait for a probe");
        postback_endpoint::Entity::update_many()
            .col_expr(H::Circuit, Expr::value(PostbackCircuit::Open))
            .col_expr(H::OpenStreak, Expr::value(h.open_streak + 1))
            .col_expr(
                H::NextProbeAt,
                Expr::value(Some(
                    now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::seconds(30)),
                )),
            )
            .filter(H::Id.eq(h.id))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// Sets the postback status of what `postbacks` report (their stockpilings'
/// transactions, their withdrawals): one statement per kind and outcome.
async fn mark_reported(
    txn: &impl ConnectionTrait,
    postbacks: &[(&postback::Model, bool)],
) -> AppResult<()> {
    for delivered in [true, false] {
        let (tx_status, wd_status, _) = model::reported(delivered);
        let of = |pick: fn(&postback::Model) -> Option<i64>| -> Vec<i64> {
            postbacks
                .iter()
                .filter(|(_, ok)| *ok == delivered)
                .filter_map(|(p, _)| pick(p))
                .collect()
        };
        let sps = of(|p| p.stockpiling_id);
        if !sps.is_empty() {
            transaction::Entity::update_many()
                .col_expr(transaction::Column::PostbackStatus, Expr::value(tx_status))
                .filter(transaction::Column::StockpilingId.is_in(sps))
                .exec(txn)
                .await?;
        }
        let wds = of(|p| p.withdrawal_id);
        if !wds.is_empty() {
            entity::withdrawal::Entity::update_many()
                .col_expr(
                    entity::withdrawal::Column::PostbackStatus,
                    Expr::value(wd_status),
                )
                .filter(entity::withdrawal::Column::Id.is_in(wds))
                .exec(txn)
                .await?;
        }
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
        .col_expr(P::Status, Expr::value(Delivery::Failed))
        .col_expr(P::LastOutcome, Expr::value(Some(AttemptOutcome::Error)))
        .col_expr(P::LastError, Expr::value(Some(reason.to_string())))
        .col_expr(P::NextAttemptAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(P::ClaimedBy, Expr::value(Option::<String>::None))
        .col_expr(P::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(P::Id.eq(p.id))
        .filter(P::ClaimedBy.eq(me))
        .exec(&txn)
        .await?;
    if updated.rows_affected == 1 {
        mark_reported(&txn, &[(p, false)]).await?;
    }
    txn.commit().await?;
    if updated.rows_affected == 1 {
        publish_statuses(d, &[p], d.clock.now()).await?;
    }
    Ok(())
}

/// The pipeline's state in Prometheus text: what is due (over every
/// instance), how old the oldest due postback is, open circuits, and this
/// instance's deliveries in flight and attempts by outcome.
pub async fn metrics_text(d: &Deps) -> AppResult<String> {
    #[derive(FromQueryResult)]
    struct Due {
        due: i64,
        oldest: Option<DateTime<Utc>>,
    }
    #[derive(FromQueryResult)]
    struct Open {
        open: i64,
    }
    let now = d.clock.now();
    let due = Due::find_by_statement(statement(
        d,
        &format!(
            "SELECT COUNT(*) AS due, MIN(next_attempt_at) AS oldest FROM postbacks
         WHERE status IN {due} AND next_attempt_at <= $1
           AND (claimed_until IS NULL OR claimed_until < $1)",
            due = sql_list(&Delivery::DUE)
        ),
        vec![now.into()],
    ))
    .one(&d.db)
    .await?;
    let open = Open::find_by_statement(statement(
        d,
        &format!(
            "SELECT COUNT(*) AS open FROM postback_endpoints WHERE circuit <> {}",
            PostbackCircuit::Closed.sql()
        ),
        vec![],
    ))
    .one(&d.db)
    .await?
    .map_or(0, |o| o.open);
    let (due, oldest) = due.map_or((0, None), |r| (r.due, r.oldest));
    let age = oldest.map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0);
    let s = &d.postback_stats;
    Ok(format!(
        "# HELP kassa_postbacks_due Postbacks due and waiting for a slot (every instance).\n\
         # TYPE kassa_postbacks_due gauge\n\
         kassa_postbacks_due {due}\n\
         # HELP kassa_postbacks_oldest_due_seconds How long the oldest due postback has waited.\n\
         # TYPE kassa_postbacks_oldest_due_seconds gauge\n\
         kassa_postbacks_oldest_due_seconds {age}\n\
         # HELP kassa_postback_circuits_open Endpoints whose circuit is open or half-open.\n\
         # TYPE kassa_postback_circuits_open gauge\n\
         kassa_postback_circuits_open {open}\n\
         # HELP kassa_postbacks_in_flight Deliveries running on this instance.\n\
         # TYPE kassa_postbacks_in_flight gauge\n\
         kassa_postbacks_in_flight {}\n\
         # HELP kassa_postback_attempts_total Delivery attempts on this instance by outcome.\n\
         # TYPE kassa_postback_attempts_total counter\n\
         kassa_postback_attempts_total{{outcome=\"delivered\"}} {}\n\
         kassa_postback_attempts_total{{outcome=\"rejected\"}} {}\n\
         kassa_postback_attempts_total{{outcome=\"no_answer\"}} {}\n\
         # HELP kassa_postback_circuits_opened_total Circuits this instance opened.\n\
         # TYPE kassa_postback_circuits_opened_total counter\n\
         kassa_postback_circuits_opened_total {}\n",
        s.in_flight.load(Ordering::Relaxed),
        s.delivered.load(Ordering::Relaxed),
        s.rejected.load(Ordering::Relaxed),
        s.no_answer.load(Ordering::Relaxed),
        s.circuits_opened.load(Ordering::Relaxed),
    ))
}
