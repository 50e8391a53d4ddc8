//! The demo data set: "Demo Shop" with an OWNER, OPERATOR and VIEWER, wallets
//! on seven payment systems in IN, BD and PK, and API keys for the playground.
//! Fixed values throughout, so every load gives the same data; loading twice
//! changes nothing.

use crate::accounts::service::{self as accounts, NewUser};
use crate::auth::model::{Actor, Language, Role, Scope};
use crate::auth::service as auth;
use crate::catalog::service as catalog;
use crate::deps::Deps;
use crate::error::{AppError, AppResult};
use crate::money::Money;
use entity::activation_request::ActivationRequestStatus;
use entity::merchant;
use entity::postback::{AttemptOutcome, PostbackDeliveryStatus as Delivery, PostbackKind};
use entity::stockpiling::StockpilingStatus;
use entity::transaction::PostbackStatus;
use entity::withdrawal::WithdrawalPostbackStatus;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde::Serialize;

pub const MERCHANT_NAME: &str = "Demo Shop";
/// The demo merchant's public plugin key.
pub const PLUGIN_KEY: &str = "kpk_demo_shop_public_key_0001";

/// Sign-ins printed by `kassa serve` on a demo database.
pub const USERS: [(&str, &str, Role); 3] = [
    ("owner@demo", "DemoOwner2026", Role::Owner),
    ("operator@demo", "DemoOperator2026", Role::Operator),
    ("viewer@demo", "DemoViewer2026", Role::Viewer),
];

/// The scopes of the demo's API keys, for trying the platform-side
/// operations in the playground. Each key is random per database, bound to
/// the demo merchant (it can touch nothing else), and printed once, when the
/// demo is loaded: no key value is ever in the source tree (BEHAVIOUR §13).
pub const KEY_SCOPES: [Scope; 3] = [Scope::Merchant, Scope::Ingest, Scope::Platform];

const WALLETS: [(&str, &str); 7] = [
    ("paytm", "9876500001"),
    ("upi", "demoshop@okaxis"),
    ("imps", "50100123456789"),
    ("bkash", "01711000001"),
    ("nagad", "01811000001"),
    ("easypaisa", "03001000001"),
    ("jazzcash", "03011000001"),
];

#[derive(Serialize, Clone, Debug)]
pub struct DemoLogin {
    pub login: &'static str,
    pub password: &'static str,
    pub role: &'static str,
}

#[derive(Serialize, Clone, Debug)]
pub struct DemoSummary {
    /// False when the demo was already there.
    pub created: bool,
    pub merchant_id: i64,
    pub plugin_key: &'static str,
    pub logins: Vec<DemoLogin>,
    /// (scope, key) of the keys made by this load; empty when the demo was
    /// already there (a key is shown once, then only its hash is kept).
    pub api_keys: Vec<(String, String)>,
}

fn summary(created: bool, merchant_id: i64, api_keys: Vec<(String, String)>) -> DemoSummary {
    DemoSummary {
        created,
        merchant_id,
        plugin_key: PLUGIN_KEY,
        logins: USERS
            .iter()
            .map(|(login, password, role)| DemoLogin {
                login,
                password,
                role: role.as_str(),
            })
            .collect(),
        api_keys,
    }
}

/// Whether the database has no merchant at all (a fresh embedded database).
pub async fn database_is_empty(d: &Deps) -> AppResult<bool> {
    Ok(merchant::Entity::find().count(&d.db).await? == 0)
}

/// Loads the whole demo data set unless it is there already.
pub async fn load(d: &Deps) -> AppResult<DemoSummary> {
    let summary = load_accounts(d).await?;
    if summary.created {
        load_activity(d, summary.merchant_id).await?;
        load_rates(d).await?;
    }
    Ok(summary)
}

