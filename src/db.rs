//! Connecting to SQLite or PostgreSQL, migrating, and opening write transactions.

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use std::time::Duration;

/// A statement written with `$1`-style parameters, for `backend` (SQLite
/// takes the same numbers as `?1`).
pub fn numbered(backend: DbBackend, sql: &str, values: Vec<sea_orm::Value>) -> sea_orm::Statement {
    let sql = match backend {
        DbBackend::Postgres => sql.to_string(),
        _ => sql.replace('$', "?"),
    };
    sea_orm::Statement::from_sql_and_values(backend, sql, values)
}

/// A statement built piece by piece: each `bind` adds a value and returns
/// its placeholder for the backend (`$n` on PostgreSQL, `?` on SQLite), so
/// no caller numbers parameters by hand.
pub struct Sql {
    backend: DbBackend,
    pub text: String,
    values: Vec<sea_orm::Value>,
}

impl Sql {
    pub fn new(backend: DbBackend) -> Self {
        Sql {
            backend,
            text: String::new(),
            values: Vec::new(),
        }
    }

    /// Adds `v` and returns its placeholder.
    pub fn bind(&mut self, v: impl Into<sea_orm::Value>) -> String {
        self.values.push(v.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".into(),
        }
    }

    /// ` AND column IN (…)` for a list given; an empty list matches nothing;
    /// no list adds nothing.
    pub fn is_in(&mut self, column: &str, list: Option<&[String]>) {
        let Some(list) = list else { return };
        if list.is_empty() {
            self.text.push_str(" AND 1 = 0");
            return;
        }
        let marks: Vec<String> = list.iter().map(|v| self.bind(v.clone())).collect();
        self.text
            .push_str(&format!(" AND {column} IN ({})", marks.join(", ")));
    }

