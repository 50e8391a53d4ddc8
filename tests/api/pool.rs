//! A cancelled request never poisons a pooled connection: with a pool of
//! one connection, work cancelled at random points (inside `BEGIN`, inside
//! transactions, clients that hang up) is followed by work that succeeds,
//! and every committed write is visible from another connection.

use crate::support::*;
use rand::Rng;
use sea_orm::{ConnectionTrait, Database, DbErr};
use serde_json::json;
use std::time::Duration;

/// A transaction that writes `n`, as the services write.
async fn write(db: &sea_orm::DatabaseConnection, n: i64) -> Result<(), DbErr> {
    let txn = kassa::db::begin_write(db).await?;
    txn.execute_unprepared(&format!("INSERT INTO pool_probe (n) VALUES ({n})"))
        .await?;
    txn.commit().await
}

/// A read-only snapshot, as the dashboard reads it (its isolation level
/// must be the first thing its transaction does).
async fn snapshot(db: &sea_orm::DatabaseConnection) -> Result<i64, DbErr> {
    let txn = kassa::db::begin_snapshot(db).await?;
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        // a BEGIN inside a transaction left open is ignored, with its isolation level
        let iso = txn
            .query_one_raw(sea_orm::Statement::from_string(
                txn.get_database_backend(),
                "SELECT current_setting('transaction_isolation') AS iso",
            ))
            .await?
            .expect("a setting");
        let iso: String = iso.try_get("", "iso")?;
        if iso != "repeatable read" {
            return Err(DbErr::Custom(format!("the snapshot ran at {iso}")));
        }
    }
    let row = txn
        .query_one_raw(sea_orm::Statement::from_string(
            txn.get_database_backend(),
            "SELECT COUNT(*) AS n FROM pool_probe",
        ))
        .await?
        .expect("a count");
    let n: i64 = row.try_get("", "n")?;
    txn.commit().await?;
    Ok(n)
}

/// Runs `fut` but drops it once it has been polled `polls` times without
/// finishing: a cancellation exactly at one of its await points (after the
/// first poll, `BEGIN` is on the wire). `None` when cancelled.
async fn cancel_after<F: std::future::Future>(polls: usize, fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let mut left = polls;
    std::future::poll_fn(|cx| match fut.as_mut().poll(cx) {
        std::task::Poll::Ready(out) => std::task::Poll::Ready(Some(out)),
        std::task::Poll::Pending => {
            left -= 1;
            if left == 0 {
                std::task::Poll::Ready(None)
            } else {
                std::task::Poll::Pending
            }
        }
    })
    .await
}