/// A week's exchange rates for every currency over the demo's days (and a
/// week ahead), drifting a little, so the dashboard converts every day.
pub async fn load_rates(d: &Deps) -> AppResult<()> {
    use rust_decimal::Decimal;
    let base: [(&str, i64, u32); 7] = [
        ("INR", 1_190, 5),
        ("BDT", 820, 5),
        ("PKR", 3_580, 6),
        ("MMK", 4_760, 7),
        ("EUR", 10_830, 4),
        ("JPY", 6_650, 6),
        ("KWD", 32_540, 4),
    ];
    let today = d.clock.now().date_naive();
    let mut rates = Vec::new();
    for week in 0..=(DAYS / 7 + 2) {
        let day = today - chrono::Days::new(DAYS as u64) + chrono::Days::new((week * 7) as u64);
        for (i, (code, mantissa, scale)) in base.iter().enumerate() {
            // ±2 % around the base, different for each currency and week
            let drift = ((week * 7 + i as i64 * 3) % 9 - 4) * mantissa / 200;
            rates.push((
                code.to_string(),
                day,
                Decimal::new(mantissa + drift, *scale),
            ));
        }
    }
    crate::rates::service::set_rates(d, &Actor::Cli, rates)
        .await?
        .map_err(|e| AppError::Invalid(format!("demo rates: {:?}", e.first())))?;
    Ok(())
}

/// Loads only the merchant, its users, wallets and keys (what most tests need).
pub async fn load_accounts(d: &Deps) -> AppResult<DemoSummary> {
    if let Some(m) = merchant::Entity::find()
        .filter(merchant::Column::PluginKey.eq(PLUGIN_KEY))
        .one(&d.db)
        .await?
    {
        return Ok(summary(false, m.id, Vec::new()));
    }
    let m = accounts::create_merchant(
        d,
        MERCHANT_NAME,
        Some("Asia/Kolkata"),
        Some(PLUGIN_KEY.into()),
    )
    .await?;
    for (login, password, role) in USERS {
        accounts::create_user(
            d,
            &Actor::Cli,
            Some(m.id),
            NewUser {
                login: login.into(),
                password: password.into(),
                role,
                language: Some(Language::En),
            },
        )
        .await?
        .map_err(|e| AppError::Invalid(format!("demo user {login}: {}", e.message)))?;
    }
    for (system, identifier) in WALLETS {
        catalog::create_wallet(d, m.id, system, identifier).await?;
    }
    let mut api_keys = Vec::new();
    for scope in KEY_SCOPES {
        let (_, key) = auth::create_api_key(d, scope, Some(m.id)).await?;
        api_keys.push((scope.as_str().to_string(), key));
    }
    Ok(summary(true, m.id, api_keys))
}

/// Payers of the demo merchant (labels).
const PAYERS: usize = 400;
/// Demo transactions and the days they span.
pub const TRANSACTIONS: usize = 20_000;
pub const DAYS: i64 = 125;

fn demo_amount(rng: &mut StdRng, currency: &str) -> i64 {
    // Minor units; rupee/taka deposits of a few hundred to a few thousand.
    let major = match currency {
        "INR" => rng.gen_range(100..=15_000),
        "BDT" => rng.gen_range(100..=20_000),
        _ => rng.gen_range(200..=30_000),
    };
    major * 100
        + if rng.gen_bool(0.3) {
            rng.gen_range(1..100)
        } else {
            0
        }
}