    pub fn statement(self) -> sea_orm::Statement {
        sea_orm::Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

/// `rows` rows of `columns` numbered parameters for a `VALUES` list, the
/// first being `$first`: `($3, $4), ($5, $6)`.
pub fn value_rows(rows: usize, columns: usize, first: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (0..columns)
                .map(|c| format!("${}", first + r * columns + c))
                .collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// How long a pooled connection may sit idle before it is pinged on
/// acquire (a server restart or a dropped socket is found then, not by the
/// request). Under load connections are idle for microseconds: no ping.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Opens a transaction so that cancelling the caller can never leave a
/// pooled connection inside it. sqlx-postgres 0.9.0 does not roll back a
/// transaction whose `BEGIN` was in flight when the future was dropped
/// (sqlx issue 4393): the connection went back to the pool inside a
/// transaction nobody commits, and whoever borrowed it next ran inside it —
/// errors at best, held locks and lost autocommit writes at worst. Here
/// `BEGIN` runs on its own task, to completion: a caller that goes away
/// drops the opened transaction there, which rolls it back (sqlx queues the
/// `ROLLBACK` and flushes it before the connection is reused). Once begun,
/// a transaction dropped mid-statement or mid-`COMMIT` is rolled back the
/// same way. Every transaction Kassa opens comes through here
/// (`layout_check` refuses a `begin` anywhere else).
async fn begin_detached<F>(begin: F) -> Result<DatabaseTransaction, DbErr>
where
    F: std::future::Future<Output = Result<DatabaseTransaction, DbErr>> + Send + 'static,
{
    tokio::spawn(begin)
        .await
        .map_err(|e| DbErr::Custom(format!("opening a transaction: {e}")))?
}

/// A read-only snapshot (REPEATABLE READ on PostgreSQL): several reads
/// that agree with each other.
pub async fn begin_snapshot(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let db = db.clone();
    begin_detached(async move {
        match db.get_database_backend() {
            DbBackend::Postgres => {
                db.begin_with_config(
                    Some(sea_orm::IsolationLevel::RepeatableRead),
                    Some(sea_orm::AccessMode::ReadOnly),
                )
                .await
            }
            _ => db.begin().await,
        }
    })
    .await
}

/// The connections right now, sqlx's pool and [`Reads`] together: (open
/// connections, idle ones, the most they open).
pub fn pool_state(db: &DatabaseConnection, reads: Option<&Reads>) -> (u32, usize, u32) {
    let (size, idle, max) = pool_state_of(db);
    let (r_size, r_idle, r_max) = reads.map_or((0, 0, 0), Reads::state);
    (size + r_size, idle + r_idle, max + r_max)
}

fn pool_state_of(db: &DatabaseConnection) -> (u32, usize, u32) {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        _ => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
    }
}

/// How `KASSA_DB_POOL` (default 20 on PostgreSQL, 8 on SQLite) is shared:
/// (sqlx's pool, [`Reads`]). On PostgreSQL half of it (at least one
/// connection, from a pool of two up) serves the single-statement reads of
/// [`Reads`]; the two together never open more than the setting.
pub fn pool_split(url: &str, pool_size: Option<u32>) -> (u32, u32) {
    if url.starts_with("sqlite:") {
        return (pool_size.unwrap_or(8), 0);
    }
    let total = pool_size.unwrap_or(20).max(1);
    let reads = if total >= 2 { total / 2 } else { 0 };
    (total - reads, reads)
}

/// Connections for single read-only statements on PostgreSQL (the pages of
/// every list), kept beside sqlx's pool.
///
/// sqlx pings every connection it takes back (a `Sync` round trip that also
/// flushes a queued rollback): for a page that is a second wake-up of the
/// server per request, measured as half of PostgreSQL's CPU per page. A
/// statement run here opens no transaction, so a connection that answered
/// it to the end is idle by construction and goes back without a ping; a
/// connection whose statement did not end (an error, a dropped future) is
/// closed, never reused. One idle for a while is pinged before use, so a
/// restarted server is found then rather than by the request. As sqlx's
/// pool, a connection is retired (closed with a goodbye to the server) once
/// it has lived [`Lifetimes::max_lifetime`] or sat idle
/// [`Lifetimes::idle_timeout`]: server-side memory a long-lived backend
/// accumulates (plans, caches) is given back, and a burst's connections do
/// not stay open for good.
pub struct Reads {
    options: sea_orm::sqlx::postgres::PgConnectOptions,
    /// The same, with `plan_cache_mode = force_generic_plan` ([`Plans::Generic`]).
    generic: sea_orm::sqlx::postgres::PgConnectOptions,
    idle: std::sync::Mutex<Vec<Kept>>,
    slots: tokio::sync::Semaphore,
    open: std::sync::atomic::AtomicU32,
    max: u32,
    statements: std::sync::Arc<std::sync::atomic::AtomicU64>,
    lifetimes: Lifetimes,
}

/// How long [`Reads`] keeps a connection: the same defaults as sqlx's pool.
#[derive(Clone, Copy, Debug)]
pub struct Lifetimes {
    /// From its opening on.
    pub max_lifetime: Duration,
    /// Unused in a row.
    pub idle_timeout: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            max_lifetime: Duration::from_secs(30 * 60),
            idle_timeout: Duration::from_secs(10 * 60),
        }
    }
}

/// How PostgreSQL plans a read's prepared statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plans {
    /// PostgreSQL's choice (`plan_cache_mode = auto`): custom plans for
    /// the first executions, then the generic one where it costs no more.
    Chosen,
    /// One generic plan, made once per connection: for a statement whose
    /// best plan does not depend on its values (an unfiltered page along
    /// its owner's index). PostgreSQL's choice would plan a next page by
    /// cursor anew on every execution: the generic plan is the same index
    /// scan, but its estimate of `id < $n` (a third of the rows) costs
    /// more than a custom plan's near the list's head.
    Generic,
}

/// An idle connection of [`Reads`].
struct Kept {
    conn: sea_orm::sqlx::PgConnection,
    plans: Plans,
    opened: std::time::Instant,
    since: std::time::Instant,
}

impl Kept {
    fn expired(&self, l: &Lifetimes, now: std::time::Instant) -> bool {
        now - self.opened >= l.max_lifetime || now - self.since >= l.idle_timeout
    }
}