#[tokio::test]
async fn cancelled_work_never_poisons_a_pooled_connection() {
    let app = spawn_app_with(&[("KASSA_DB_POOL", "1")]).await;
    let db = app.deps.db.clone();
    db.execute_unprepared("CREATE TABLE pool_probe (n BIGINT PRIMARY KEY)")
        .await
        .unwrap();
    let owner = app.login(OWNER).await;
    let other = Database::connect(&app.database_url).await.unwrap();
    let visible = async |n: i64| {
        other
            .query_one_raw(sea_orm::Statement::from_string(
                other.get_database_backend(),
                format!("SELECT n FROM pool_probe WHERE n = {n}"),
            ))
            .await
            .unwrap()
            .is_some()
    };
    let mut committed = Vec::new();
    let mut cancelled = 0;
    let mut rng = rand::thread_rng();
    // SQLite answers in a few hundred microseconds: shorter cuts, so that as
    // many operations are cut part-way there as on PostgreSQL.
    let longest = if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        400
    } else {
        2000
    };
    for i in 0..1000i64 {
        let delay = Duration::from_micros(rng.gen_range(0..longest));
        let polls = rng.gen_range(1..=4);
        match i % 6 {
            // cancelled at an await point: inside BEGIN, the insert, the COMMIT
            5 => match cancel_after(polls, write(&db, i)).await {
                Some(Ok(())) => committed.push(i),
                Some(Err(e)) => panic!("write {i} failed: {e}"),
                None => cancelled += 1,
            },
            // an autocommit write: committed when it returns
            4 => match tokio::time::timeout(
                delay,
                db.execute_unprepared(&format!("INSERT INTO pool_probe (n) VALUES ({i})")),
            )
            .await
            {
                Ok(Ok(_)) => committed.push(i),
                Ok(Err(e)) => panic!("autocommit write {i} failed: {e}"),
                Err(_) => cancelled += 1,
            },
            // cancelled by a timeout
            0 | 1 => match tokio::time::timeout(delay, write(&db, i)).await {
                Ok(Ok(())) => committed.push(i),
                Ok(Err(e)) => panic!("write {i} failed: {e}"),
                Err(_) => cancelled += 1,
            },
            2 => match tokio::time::timeout(delay, snapshot(&db)).await {
                Ok(r) => {
                    r.unwrap_or_else(|e| panic!("snapshot {i} failed: {e}"));
                }
                Err(_) => cancelled += 1,
            },
            // a client that hangs up mid-request
            _ => {
                let sent = app
                    .http
                    .post(format!("{}/graphql", app.url))
                    .bearer_auth(&owner)
                    .timeout(delay)
                    .json(&json!({ "query": "mutation { updateProfile(input: { language: HI }) { errors { code } } }" }))
                    .send()
                    .await;
                if sent.is_err() {
                    cancelled += 1;
                }
            }
        }
        // Whatever was cut, the next borrower works outside any transaction:
        // its autocommit write is visible to others as soon as it returns,
        // and a snapshot gets its isolation level.
        let marker = 100_000 + i;
        db.execute_unprepared(&format!("INSERT INTO pool_probe (n) VALUES ({marker})"))
            .await
            .unwrap_or_else(|e| panic!("the write after {i} failed: {e}"));
        assert!(
            visible(marker).await,
            "after iteration {i} an autocommit write was not committed: the connection was left in a transaction"
        );
        committed.push(marker);
        if i % 10 == 0 {
            snapshot(&db)
                .await
                .unwrap_or_else(|e| panic!("the snapshot after {i} failed: {e}"));
        }
    }
    eprintln!("{cancelled} of 1000 operations cut part-way");
    assert!(
        cancelled > 100,
        "only {cancelled} cancellations: nothing tested"
    );
    // Every later piece of work succeeds on the one pooled connection, and
    // an autocommit write is visible to others the moment it returns.
    for i in 1000..1050i64 {
        db.execute_unprepared(&format!(
            "INSERT INTO pool_probe (n) VALUES ({})",
            i + 20_000
        ))
        .await
        .unwrap();
        assert!(
            visible(i + 20_000).await,
            "autocommit write {i} not visible"
        );
        committed.push(i + 20_000);
        write(&db, i).await.unwrap();
        committed.push(i);
        snapshot(&db).await.unwrap();
    }
    let body = app
        .gql(Some(&owner), "{ me { login } dashboard(filter: { from: \"2026-11-01\", to: \"2026-11-24\" }) { timezone } }", json!({}))
        .await;
    assert!(body["errors"].is_null(), "{body}");
    // Every committed write is there for another connection to see.
    let rows = other
        .query_all_raw(sea_orm::Statement::from_string(
            other.get_database_backend(),
            "SELECT n FROM pool_probe",
        ))
        .await
        .unwrap();
    let seen: std::collections::HashSet<i64> = rows
        .iter()
        .map(|r| r.try_get::<i64>("", "n").unwrap())
        .collect();
    let missing: Vec<_> = committed.iter().filter(|n| !seen.contains(n)).collect();
    assert!(missing.is_empty(), "committed but not visible: {missing:?}");
    eprintln!(
        "{cancelled} of 1,000 cancelled; {} committed writes all visible",
        committed.len()
    );
}

/// The backend serving a statement, and whether it runs outside any
/// transaction an earlier statement left open.
async fn probe(reads: &kassa::db::Reads) -> Result<(i32, bool), DbErr> {
    let rows = reads
        .all(
            &sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                // a transaction-local setting outlives the statement only if
                // its transaction does
                "SELECT pg_backend_pid() AS pid, \
             coalesce(current_setting('kassa.probe', true), '') = '' AS fresh, \
             set_config('kassa.probe', 'set', true) AS probe",
            ),
            kassa::db::Plans::Chosen,
        )
        .await?;
    let row = rows.first().expect("one row");
    Ok((row.try_get("", "pid")?, row.try_get("", "fresh")?))
}

