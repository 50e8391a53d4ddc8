use crate::support::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|_| panic!("not one JSON document: {}", self.stdout))
    }
}

fn kassa(database_url: &str, args: &[&str]) -> Run {
    kassa_env(&[("DATABASE_URL", database_url)], args)
}

fn kassa_env(env: &[(&str, &str)], args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kassa"));
    cmd.args(args)
        .current_dir(dir.path())
        .env("RUST_LOG", "warn");
    for var in ["DATABASE_URL", "REDIS_URL", "KASSA_BIND"] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run kassa");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

fn fails_with(run: &Run, needle: &str) {
    assert!(!run.ok, "should fail: {}", run.stdout);
    assert!(
        run.stderr.contains(needle),
        "stderr lacks `{needle}`: {}",
        run.stderr
    );
    assert!(
        run.stdout.trim().is_empty(),
        "nothing on stdout when failing: {}",
        run.stdout
    );
}

#[tokio::test]
async fn every_admin_command_prints_json_and_refuses_bad_arguments() {
    let (db, _dir) = fresh_database().await;
    let run = kassa(&db, &["migrate"]);
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(run.json(), json!({ "migrated": true }));

    let m = kassa(
        &db,
        &[
            "admin",
            "create-merchant",
            "--name",
            "Chai Stall",
            "--timezone",
            "Asia/Kathmandu",
        ],
    );
    assert!(m.ok, "{}", m.stderr);
    let merchant = m.json();
    let id = merchant["id"].as_str().unwrap().to_string();
    assert!(merchant["plugin_key"].as_str().unwrap().starts_with("kpk_"));
    fails_with(
        &kassa(
            &db,
            &[
                "admin",
                "create-merchant",
                "--name",
                "X",
                "--timezone",
                "Mars/Olympus",
            ],
        ),
        "IANA",
    );
    fails_with(
        &kassa(&db, &["admin", "create-merchant", "--name", " "]),
        "name",
    );
    fails_with(&kassa(&db, &["admin", "create-merchant"]), "--name");

    let u = kassa(
        &db,
        &[
            "admin",
            "create-user",
            "--merchant",
            &id,
            "--login",
            "chai@owner",
            "--password",
            "ChaiOwner2026",
            "--role",
            "OWNER",
        ],
    );
    assert!(u.ok, "{}", u.stderr);
    assert!(u.json()["id"].is_string());
    fails_with(
        &kassa(
            &db,
            &[
                "admin",
                "create-user",
                "--merchant",
                &id,
                "--login",
                "chai@owner",
                "--password",
                "ChaiOwner2026",
                "--role",
                "OWNER",
            ],
        ),
        "taken",
    );
    fails_with(
        &kassa(
            &db,
            &[
                "admin",
                "create-user",
                "--merchant",
                &id,
                "--login",
                "chai@two",
                "--password",
                "ChaiOwner2026",
                "--role",
                "KING",
            ],
        ),
        "--role",
    );
    fails_with(
        &kassa(
            &db,
            &[
                "admin",
                "create-user",
                "--merchant",
                &id,
                "--login",
                "chai@two",
                "--password",
                "short",
                "--role",
                "VIEWER",
            ],
        ),
        "12 characters",
    );
    fails_with(
        &kassa(
            &db,
            &[
                "admin",
                "create-user",
                "--merchant",
                "424242",
                "--login",
                "chai@two",
                "--password",
                "ChaiOwner2026",
                "--role",
                "VIEWER",
            ],
        ),
        "424242",
    );
    fails_with(
        &kassa(
            &db,
            &[
                "admin",
                "create-user",
                "--merchant",
                "abc",
                "--login",
                "a@b",
                "--password",
                "ChaiOwner2026",
                "--role",
                "VIEWER",
            ],
        ),
        "--merchant",
    );

    let k = kassa(
        &db,
        &[
            "admin",
            "create-api-key",
            "--scope",
            "MERCHANT",
            "--merchant",
            &id,
        ],
    );
    assert!(k.ok, "{}", k.stderr);
    let key = k.json()["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("kak_"));
    let ingest = kassa(&db, &["admin", "create-api-key", "--scope", "INGEST"]);
    assert!(ingest.ok && ingest.json()["key"].is_string());
    fails_with(
        &kassa(&db, &["admin", "create-api-key", "--scope", "MERCHANT"]),
        "--merchant",
    );
    fails_with(
        &kassa(&db, &["admin", "create-api-key", "--scope", "GOD"]),
        "--scope",
    );
    // An INGEST key may be bound to one merchant; then to an existing one only.
    let bound = kassa(
        &db,
        &[
            "admin",
            "create-api-key",
            "--scope",
            "INGEST",
            "--merchant",
            &id,
        ],
    );
    assert!(bound.ok, "{}", bound.stderr);
    assert!(bound.json()["key"].as_str().unwrap().starts_with("kak_"));
    fails_with(
        &kassa(
            &db,
            &[
                "admin",
                "create-api-key",
                "--scope",
                "PLATFORM",
                "--merchant",
                "999999",
            ],
        ),
        "does not exist",
    );

    let w = kassa(
        &db,
        &[
            "admin",
            "create-wallet",
            "--merchant",
            &id,
            "--payment-system",
            "paytm",
            "--identifier",
            "9800000001",
        ],
    );
    assert!(w.ok, "{}", w.stderr);
    assert!(w.json()["id"].is_string());
    fails_with(
        &kassa(
            &db,
            &[
                "admin",
                "create-wallet",
                "--merchant",
                &id,
                "--payment-system",
                "paytm",
                "--identifier",
                "9800000001",
            ],
        ),
        "already registered",
    );
    fails_with(
        &kassa(
            &db,
            &[
                "admin",
                "create-wallet",
                "--merchant",
                &id,
                "--payment-system",
                "venmo",
                "--identifier",
                "x",
            ],
        ),
        "unknown payment system",
    );

    // What the command line made works through the API.
    let app_db = db.clone();
    let deps = kassa::app::deps(
        config(&app_db, &[]),
        std::sync::Arc::new(kassa::clock::SystemClock),
    )
    .await
    .unwrap();
    let actor = kassa::auth::service::authenticate(&deps, Some(&key))
        .await
        .unwrap();
    let wallets = kassa::catalog::service::wallets(&deps, &actor, None)
        .await
        .unwrap();
    assert_eq!(wallets.len(), 1);
    assert_eq!(wallets[0].identifier, "9800000001");
}

#[tokio::test]
async fn demo_is_idempotent_and_export_schema_prints_the_sdl() {
    let (db, _dir) = fresh_database().await;
    let first = kassa(&db, &["demo"]);
    assert!(first.ok, "{}", first.stderr);
    assert_eq!(first.json()["created"], true);
    assert_eq!(first.json()["logins"][0]["login"], "owner@demo");
    let again = kassa(&db, &["demo"]);
    assert!(again.ok, "{}", again.stderr);
    assert_eq!(again.json()["created"], false);
    assert_eq!(again.json()["merchant_id"], first.json()["merchant_id"]);

    // The demo's dashboard statistics come back the same from the raw rows,
    // even after the table is emptied.
    let rebuilt = kassa(&db, &["admin", "rebuild-stats"]);
    assert!(rebuilt.ok, "{}", rebuilt.stderr);
    let rows = rebuilt.json()["bucket_rows"].as_u64().unwrap();
    // not on a terminal: one JSON progress line per merchant on stderr
    let steps: Vec<Value> = rebuilt
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["progress"].is_object())
        .collect();
    assert!(!steps.is_empty(), "no progress: {}", rebuilt.stderr);
    let last = &steps.last().unwrap()["progress"];
    assert_eq!(last["merchants_done"], last["merchants"]);
    assert_eq!(last["bucket_rows"].as_u64(), Some(rows));
    assert!(rows > 1_000, "{rows}");
    {
        use sea_orm::ConnectionTrait;
        let conn = sea_orm::Database::connect(db.as_str()).await.unwrap();
        conn.execute_unprepared("DELETE FROM stat_buckets")
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    let merchant = first.json()["merchant_id"].to_string();
    let again = kassa(&db, &["admin", "rebuild-stats", "--merchant", &merchant]);
    assert!(again.ok, "{}", again.stderr);
    assert_eq!(again.json()["bucket_rows"].as_u64(), Some(rows));
    fails_with(
        &kassa(&db, &["admin", "rebuild-stats", "--merchant", "999999"]),
        "does not exist",
    );

    let sdl = kassa(&db, &["export-schema"]);
    assert!(sdl.ok);
    assert_eq!(sdl.stdout, kassa::graphql::sdl());
    assert!(sdl.stdout.contains("type Query"));
}

#[tokio::test]
async fn a_bad_configuration_value_stops_with_its_name() {
    let (db, _dir) = fresh_database().await;
    for (var, value) in [
        ("KASSA_BIND", "not-an-address"),
        ("KASSA_SESSION_IDLE", "forever"),
        ("DATABASE_URL", "mysql://nope"),
    ] {
        let mut env = vec![("DATABASE_URL", db.as_str())];
        env.push((var, value));
        let run = kassa_env(&env, &["migrate"]);
        fails_with(&run, var);
    }
    let run = kassa_env(&[("DATABASE_URL", &db)], &["no-such-command"]);
    assert!(!run.ok && run.stderr.contains("no-such-command"));
}

#[tokio::test]
async fn serve_starts_on_an_empty_directory_with_no_configuration_and_serves_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kassa"))
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        // Port 0 only so parallel tests never collide; everything else is default.
        .env("KASSA_BIND", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let started: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("{line}"));
    let url = started["listening"].as_str().unwrap().to_string();
    assert_eq!(started["playground"], format!("{url}/graphql"));
    assert_eq!(
        started["demo"]["logins"][0],
        json!({ "login": "owner@demo", "password": "DemoOwner2026", "role": "OWNER" })
    );
    assert!(dir.path().join("kassa.db").exists());
    // The demo's keys are printed once, random, and work for the demo only.
    let keys = started["demo"]["api_keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 3, "{started}");
    for k in &keys {
        assert!(k[1].as_str().unwrap().starts_with("kak_"), "{k}");
    }
    // Demo postbacks are history: every delivery state, none of them due.
    {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let db = sea_orm::Database::connect(format!(
            "sqlite://{}?mode=ro",
            dir.path().join("kassa.db").display()
        ))
        .await
        .unwrap();
        use entity::postback::{Column as P, Entity as Postbacks};
        for status in ["PENDING", "RETRYING", "DELIVERED", "FAILED"] {
            let n = Postbacks::find()
                .filter(P::Status.eq(status))
                .count(&db)
                .await
                .unwrap();
            if status != "PENDING" {
                assert!(n > 0, "no {status} postback in the demo");
            }
        }
        let soon = chrono::Utc::now() + chrono::TimeDelta::hours(1);
        let due = Postbacks::find()
            .filter(P::Status.is_in(["PENDING", "RETRYING"]))
            .filter(
                sea_orm::Condition::any()
                    .add(P::NextAttemptAt.is_null())
                    .add(P::NextAttemptAt.lt(soon)),
            )
            .count(&db)
            .await
            .unwrap();
        assert_eq!(due, 0, "demo postbacks due for delivery");
        let _ = db.close().await;
    }

    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{url}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let login: Value = http
        .post(format!("{url}/graphql"))
        .json(&json!({ "query": "mutation { login(login: \"owner@demo\", password: \"DemoOwner2026\") { token } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["data"]["login"]["token"].as_str().unwrap();
    let me: Value = http
        .post(format!("{url}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": "{ me { login } merchant { name } wallets { id } paymentSystems { code } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["data"]["merchant"]["name"], "Demo Shop");
    assert!(me["data"]["wallets"].as_array().unwrap().len() >= 6);
    // SIGTERM stops it cleanly.
    #[cfg(unix)]
    {
        let pid = child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "{status:?}");
    }
    #[cfg(not(unix))]
    child.kill().unwrap();
}

#[tokio::test]
async fn instances_starting_together_migrate_once() {
    let (db, _dir) = fresh_database().await;
    let starts = (0..4).map(|_| {
        let db = db.clone();
        tokio::spawn(async move {
            kassa::app::deps(
                config(&db, &[]),
                std::sync::Arc::new(kassa::clock::SystemClock),
            )
            .await
        })
    });
    for started in futures_util::future::join_all(starts).await {
        let deps = started.unwrap().expect("every instance starts");
        assert!(kassa::db::migrations_applied(&deps.db).await.unwrap());
        assert_eq!(deps.catalog.payment_systems.len(), 10);
    }
}