/// A connection [`Reads`] is opening, counted in `open` meanwhile: counted
/// out on drop (opening failed or was cancelled) unless forgotten.
struct Opening<'a>(&'a std::sync::atomic::AtomicU32);

impl Drop for Opening<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A connection taken from [`Reads`]: closed on drop unless given back.
struct Lease<'a> {
    reads: &'a Reads,
    conn: Option<sea_orm::sqlx::PgConnection>,
    plans: Plans,
    opened: std::time::Instant,
}

impl Lease<'_> {
    fn give_back(mut self) {
        if let Some(conn) = self.conn.take() {
            let now = std::time::Instant::now();
            let kept = Kept {
                conn,
                plans: self.plans,
                opened: self.opened,
                since: now,
            };
            if kept.expired(&self.reads.lifetimes, now) {
                self.reads.retire(kept.conn);
            } else {
                self.reads.kept().push(kept);
            }
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if self.conn.take().is_some() {
            self.reads
                .open
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

impl Reads {
    /// Up to `max` connections to `url`, each statement counted in `statements`.
    pub fn new(
        url: &str,
        max: u32,
        statements: std::sync::Arc<std::sync::atomic::AtomicU64>,
    ) -> anyhow::Result<Self> {
        // as the pool (`sqlx_logging(false)`): no statement text in the logs
        let options = sea_orm::sqlx::ConnectOptions::disable_statement_logging(
            url.parse::<sea_orm::sqlx::postgres::PgConnectOptions>()
                .with_context(|| format!("parsing the database URL {}", redact(url)))?,
        );
        let generic = options
            .clone()
            .options([("plan_cache_mode", "force_generic_plan")]);
        Ok(Reads {
            options,
            generic,
            idle: Default::default(),
            slots: tokio::sync::Semaphore::new(max as usize),
            open: Default::default(),
            max,
            statements,
            lifetimes: Lifetimes::default(),
        })
    }

    /// The same, keeping connections for `lifetimes` instead of the defaults.
    pub fn with_lifetimes(mut self, lifetimes: Lifetimes) -> Self {
        self.lifetimes = lifetimes;
        self
    }

    /// Closes an idle connection for good: counted out at once, the
    /// server told goodbye (`Terminate`) on a task of its own.
    fn retire(&self, conn: sea_orm::sqlx::PgConnection) {
        self.open.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = sea_orm::sqlx::Connection::close(conn).await;
            });
        }
    }

    /// The newest idle connection planning as `plans` still within its
    /// lifetimes; every expired one (the oldest sit first) is retired on the way.
    fn take_kept(&self, plans: Plans) -> Option<Kept> {
        let now = std::time::Instant::now();
        let (expired, newest) = {
            let mut idle = self.kept();
            let expired: Vec<Kept> = idle
                .extract_if(.., |k| k.expired(&self.lifetimes, now))
                .collect();
            let newest = idle
                .iter()
                .rposition(|k| k.plans == plans)
                .map(|i| idle.remove(i));
            (expired, newest)
        };
        for k in expired {
            self.retire(k.conn);
        }
        newest
    }

    /// (open connections, idle ones, the most it opens).
    pub fn state(&self) -> (u32, usize, u32) {
        let idle = self.kept().len();
        (
            self.open.load(std::sync::atomic::Ordering::Relaxed),
            idle,
            self.max,
        )
    }

    /// The idle connections, newest given back last (a panic while the
    /// lock was held leaves a list still worth using).
    fn kept(&self) -> std::sync::MutexGuard<'_, Vec<Kept>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connection planning as `plans`: a kept one unless `fresh`, else
    /// a new one. The flag says whether it was kept.
    async fn lease(&self, plans: Plans, fresh: bool) -> Result<(Lease<'_>, bool), DbErr> {
        let kept = if fresh { None } else { self.take_kept(plans) };
        if let Some(Kept {
            conn,
            opened,
            since,
            ..
        }) = kept
        {
            let mut lease = Lease {
                reads: self,
                conn: Some(conn),
                plans,
                opened,
            };
            let conn = lease.conn.as_mut().expect("a lease holds its connection");
            if since.elapsed() < PING_AFTER_IDLE
                || sea_orm::sqlx::Connection::ping(conn).await.is_ok()
            {
                return Ok((lease, true));
            }
            // dropped: closed and counted so
        }
        // Never more open than `max`: the new connection is counted before
        // it is opened (and counted out if opening fails or is cancelled);
        // past the limit some connection is idle, since every lease holds
        // one of `max` slots — one planning the other way, or one this read
        // gave up on — and the oldest idle one makes room.
        let opening = Opening(&self.open);
        if self.open.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= self.max {
            let oldest = {
                let mut idle = self.kept();
                (!idle.is_empty()).then(|| idle.remove(0))
            };
            if let Some(k) = oldest {
                self.retire(k.conn);
            }
        }
        let options = match plans {
            Plans::Chosen => &self.options,
            Plans::Generic => &self.generic,
        };
        let conn = tokio::time::timeout(
            CONNECT_TIMEOUT,
            sea_orm::sqlx::ConnectOptions::connect(options),
        )
        .await
        .map_err(|_| DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout))?
        .map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into())))?;
        // opened: from now on the lease counts it out
        std::mem::forget(opening);
        let lease = Lease {
            reads: self,
            conn: Some(conn),
            plans,
            opened: std::time::Instant::now(),
        };
        Ok((lease, false))
    }

    /// Every row of one read-only statement (no transaction, no write).
    /// A kept connection the server has closed meanwhile (a restart, an
    /// administrator's terminate) fails the statement before it ran: it is
    /// closed and the read runs once more on a new connection.
    pub async fn all(
        &self,
        stmt: &sea_orm::Statement,
        plans: Plans,
    ) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
        let _slot = tokio::time::timeout(ACQUIRE_TIMEOUT, self.slots.acquire())
            .await
            .map_err(|_| DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout))?
            .map_err(|_| {
                DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::ConnectionClosed)
            })?;
        let mut fresh = false;
        loop {
            let (mut lease, kept) = self.lease(plans, fresh).await?;
            self.statements
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let values = stmt.values.clone().unwrap_or(sea_orm::Values(Vec::new()));
            let conn = lease.conn.as_mut().expect("a lease holds its connection");
            let rows = sea_orm::sqlx::query_with(
                sea_orm::sqlx::AssertSqlSafe(stmt.sql.as_str()),
                sea_query_sqlx::SqlxValues(values),
            )
            .fetch_all(conn)
            .await;
            match rows {
                Ok(rows) => {
                    lease.give_back();
                    return Ok(rows.into_iter().map(sea_orm::QueryResult::from).collect());
                }
                Err(e) if kept && connection_lost(&e) => {
                    tracing::warn!(error = %e, "a kept read connection was closed by the server; reading on a new one");
                    fresh = true;
                }
                Err(e) => return Err(DbErr::Query(sea_orm::RuntimeErr::SqlxError(e.into()))),
            }
        }
    }
}