/// PostgreSQL's page reads run on connections kept beside sqlx's pool and
/// given back without a ping: a read that ends goes back (the next one
/// runs on the same backend, outside any transaction); a read that fails
/// or is cancelled at any await point closes its connection, which is
/// never handed out again; the connections never exceed their share.
#[tokio::test]
async fn page_reads_reuse_only_connections_that_finished_their_statement() {
    let app = spawn_app_with(&[("KASSA_DB_POOL", "4")]).await;
    if app.deps.db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        assert!(app.deps.reads.is_none(), "SQLite reads go through its pool");
        return;
    }
    let reads = kassa::db::Reads::new(&app.database_url, 1, Default::default()).unwrap();
    // two of KASSA_DB_POOL's four are the page reads'
    assert_eq!(app.deps.reads.as_ref().unwrap().state().2, 2);
    assert_eq!(kassa::db::pool_split(&app.database_url, Some(4)), (2, 2));
    assert_eq!(kassa::db::pool_split(&app.database_url, Some(1)), (1, 0));
    assert_eq!(kassa::db::pool_split(&app.database_url, Some(5)), (3, 2));

    let (pid, fresh) = probe(&reads).await.unwrap();
    assert!(fresh);
    assert_eq!(
        probe(&reads).await.unwrap(),
        (pid, true),
        "a finished read's connection is reused"
    );
    assert_eq!(reads.state(), (1, 1, 1));

    // a statement that fails: its connection is closed, the next read gets another
    let failed = reads
        .all(
            &sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, "SELECT 1 / 0 AS boom"),
            kassa::db::Plans::Chosen,
        )
        .await;
    assert!(failed.is_err());
    assert_eq!(
        reads.state(),
        (0, 0, 1),
        "a failed read's connection is not kept"
    );
    let (after_error, fresh) = probe(&reads).await.unwrap();
    assert!(fresh);
    assert_ne!(
        after_error, pid,
        "the failed read's connection was handed out again"
    );

    // cancelled at every await point, many times: never a connection
    // handed out mid-statement, never more than one open
    let mut rng = rand::thread_rng();
    let mut cancelled = 0;
    let mut last = after_error;
    let slow = sea_orm::Statement::from_string(
        sea_orm::DbBackend::Postgres,
        "SELECT n FROM generate_series(1, 2000) AS n, pg_sleep(0.003)",
    );
    for i in 0..400 {
        let out = if i % 2 == 0 {
            cancel_after(
                rng.gen_range(1..=4),
                reads.all(&slow, kassa::db::Plans::Chosen),
            )
            .await
        } else {
            tokio::time::timeout(
                Duration::from_micros(rng.gen_range(0..3000)),
                reads.all(&slow, kassa::db::Plans::Chosen),
            )
            .await
            .ok()
        };
        let was_cancelled = out.is_none();
        match out {
            Some(rows) => assert_eq!(rows.unwrap().len(), 2000, "read {i}"),
            None => cancelled += 1,
        }
        assert!(reads.state().0 <= 1, "read {i}: {:?}", reads.state());
        let (pid, fresh) = probe(&reads)
            .await
            .unwrap_or_else(|e| panic!("the read after {i} failed: {e}"));
        assert!(
            fresh,
            "after read {i} the connection was inside a transaction"
        );
        if was_cancelled {
            assert_ne!(
                pid, last,
                "read {i} was cancelled but its connection came back"
            );
        }
        last = pid;
    }
    assert!(
        cancelled > 100,
        "only {cancelled} cancellations: nothing tested"
    );
    assert_eq!(reads.state(), (1, 1, 1));

    // the server closes a kept connection (a restart, an administrator):
    // the next read, too soon for a ping, is not failed for it — it runs on
    // a new connection
    let (doomed, _) = probe(&reads).await.unwrap();
    app.deps
        .db
        .execute_unprepared(&format!("SELECT pg_terminate_backend({doomed})"))
        .await
        .unwrap();
    assert!(backend_gone(&app.deps.db, doomed).await);
    let (pid, fresh) = probe(&reads)
        .await
        .expect("a read after the server closed the kept connection");
    assert!(fresh);
    assert_ne!(pid, doomed);
    assert_eq!(reads.state(), (1, 1, 1));

    // the pages themselves run there, and answer
    let owner = app.login(OWNER).await;
    let body = app
        .gql(
            Some(&owner),
            "{ transactions(first: 5) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert!(app.deps.reads.as_ref().unwrap().state().0 >= 1);
}