/// Months of activity for the demo merchant: transactions in every status,
/// stockpilings in progress and completed, postbacks delivered, failing and
/// queued, and a few activation requests still waiting. Goes through the same
/// services as the API (ingest, activation), with a fixed seed.
pub async fn load_activity(d: &Deps, merchant_id: i64) -> AppResult<()> {
    use crate::activation::stockpile;
    use crate::db::begin_write;
    use crate::transactions::model::{Direction, Originality, TransactionType};
    use crate::transactions::service::{ingest, IngestItem};
    use chrono::{DurationRound, TimeDelta};
    use entity::{activation_request, minimum_deposit, postback, postback_attempt, transaction};
    use sea_orm::sea_query::Expr;
    use sea_orm::{ActiveModelTrait, ConnectionTrait, QueryOrder, Set};

    let mut rng = StdRng::seed_from_u64(20_261_124);
    let now = d.clock.now();
    let start = (now - TimeDelta::days(DAYS))
        .duration_trunc(TimeDelta::hours(1))
        .unwrap_or(now);
    let span = (now - start).num_seconds().max(1);

    let txn = begin_write(&d.db).await?;
    for (currency, minor) in [("INR", 500_000), ("BDT", 500_000), ("PKR", 1_000_000)] {
        minimum_deposit::ActiveModel {
            merchant_id: Set(merchant_id),
            currency: Set(currency.into()),
            amount_minor: Set(minor),
        }
        .insert(&txn)
        .await?;
    }
    merchant::Entity::update_many()
        .col_expr(merchant::Column::DelayedAutoActivation, Expr::value(true))
        .col_expr(
            merchant::Column::PostbackUrl,
            Expr::value(Some("https://demo-shop.example/kassa/postback")),
        )
        .filter(merchant::Column::Id.eq(merchant_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;

    let names = [
        "Ravi Kumar",
        "Anika Das",
        "Imran Khan",
        "Sadia Islam",
        "Arjun Mehta",
        "Fatima Noor",
        "Rahim Uddin",
        "Priya Sharma",
    ];
    let mut items = Vec::with_capacity(TRANSACTIONS);
    let mut times: Vec<i64> = (0..TRANSACTIONS).map(|_| rng.gen_range(0..span)).collect();
    times.sort_unstable();
    for (i, offset) in times.into_iter().enumerate() {
        let (system, identifier) = WALLETS[rng.gen_range(0..WALLETS.len())];
        let currency = d
            .catalog
            .payment_system(system)
            .map(|p| p.currency.clone())
            .unwrap_or_default();
        let amount = demo_amount(&mut rng, &currency);
        items.push(IngestItem {
            payment_system: system.into(),
            wallet_identifier: identifier.into(),
            direction: if rng.gen_bool(0.9) {
                Direction::Incoming
            } else {
                Direction::Outgoing
            },
            amount: rust_decimal::Decimal::new(amount, 2),
            currency,
            commission: Some(rust_decimal::Decimal::new(amount / 50, 2)),
            transaction_number: format!("{}{:08}", system.to_uppercase(), 10_000_000 + i),
            counterparty: Some(names[rng.gen_range(0..names.len())].into()),
            occurred_at: Some(start + TimeDelta::seconds(offset)),
            kind: Some(if rng.gen_bool(0.85) {
                TransactionType::Auto
            } else {
                TransactionType::Manual
            }),
            originality: Some(if rng.gen_bool(0.03) {
                Originality::Scam
            } else {
                Originality::Normal
            }),
        });
    }
    let t0 = std::time::Instant::now();
    for (i, chunk) in items.chunks(1_000).enumerate() {
        ingest(d, &Actor::Cli, chunk.to_vec()).await?;
        // A bulk load outruns autovacuum: without fresh statistics the
        // planner keeps the plan of a near-empty table for ingest's
        // duplicate lookup and scans every row of each batch's systems.
        if d.db.get_database_backend() == sea_orm::DbBackend::Postgres && i % 4 == 1 {
            d.db.execute_unprepared("ANALYZE transactions").await?;
        }
        if i % 5 == 4 {
            tracing::info!(
                transactions = (i + 1) * 1_000,
                of = TRANSACTIONS,
                "demo: loading"
            );
        }
    }

    tracing::info!(ms = t0.elapsed().as_millis() as u64, "demo: ingested");
    // Payers claim most incoming deposits within an hour or so; the last day stays mostly unclaimed.
    let claimable = transaction::Entity::find()
        .filter(transaction::Column::MerchantId.eq(merchant_id))
        .filter(transaction::Column::Direction.eq(Direction::Incoming))
        .filter(transaction::Column::Originality.eq(Originality::Normal))
        .order_by_asc(transaction::Column::CreatedAt)
        .all(&d.db)
        .await?;
    // The payers' activations, worked out in memory by the rules of
    // `stockpile::activate` (in the same order, with the same random
    // choices) and written set-based: a few statements instead of ten per
    // activation. The statistics are rebuilt once at the end.
    let minimums: std::collections::HashMap<&str, i64> =
        [("INR", 500_000), ("BDT", 500_000), ("PKR", 1_000_000)].into();
    struct DemoStockpiling {
        id: i64,
        label: String,
        currency: String,
        minimum: i64,
        accumulated: i64,
        created_at: chrono::DateTime<chrono::Utc>,
        completed_at: Option<chrono::DateTime<chrono::Utc>>,
        members: Vec<usize>,
    }
    let max_id = |table: &'static str| {
        let db = d.db.clone();
        async move {
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    db.get_database_backend(),
                    format!("SELECT COALESCE(MAX(id), 0) AS m FROM {table}"),
                ))
                .await?;
            Ok::<i64, sea_orm::DbErr>(match row {
                Some(r) => r.try_get::<i64>("", "m")?,
                None => 0,
            })
        }
    };
    let mut next_sp = max_id("stockpilings").await? + 1;
    let mut next_pb = max_id("postbacks").await? + 1;
    let mut sps: Vec<DemoStockpiling> = Vec::new();
    let mut open: std::collections::HashMap<(String, String), usize> = Default::default();
    /// (label, order id, activated at, stockpiling index) of a claimed deposit
    type Claim = (String, String, chrono::DateTime<chrono::Utc>, usize);
    let mut claims: Vec<Option<Claim>> = vec![None; claimable.len()];
    let mut credits: std::collections::BTreeMap<String, i64> = Default::default();
    let mut queued: Vec<(usize, i64, String)> = Vec::new(); // (stockpiling, postback id, payment system)
    for (n, t) in claimable.iter().enumerate() {
        let recent = now - t.created_at < TimeDelta::days(1);
        if !rng.gen_bool(if recent { 0.3 } else { 0.75 }) {
            continue;
        }
        let at = (t.created_at + TimeDelta::minutes(rng.gen_range(1..90))).min(now);
        let label = format!("user-{:04}", rng.gen_range(1..=PAYERS));
        *credits.entry(t.currency.clone()).or_default() += t.amount_minor - t.commission_minor;
        let key = (label.clone(), t.currency.clone());
        let k = match open.get(&key) {
            Some(k) => *k,
            None => {
                sps.push(DemoStockpiling {
                    id: next_sp,
                    label: label.clone(),
                    currency: t.currency.clone(),
                    minimum: minimums.get(t.currency.as_str()).copied().unwrap_or(0),
                    accumulated: 0,
                    created_at: at,
                    completed_at: None,
                    members: Vec::new(),
                });
                next_sp += 1;
                open.insert(key.clone(), sps.len() - 1);
                sps.len() - 1
            }
        };
        let sp = &mut sps[k];
        sp.accumulated += t.amount_minor;
        sp.members.push(n);
        claims[n] = Some((label, format!("order-{}", 500_000 + n), at, k));
        if sp.accumulated >= sp.minimum {
            sp.completed_at = Some(at);
            open.remove(&key);
            queued.push((k, next_pb, t.payment_system.clone()));
            next_pb += 1;
        }
    }
    let rfc =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    let txn = begin_write(&d.db).await?;
    let backend = txn.get_database_backend();
    for chunk in sps.chunks(500) {
        entity::stockpiling::Entity::insert_many(chunk.iter().map(|sp| {
            entity::stockpiling::ActiveModel {
                id: Set(sp.id),
                merchant_id: Set(merchant_id),
                label: Set(sp.label.clone()),
                currency: Set(sp.currency.clone()),
                minimum_minor: Set(sp.minimum),
                accumulated_minor: Set(sp.accumulated),
                status: Set(if sp.completed_at.is_some() {
                    StockpilingStatus::Completed
                } else {
                    StockpilingStatus::InProgress
                }),
                open_key: Set(sp
                    .completed_at
                    .is_none()
                    .then(|| format!("{merchant_id}:{}:{}", sp.currency, sp.label))),
                created_at: Set(sp.created_at),
                completed_at: Set(sp.completed_at),
            }
        }))
        .exec(&txn)
        .await?;
    }
    // The claimed transactions, a chunk of rows per statement.
    let claimed: Vec<(usize, &Claim)> = claims
        .iter()
        .enumerate()
        .filter_map(|(n, c)| c.as_ref().map(|c| (n, c)))
        .collect();
    for chunk in claimed.chunks(500) {
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(chunk.len() * 6);
        for (n, (label, order, at, k)) in chunk {
            let sp = &sps[*k];
            values.push(claimable[*n].id.into());
            values.push(label.clone().into());
            values.push(order.clone().into());
            values.push((*at).into());
            values.push(sp.id.into());
            values.push(
                if sp.completed_at.is_some() {
                    PostbackStatus::Queued
                } else {
                    PostbackStatus::StockpilingInProgress
                }
                .into(),
            );
        }
        let sql = format!(
            "UPDATE transactions SET label = v.column2, order_id = v.column3, activated_at = v.column4,
               stockpiling_id = v.column5, postback_status = v.column6
             FROM (VALUES {}) AS v WHERE transactions.id = v.column1",
            crate::db::value_rows(chunk.len(), 6, 1)
        );
        txn.execute_raw(crate::db::numbered(backend, &sql, values))
            .await?;
    }
    for (currency, net) in &credits {
        stockpile::credit(&txn, merchant_id, currency, *net).await?;
    }
    // A DEPOSIT postback for each completed stockpiling, as
    // `queue_deposit_postback` writes it.
    let mut outbox = Vec::with_capacity(queued.len());
    for (k, id, payment_system) in &queued {
        let sp = &sps[*k];
        let mut members = sp.members.clone();
        members.sort_by_key(|n| claimable[*n].id);
        let payload = serde_json::json!({
            "type": "deposit",
            "postback_id": id.to_string(),
            "stockpiling_id": sp.id.to_string(),
            "label": sp.label,
            "amount": d.catalog.decimal(&Money::new(sp.accumulated, sp.currency.clone())).to_string(),
            "currency": sp.currency,
            "payment_system": payment_system,
            "completed_at": sp.completed_at.map(rfc),
            "transactions": members.iter().map(|n| {
                let t = &claimable[*n];
                let (_, order, at, _) = claims[*n].as_ref().expect("a member was claimed");
                serde_json::json!({
                    "id": t.id.to_string(),
                    "transaction_number": t.transaction_number,
                    "amount": d.catalog.decimal(&t.amount()).to_string(),
                    "commission": d.catalog.decimal(&t.commission()).to_string(),
                    "order_id": order,
                    "activated_at": rfc(*at),
                })
            }).collect::<Vec<_>>(),
        });
        let at = sp.completed_at.unwrap_or(now);
        outbox.push(postback::ActiveModel {
            id: Set(*id),
            merchant_id: Set(merchant_id),
            message_id: Set(id.to_string()),
            kind: Set(PostbackKind::Deposit),
            url: Set(None),
            payload: Set(payload.to_string()),
            status: Set(Delivery::Pending),
            stockpiling_id: Set(Some(sp.id)),
            withdrawal_id: Set(None),
            attempt_count: Set(0),
            next_attempt_at: Set(Some(at)),
            created_at: Set(at),
            ..Default::default()
        });
    }
    for chunk in outbox.chunks(500) {
        postback::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await?;
    }
    if backend == sea_orm::DbBackend::Postgres {
        // explicit ids: move the identity sequences past them
        for table in ["stockpilings", "postbacks"] {
            txn.execute_unprepared(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            ))
            .await?;
        }
    }
    txn.commit().await?;

    tracing::info!(ms = t0.elapsed().as_millis() as u64, "demo: activated");
    // Delivery outcomes of the postbacks: delivered, failing, and the newest still queued.
    let postbacks = postback::Entity::find()
        .filter(postback::Column::MerchantId.eq(merchant_id))
        .order_by_asc(postback::Column::Id)
        .all(&d.db)
        .await?;
    let mut attempts = Vec::new();
    let mut delivered_ids = Vec::new();
    let mut failed_ids = Vec::new();
    let mut delivered_sps = Vec::new();
    let mut failed_sps = Vec::new();
    let mut retrying_ids = Vec::new();
    let mut retrying_sps = Vec::new();
    for p in postbacks
        .iter()
        .filter(|p| now - p.created_at >= TimeDelta::hours(6))
    {
        let roll: f64 = rng.gen();
        let (delivered, retrying) = (roll < 0.85, (0.85..0.9).contains(&roll));
        let count = if delivered {
            rng.gen_range(1..=2)
        } else if retrying {
            2
        } else {
            8
        };
        for k in 0..count {
            let last = k + 1 == count;
            attempts.push(postback_attempt::ActiveModel {
                postback_id: Set(p.id),
                at: Set(p.created_at + TimeDelta::minutes(k as i64 * 30) + TimeDelta::seconds(1)),
                response_status: Set(Some(if delivered && last { 200 } else { 503 })),
                error: Set(None),
                duration_ms: Set(rng.gen_range(20..400)),
                ..Default::default()
            });
        }
        if delivered {
            delivered_ids.push(p.id);
            delivered_sps.extend(p.stockpiling_id);
        } else if retrying {
            retrying_ids.push(p.id);
            retrying_sps.extend(p.stockpiling_id);
        } else {
            failed_ids.push(p.id);
            failed_sps.extend(p.stockpiling_id);
        }
    }
    let txn = begin_write(&d.db).await?;
    for chunk in attempts.chunks(500) {
        postback_attempt::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await?;
    }
    let url = Some("https://demo-shop.example/kassa/postback");
    for (ids, sps, status, outcome, tx_status, count) in [
        (
            &delivered_ids,
            &delivered_sps,
            Delivery::Delivered,
            AttemptOutcome::Sent,
            PostbackStatus::Sent,
            1,
        ),
        (
            &failed_ids,
            &failed_sps,
            Delivery::Failed,
            AttemptOutcome::Error,
            PostbackStatus::ErrorSending,
            8,
        ),
    ] {
        for chunk in ids.chunks(500) {
            let mut update = postback::Entity::update_many()
                .col_expr(postback::Column::Status, Expr::value(status))
                .col_expr(postback::Column::AttemptCount, Expr::value(count))
                .col_expr(postback::Column::LastOutcome, Expr::value(Some(outcome)))
                .col_expr(
                    postback::Column::NextAttemptAt,
                    Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
                )
                .col_expr(postback::Column::Url, Expr::value(url));
            if status == Delivery::Delivered {
                update = update.col_expr(
                    postback::Column::DeliveredAt,
                    Expr::col(postback::Column::CreatedAt),
                );
            }
            update
                .filter(postback::Column::Id.is_in(chunk.to_vec()))
                .exec(&txn)
                .await?;
        }
        for chunk in sps.chunks(500) {
            transaction::Entity::update_many()
                .col_expr(transaction::Column::PostbackStatus, Expr::value(tx_status))
                .filter(transaction::Column::StockpilingId.is_in(chunk.to_vec()))
                .exec(&txn)
                .await?;
        }
    }
    // Postbacks part-way through their schedule: two failed attempts, the
    // next one hours away.
    let later = Some(now + TimeDelta::hours(10));
    for chunk in retrying_ids.chunks(500) {
        postback::Entity::update_many()
            .col_expr(postback::Column::Status, Expr::value(Delivery::Retrying))
            .col_expr(postback::Column::AttemptCount, Expr::value(2))
            .col_expr(
                postback::Column::LastOutcome,
                Expr::value(Some(AttemptOutcome::Error)),
            )
            .col_expr(postback::Column::NextAttemptAt, Expr::value(later))
            .col_expr(postback::Column::Url, Expr::value(url))
            .filter(postback::Column::Id.is_in(chunk.to_vec()))
            .exec(&txn)
            .await?;
    }
    for chunk in retrying_sps.chunks(500) {
        transaction::Entity::update_many()
            .col_expr(
                transaction::Column::PostbackStatus,
                Expr::value(PostbackStatus::ErrorSending),
            )
            .filter(transaction::Column::StockpilingId.is_in(chunk.to_vec()))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    tracing::info!(
        ms = t0.elapsed().as_millis() as u64,
        "demo: delivery history"
    );
    load_withdrawals(d, merchant_id, &mut rng).await?;
    tracing::info!(ms = t0.elapsed().as_millis() as u64, "demo: withdrawals");
    // Demo postbacks are history (BEHAVIOUR §13): none is due, so a fresh
    // start makes no outgoing request and a new merchant's first postback
    // never waits behind hundreds bound for the demo's made-up host.
    postback::Entity::update_many()
        .col_expr(postback::Column::NextAttemptAt, Expr::value(later))
        .filter(postback::Column::MerchantId.eq(merchant_id))
        .filter(postback::Column::Status.is_in(Delivery::DUE))
        .filter(
            sea_orm::Condition::any()
                .add(postback::Column::NextAttemptAt.is_null())
                .add(postback::Column::NextAttemptAt.lt(later)),
        )
        .exec(&d.db)
        .await?;
    let txn = begin_write(&d.db).await?;
    // A few payers are waiting for deposits the payment system has not reported yet.
    for k in 0..5 {
        let system = WALLETS[k % WALLETS.len()].0;
        activation_request::ActiveModel {
            ticket: Set(format!("act_demo_waiting_{k}")),
            merchant_id: Set(merchant_id),
            payment_system: Set(system.into()),
            transaction_number: Set(format!("{}PENDING{k:03}", system.to_uppercase())),
            label: Set(format!("user-{:04}", 900 + k)),
            status: Set(ActivationRequestStatus::Waiting),
            created_at: Set(now),
            expires_at: Set(
                now + TimeDelta::from_std(d.config.activation_ttl).unwrap_or(TimeDelta::hours(1))
            ),
            waiting_key: Set(Some(format!(
                "{merchant_id}:{system}:{}PENDING{k:03}",
                system.to_uppercase()
            ))),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    // The dashboard's statistics, from the rows as they now stand.
    crate::stats::buckets::rebuild(&txn, merchant_id).await?;
    txn.commit().await?;
    tracing::info!(ms = t0.elapsed().as_millis() as u64, "demo: loaded");
    Ok(())
}

/// Withdrawals over the demo's months in every status and postback status,
/// made through the same services (with a clock walked through the past).
async fn load_withdrawals(d: &Deps, merchant_id: i64, rng: &mut StdRng) -> AppResult<()> {
    use crate::auth::model::UserActor;
    use crate::clock::{Clock, ManualClock};
    use crate::withdrawals::service::{self as withdrawals, NewWithdrawal};
    use chrono::TimeDelta;
    use entity::{postback, user, withdrawal};
    use sea_orm::sea_query::Expr;

    let operator = user::Entity::find()
        .filter(user::Column::Login.eq("operator@demo"))
        .one(&d.db)
        .await?
        .ok_or(AppError::NotFound)?;
    let actor = Actor::User(UserActor {
        user_id: operator.id,
        merchant_id,
        role: Role::Operator,
        session_id: 0,
    });
    let now = d.clock.now();
    let clock = ManualClock::new(now - TimeDelta::days(DAYS - 5));
    let mut past = d.clone();
    past.clock = clock.clone();
    /// (payment system, recipient, extra fields) of the demo's payouts.
    type Payout = (
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
    );
    let requests: [Payout; 4] = [
        ("paytm", "9876543210", &[]),
        (
            "imps",
            "50100987654321",
            &[
                ("ifsc", "HDFC0001234"),
                ("account_name", "Demo Shop Payouts"),
            ],
        ),
        ("bkash", "01712345678", &[]),
        ("easypaisa", "03001234567", &[("cnic", "3520112345671")]),
    ];
    for n in 0..90 {
        // The last few are made in the final days and stay NEW.
        let step = if n < 85 {
            rng.gen_range(60_000..140_000)
        } else {
            0
        };
        clock.advance(std::time::Duration::from_secs(step));
        if n == 85 {
            clock.advance(
                (now - TimeDelta::hours(30) - clock.now())
                    .to_std()
                    .unwrap_or_default(),
            );
        }
        if clock.now() >= now {
            break;
        }
        let (system, recipient, fields) = requests[n % requests.len()];
        let created = withdrawals::create(
            &past,
            &actor,
            NewWithdrawal {
                payment_system: system.into(),
                amount: rust_decimal::Decimal::new(rng.gen_range(500..5_000) * 100, 2),
                currency: None,
                recipient: recipient.into(),
                label: Some(format!("payout-{:03}", n + 1)),
                comment: (n % 5 == 0).then(|| "weekly settlement".to_string()),
                fields: fields
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
                idempotency_key: Some(format!("demo-payout-{n}")),
            },
        )
        .await?;
        let Ok(w) = created else { continue };
        // The newest stay NEW; the rest are decided a few hours later.
        if now - past.clock.now() > TimeDelta::days(3) {
            clock.advance(std::time::Duration::from_secs(rng.gen_range(1_800..20_000)));
            let approve = rng.gen_bool(0.8);
            withdrawals::set_status(&past, &Actor::Cli, &w.id.to_string(), Some(approve), None)
                .await?
                .map_err(|e| AppError::Invalid(format!("demo withdrawal: {}", e.message)))?;
        }
    }
    // Their status postbacks: most received, some failing.
    let due = postback::Entity::find()
        .filter(postback::Column::MerchantId.eq(merchant_id))
        .filter(postback::Column::Kind.eq(PostbackKind::Withdrawal))
        .all(&d.db)
        .await?;
    let txn = crate::db::begin_write(&d.db).await?;
    for p in due {
        let ok = rng.gen_bool(0.85);
        postback::Entity::update_many()
            .col_expr(
                postback::Column::Status,
                Expr::value(if ok {
                    Delivery::Delivered
                } else {
                    Delivery::Failed
                }),
            )
            .col_expr(
                postback::Column::AttemptCount,
                Expr::value(if ok { 1 } else { 8 }),
            )
            .col_expr(
                postback::Column::LastOutcome,
                Expr::value(Some(if ok {
                    AttemptOutcome::Sent
                } else {
                    AttemptOutcome::Error
                })),
            )
            .col_expr(
                postback::Column::LastError,
                Expr::value((!ok).then_some("HTTP 500")),
            )
            .col_expr(
                postback::Column::NextAttemptAt,
                Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
            )
            .col_expr(
                postback::Column::DeliveredAt,
                Expr::value(ok.then_some(p.created_at)),
            )
            .col_expr(
                postback::Column::Url,
                Expr::value(Some("https://demo-shop.example/kassa/postback")),
            )
            .filter(postback::Column::Id.eq(p.id))
            .exec(&txn)
            .await?;
        if let Some(w) = p.withdrawal_id {
            withdrawal::Entity::update_many()
                .col_expr(
                    withdrawal::Column::PostbackStatus,
                    Expr::value(if ok {
                        WithdrawalPostbackStatus::Received
                    } else {
                        WithdrawalPostbackStatus::Error
                    }),
                )
                .filter(withdrawal::Column::Id.eq(w))
                .exec(&txn)
                .await?;
        }
    }
    txn.commit().await?;
    Ok(())
}