/// Whether an error says the connection is gone (not that the statement
/// failed): I/O, a broken protocol stream, or the server's own "terminating
/// connection" (SQLSTATE class 08, connection exception, and 57P01–57P03,
/// shutdown; not 57014, a cancelled statement).
fn connection_lost(e: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    match e {
        Error::Io(_) | Error::Protocol(_) | Error::Tls(_) | Error::WorkerCrashed => true,
        Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P0")),
        _ => false,
    }
}

/// Every row of one read-only statement: through [`Reads`] where there is
/// one (PostgreSQL), else through the pool.
pub async fn read_all(
    db: &DatabaseConnection,
    reads: Option<&Reads>,
    stmt: sea_orm::Statement,
    plans: Plans,
) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    match reads {
        Some(reads) => reads.all(&stmt, plans).await,
        None => db.query_all_raw(stmt).await,
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens the pool. SQLite gets WAL (readers never block the writer) and a
/// busy timeout; PostgreSQL a pool sized for a few instances per server.
pub async fn connect(url: &str, pool_size: Option<u32>) -> anyhow::Result<DatabaseConnection> {
    let (pool, _) = pool_split(url, pool_size);
    let mut opts = ConnectOptions::new(url.to_string());
    opts.max_connections(pool)
        .min_connections(1)
        .sqlx_logging(false)
        .connect_timeout(CONNECT_TIMEOUT)
        .acquire_timeout(ACQUIRE_TIMEOUT);
    if url.starts_with("sqlite:") {
        // WAL with synchronous=NORMAL is durable against application crashes
        // and loses at most the last commits on a power cut, at a fraction of the fsyncs.
        opts.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
        });
    } else {
        // Statements are prepared once per connection and PostgreSQL picks
        // the plan (`plan_cache_mode = auto`): custom plans for the first
        // executions, then the generic one where it costs no more — the
        // Transactions page's statements are planned once instead of on
        // every request (a fifth of its database CPU). ANALYZE invalidates
        // cached plans, so a plan made while a table was small does not
        // outlive the statistics it was made from.
        // sqlx pings every connection it takes back (and flushes a queued
        // rollback then); on acquire only one idle for a while is pinged,
        // instead of one more round trip per request.
        opts.test_before_acquire(false)
            .map_sqlx_postgres_before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_AFTER_IDLE {
                        sea_orm::sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            });
    }
    // Several processes opening one new SQLite file at once race to switch
    // it to WAL, and the loser gets "database is locked" (the switch does not
    // wait on the busy timeout): try again briefly before giving up.
    let mut tries = 0;
    let db = loop {
        match Database::connect(opts.clone()).await {
            Ok(db) => break db,
            Err(e)
                if url.starts_with("sqlite:") && tries < 50 && e.to_string().contains("locked") =>
            {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => {
                return Err(anyhow::Error::new(e))
                    .with_context(|| format!("connecting to the database at {}", redact(url)))
            }
        }
    };
    if db.get_database_backend() == DbBackend::Sqlite {
        // WAL persists in the file; busy_timeout and foreign_keys are per connection
        // and sqlx sets them on each (5 s busy timeout, foreign keys on).
        db.execute_unprepared("PRAGMA journal_mode=WAL")
            .await
            .context("switching SQLite to WAL")?;
    }
    Ok(db)
}