/// Whether PostgreSQL still lists backend `pid`, waited for up to 5 s (a
/// retired connection says goodbye on a task of its own).
async fn backend_gone(db: &sea_orm::DatabaseConnection, pid: i32) -> bool {
    for _ in 0..500 {
        let n = db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = {pid}"),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap();
        if n == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// Page-read connections are retired as sqlx's pool retires its own (here
/// on a short configured schedule): one that has lived its lifetime is not
/// used again — neither when it comes back from a read that outlasted it
/// nor when it is next taken — and one idle past the idle timeout is closed
/// before the next read; each is closed on the server too (its backend
/// leaves pg_stat_activity) and stops counting as open.
#[tokio::test]
async fn page_read_connections_are_retired_after_their_lifetime_and_when_idle() {
    use kassa::db::{Lifetimes, Reads};
    let app = spawn_app().await;
    if app.deps.db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        return;
    }
    let db = &app.deps.db;
    let short = Duration::from_millis(300);
    let long = Duration::from_secs(600);

    // lifetime: reused while young, not once it is over
    let reads = Reads::new(&app.database_url, 2, Default::default())
        .unwrap()
        .with_lifetimes(Lifetimes {
            max_lifetime: short,
            idle_timeout: long,
        });
    let (first, _) = probe(&reads).await.unwrap();
    assert_eq!(probe(&reads).await.unwrap().0, first, "reused while young");
    tokio::time::sleep(short).await;
    let (second, fresh) = probe(&reads).await.unwrap();
    assert!(fresh);
    assert_ne!(second, first, "a connection past its lifetime was used");
    assert_eq!(reads.state(), (1, 1, 2));
    assert!(
        backend_gone(db, first).await,
        "the retired backend lives on"
    );
    // a read that outlasts its connection's lifetime: not kept afterwards
    let slow = reads
        .all(
            &sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT pg_backend_pid() AS pid, pg_sleep(0.35) AS slept",
            ),
            kassa::db::Plans::Chosen,
        )
        .await
        .unwrap();
    let outlived: i32 = slow[0].try_get("", "pid").unwrap();
    assert_eq!(outlived, second);
    assert_eq!(reads.state(), (0, 0, 2), "an expired connection was kept");
    assert!(backend_gone(db, outlived).await);

    // idle timeout: a burst's two connections, both idle too long, are
    // closed before the next read, which opens one
    let reads = Reads::new(&app.database_url, 2, Default::default())
        .unwrap()
        .with_lifetimes(Lifetimes {
            max_lifetime: long,
            idle_timeout: short,
        });
    let pair = "SELECT pg_backend_pid() AS pid, pg_sleep(0.1) AS slept";
    let stmt = sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, pair);
    let (a, b) = tokio::join!(
        reads.all(&stmt, kassa::db::Plans::Chosen),
        reads.all(&stmt, kassa::db::Plans::Chosen)
    );
    let burst: Vec<i32> = [a, b]
        .into_iter()
        .map(|r| r.unwrap()[0].try_get("", "pid").unwrap())
        .collect();
    assert_ne!(burst[0], burst[1]);
    assert_eq!(reads.state(), (2, 2, 2));
    let reused = probe(&reads).await.unwrap().0;
    assert!(burst.contains(&reused), "reused while not idle long");
    tokio::time::sleep(short).await;
    let (next, fresh) = probe(&reads).await.unwrap();
    assert!(fresh);
    assert!(
        !burst.contains(&next),
        "an idle-expired connection was used"
    );
    assert_eq!(
        reads.state(),
        (1, 1, 2),
        "idle-expired connections kept open"
    );
    for pid in burst {
        assert!(backend_gone(db, pid).await, "backend {pid} lives on");
    }

    // connections planning one way make room for the other: never more
    // open than the share, the oldest idle one closed for the new one
    let reads = Reads::new(&app.database_url, 2, Default::default()).unwrap();
    let (a, b) = tokio::join!(
        reads.all(&stmt, kassa::db::Plans::Chosen),
        reads.all(&stmt, kassa::db::Plans::Chosen)
    );
    let chosen: Vec<i32> = [a, b]
        .into_iter()
        .map(|r| r.unwrap()[0].try_get("", "pid").unwrap())
        .collect();
    assert_eq!(reads.state(), (2, 2, 2));
    let generic: i32 = reads.all(&stmt, kassa::db::Plans::Generic).await.unwrap()[0]
        .try_get("", "pid")
        .unwrap();
    assert!(!chosen.contains(&generic));
    assert_eq!(reads.state(), (2, 2, 2), "more open than the share");
    assert!(
        backend_gone(db, chosen[0]).await || backend_gone(db, chosen[1]).await,
        "no connection made room"
    );

    // two reads the other way at once, with one kept this way: each new
    // connection is counted before it opens, so together they still make
    // room instead of both opening past the share
    let reads = Reads::new(&app.database_url, 2, Default::default()).unwrap();
    reads.all(&stmt, kassa::db::Plans::Chosen).await.unwrap();
    assert_eq!(reads.state(), (1, 1, 2));
    let (a, b) = tokio::join!(
        reads.all(&stmt, kassa::db::Plans::Generic),
        reads.all(&stmt, kassa::db::Plans::Generic)
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(reads.state(), (2, 2, 2), "more open than the share");
    // a read cancelled while its connection opens is not counted as open
    let reads = Reads::new(&app.database_url, 2, Default::default()).unwrap();
    for polls in 1..=2 {
        let cut = cancel_after(polls, reads.all(&stmt, kassa::db::Plans::Generic)).await;
        assert!(cut.is_none(), "the read ended within {polls} polls");
        assert_eq!(reads.state(), (0, 0, 2), "after {polls} polls");
    }
}