/// Hides the password of a database URL for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Applies pending migrations. On PostgreSQL the whole run holds a
/// transaction-scoped advisory lock, so instances starting together take turns
/// and the later ones find nothing left to do.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let db = db.clone();
            let txn = begin_detached(async move { db.begin().await }).await?;
            txn.execute_unprepared("SELECT pg_advisory_xact_lock(7261746173)")
                .await
                .context("taking the migration lock")?;
            Migrator::up(&txn, None)
                .await
                .context("applying migrations")?;
            txn.commit().await.context("committing migrations")?;
        }
        _ => {
            let txn = begin_write(db).await?;
            Migrator::up(&txn, None)
                .await
                .context("applying migrations")?;
            txn.commit().await.context("committing migrations")?;
        }
    }
    Ok(())
}

/// Whether every migration this binary knows has been applied.
pub async fn migrations_applied(db: &DatabaseConnection) -> Result<bool, DbErr> {
    Ok(Migrator::get_pending_migrations(db).await?.is_empty())
}

/// Begins a transaction that will write. On SQLite it takes the write lock
/// up front (`BEGIN IMMEDIATE`), so concurrent writers queue on the busy
/// timeout instead of failing with SQLITE_BUSY when a read turns into a write.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let db = db.clone();
    begin_detached(async move {
        match db.get_database_backend() {
            DbBackend::Sqlite => {
                db.begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..Default::default()
                })
                .await
            }
            _ => db.begin().await,
        }
    })
    .await
}

/// On PostgreSQL, takes transaction-scoped advisory locks on `keys` (in a
/// fixed order, so two lockers never deadlock). Ingestion and activation lock
/// the (payment system, transaction number) they touch, so a deposit reported
/// while a payer's request is being stored is always seen by one of them.
/// SQLite needs nothing: its write transactions already run one at a time.
pub async fn lock_keys(txn: &DatabaseTransaction, keys: &[String]) -> Result<(), DbErr> {
    if txn.get_database_backend() != DbBackend::Postgres || keys.is_empty() {
        return Ok(());
    }
    let mut hashes: Vec<i64> = keys
        .iter()
        .map(|k| {
            use sha2::{Digest, Sha256};
            let digest = Sha256::digest(k.as_bytes());
            i64::from_be_bytes(digest[..8].try_into().unwrap_or([0; 8]))
        })
        .collect();
    hashes.sort_unstable();
    hashes.dedup();
    // Integers only, so the list is safe to inline.
    let values: Vec<String> = hashes.iter().map(|h| format!("({h})")).collect();
    txn.execute_unprepared(&format!(
        "SELECT pg_advisory_xact_lock(v) FROM (VALUES {}) AS t(v) ORDER BY v",
        values.join(",")
    ))
    .await?;
    Ok(())
}

/// What a change made inside [`write`]: its answer, the audit entries to
/// write with it, the events to publish once it is committed, and whether a
/// postback was queued (the worker is woken after the commit).
pub struct Change<T> {
    value: T,
    commit: bool,
    /// Entries, each with the actor it names when that is not the writer
    /// (a sign-in is audited as the session it creates).
    audit: Vec<(
        Option<crate::auth::model::Actor>,
        crate::audit::Audit<'static>,
    )>,
    events: Vec<crate::events::Event>,
    wakes_postbacks: bool,
}

impl<T> Change<T> {
    /// The change is made: commit it (with its audit entries).
    pub fn done(value: T) -> Change<T> {
        Change {
            value,
            commit: true,
            audit: Vec::new(),
            events: Vec::new(),
            wakes_postbacks: false,
        }
    }

    /// The change is refused (the answer says why): whatever it wrote is
    /// rolled back, nothing is audited or published.
    pub fn refused(value: T) -> Change<T> {
        Change {
            commit: false,
            ..Change::done(value)
        }
    }

    /// An audit entry written in the same transaction.
    pub fn audited(mut self, entry: crate::audit::Audit<'static>) -> Change<T> {
        self.audit.push((None, entry));
        self
    }

    /// An audit entry naming `actor` instead of the writer.
    pub fn audited_as(
        mut self,
        actor: crate::auth::model::Actor,
        entry: crate::audit::Audit<'static>,
    ) -> Change<T> {
        self.audit.push((Some(actor), entry));
        self
    }

    /// Events published after the commit (never before: a subscriber must
    /// not see what a rollback would take back).
    pub fn publishing(
        mut self,
        events: impl IntoIterator<Item = crate::events::Event>,
    ) -> Change<T> {
        self.events.extend(events);
        self
    }

    /// A postback was queued: wake this instance's worker after the commit.
    pub fn waking_postbacks(mut self, wake: bool) -> Change<T> {
        self.wakes_postbacks |= wake;
        self
    }
}

/// The one write path: begins a write transaction, runs `change` in it (with
/// the transaction's `now`), writes the change's audit entries in the same
/// transaction, commits, then publishes its events and wakes the postback
/// worker. An error or a refused change rolls everything back.
pub async fn write<T>(
    d: &crate::deps::Deps,
    actor: &crate::auth::model::Actor,
    change: impl AsyncFnOnce(
        &DatabaseTransaction,
        chrono::DateTime<chrono::Utc>,
    ) -> crate::error::AppResult<Change<T>>,
) -> crate::error::AppResult<T> {
    let txn = begin_write(&d.db).await?;
    let now = d.clock.now();
    let made = change(&txn, now).await?;
    if !made.commit {
        txn.rollback().await?;
        return Ok(made.value);
    }
    for (named, entry) in made.audit {
        crate::audit::record(&txn, now, named.as_ref().unwrap_or(actor), entry).await?;
    }
    txn.commit().await?;
    d.bus.publish(made.events).await;
    if made.wakes_postbacks {
        d.postbacks_due.notify_one();
    }
    Ok(made.value)
}
