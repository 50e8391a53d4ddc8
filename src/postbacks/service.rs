//! The delivery log, resending, and the signing secret.

use crate::audit::Audit;
use crate::auth::model::{Actor, Role, Tenant};
use crate::db::{write, Change};
use crate::deps::Deps;
use crate::error::{AppResult, ErrorCode, UserError};
use crate::pagination;
use crate::transactions::model::Range;
use chrono::{DateTime, Utc};
use entity::postback::{PostbackDeliveryStatus, PostbackKind};
use entity::withdrawal::WithdrawalStatus;
use entity::{merchant, postback};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

pub const CURSOR_KIND: &str = "postback";

/// The delivery log's filter.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub kind: Option<PostbackKind>,
    pub status: Option<PostbackDeliveryStatus>,
    pub created_at: Range,
}

fn condition(tenant: Tenant, f: &Filter) -> Condition {
    Condition::all()
        .add(postback::Column::MerchantId.eq(tenant.merchant_id))
        .add(matching(f))
}

/// The filter alone, for a page (its merchant is a [`pagination::Owner`]).
fn matching(f: &Filter) -> Condition {
    use postback::Column as P;
    let mut c = Condition::all();
    if let Some(k) = f.kind {
        c = c.add(P::Kind.eq(k));
    }
    if let Some(s) = f.status {
        c = c.add(P::Status.eq(s));
    }
    f.created_at.narrow(c, P::CreatedAt)
}

/// A page of the delivery log, newest first: (rows, has next page).
pub async fn list(
    d: &Deps,
    tenant: Tenant,
    f: &Filter,
    first: Option<i32>,
    after: Option<&str>,
) -> AppResult<(Vec<postback::Model>, bool)> {
    let size = pagination::page_size(first, "first")?;
    let after = after
        .map(|c| pagination::decode_id(CURSOR_KIND, c, "after"))
        .transpose()?;
    pagination::newest_first(
        d,
        pagination::find_all::<postback::Entity>(sea_orm::ConnectionTrait::get_database_backend(
            &d.db,
        ))
        .filter(matching(f)),
        postback::Column::Id,
        pagination::Owner {
            column: postback::Column::MerchantId,
            id: tenant.merchant_id,
            plans: crate::db::Plans::Chosen,
        },
        after,
        size,
    )
    .await
}

pub async fn count(d: &Deps, tenant: Tenant, f: &Filter) -> AppResult<i64> {
    Ok(postback::Entity::find()
        .filter(condition(tenant, f))
        .count(&d.db)
        .await? as i64)
}

/// Queues one more attempt now (OWNER, OPERATOR).
pub async fn resend(
    d: &Deps,
    actor: &Actor,
    id: &str,
) -> AppResult<Result<postback::Model, UserError>> {
    let me = actor
        .user_with_role(&[Role::Owner, Role::Operator])?
        .clone();
    let not_found = || UserError::new(&["id"], ErrorCode::NotFound, "no such postback");
    let Ok(id) = id.trim().parse::<i64>() else {
        return Ok(Err(not_found()));
    };
    write(d, actor, async |txn, now| {
        use postback::Column as P;
        let updated = postback::Entity::update_many()
            .col_expr(P::Status, Expr::value(PostbackDeliveryStatus::Pending))
            .col_expr(P::NextAttemptAt, Expr::value(Some(now)))
            .col_expr(P::ClaimedBy, Expr::value(Option::<String>::None))
            .col_expr(P::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(P::Id.eq(id))
            .filter(P::MerchantId.eq(me.merchant_id))
            .exec(txn)
            .await?;
        if updated.rows_affected == 0 {
            return Ok(Change::refused(Err(not_found())));
        }
        // The schedule is spent for a FAILED one: this is one extra attempt, not a new schedule.
        let entry = Audit {
            merchant_id: Some(me.merchant_id),
            action: "postback.resend",
            subject: Some(format!("postback:{id}")),
            details: serde_json::Value::Null,
        };
        let p = postback::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or(crate::error::AppError::NotFound)?;
        Ok(Change::done(Ok(p)).audited(entry).waking_postbacks(true))
    })
    .await
}

/// Issues a new signing secret (OWNER); returns it, shown this once.
pub async fn rotate_secret(d: &Deps, actor: &Actor) -> AppResult<String> {
    let me = actor.user_with_role(&[Role::Owner])?.clone();
    let secret = crate::accounts::service::new_postback_secret();
    write(d, actor, async |txn, _now| {
        merchant::Entity::update_many()
            .col_expr(
                merchant::Column::PostbackSecret,
                Expr::value(secret.clone()),
            )
            .filter(merchant::Column::Id.eq(me.merchant_id))
            .exec(txn)
            .await?;
        let entry = Audit {
            merchant_id: Some(me.merchant_id),
            action: "settings.rotate_postback_secret",
            subject: Some(format!("merchant:{}", me.merchant_id)),
            details: json!({ "hint": secret_hint(&secret) }),
        };
        Ok(Change::done(secret).audited(entry))
    })
    .await
}

/// Writes a postback (the outbox row) in the caller's transaction; `body`
/// builds the JSON body from the postback's id.
pub async fn queue(
    txn: &impl sea_orm::ConnectionTrait,
    now: DateTime<Utc>,
    merchant_id: i64,
    kind: PostbackKind,
    cause: (Option<i64>, Option<i64>),
    body: impl FnOnce(i64) -> serde_json::Value,
) -> AppResult<()> {
    use sea_orm::{ActiveModelTrait, Set};
    let (stockpiling_id, withdrawal_id) = cause;
    let row = postback::ActiveModel {
        merchant_id: Set(merchant_id),
        message_id: Set(format!("pending:{}", crate::auth::tokens::generate(""))),
        kind: Set(kind),
        url: Set(None),
        payload: Set(String::new()),
        status: Set(PostbackDeliveryStatus::Pending),
        stockpiling_id: Set(stockpiling_id),
        withdrawal_id: Set(withdrawal_id),
        attempt_count: Set(0),
        next_attempt_at: Set(Some(now)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    postback::Entity::update_many()
        .col_expr(postback::Column::MessageId, Expr::value(row.id.to_string()))
        .col_expr(
            postback::Column::Payload,
            Expr::value(body(row.id).to_string()),
        )
        .filter(postback::Column::Id.eq(row.id))
        .exec(txn)
        .await?;
    Ok(())
}

/// One endpoint a merchant's postbacks go to, with its health.
pub struct EndpointHealth {
    pub url: String,
    /// DEPOSIT and/or WITHDRAWAL.
    pub kinds: Vec<PostbackKind>,
    /// The row, when the endpoint ever failed (a healthy one has none).
    pub health: Option<entity::postback_endpoint::Model>,
}

/// The merchant's configured endpoints and how each is doing.
pub async fn endpoint_health(d: &Deps, m: &merchant::Model) -> AppResult<Vec<EndpointHealth>> {
    use entity::postback_endpoint as pe;
    let mut endpoints: Vec<EndpointHealth> = Vec::new();
    for kind in [PostbackKind::Deposit, PostbackKind::Withdrawal] {
        let Some(url) = crate::postbacks::worker::target_url(m, kind) else {
            continue;
        };
        match endpoints.iter_mut().find(|e| e.url == url) {
            Some(e) => e.kinds.push(kind),
            None => endpoints.push(EndpointHealth {
                url,
                kinds: vec![kind],
                health: None,
            }),
        }
    }
    if endpoints.is_empty() {
        return Ok(endpoints);
    }
    let rows = pe::Entity::find()
        .filter(pe::Column::MerchantId.eq(m.id))
        .filter(pe::Column::Url.is_in(endpoints.iter().map(|e| e.url.clone())))
        .all(&d.db)
        .await?;
    for e in &mut endpoints {
        e.health = rows.iter().find(|r| r.url == e.url).cloned();
    }
    Ok(endpoints)
}

/// What a test postback got back.
pub struct TestOutcome {
    pub delivered: bool,
    pub http_status: Option<u16>,
    pub error: Option<String>,
}

/// Signs and POSTs a sample body (`"test": true`) of `kind` to the URL set
/// for it, through the same address guard, signer and client as real
/// deliveries (OWNER). Records nothing in the delivery log, queues nothing;
/// the send is audited. At most 10 a minute per merchant.
pub async fn send_test(
    d: &Deps,
    actor: &Actor,
    kind: PostbackKind,
) -> AppResult<Result<TestOutcome, UserError>> {
    let me = actor.user_with_role(&[Role::Owner])?.clone();
    let m = merchant::Entity::find_by_id(me.merchant_id)
        .one(&d.db)
        .await?
        .ok_or(crate::error::AppError::NotFound)?;
    let Some(url) = crate::postbacks::worker::target_url(&m, kind) else {
        return Ok(Err(UserError::new(
            &["kind"],
            ErrorCode::Required,
            "no postback URL is set for this kind: set one in the system settings first",
        )));
    };
    if d.limits.test_postback.check_key(&m.id).is_err() {
        return Err(crate::error::AppError::RateLimited);
    }
    let now = d.clock.now();
    let at = now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    let id = crate::auth::tokens::generate("test_");
    let body = match kind {
        PostbackKind::Withdrawal => json!({
            "type": "withdrawal", "test": true, "postback_id": id, "withdrawal_id": "0",
            "status": WithdrawalStatus::Approved, "amount": "100.00", "currency": "INR", "payment_system": "paytm",
            "recipient": "9876543210", "label": "test-withdrawal", "comment": null, "processed_at": at,
        }),
        PostbackKind::Deposit => json!({
            "type": "deposit", "test": true, "postback_id": id, "stockpiling_id": "0",
            "label": "test-payer", "amount": "500.00", "currency": "INR", "payment_system": "paytm",
            "completed_at": at,
            "transactions": [{ "id": "0", "transaction_number": "TEST0000000001", "amount": "500.00",
                               "commission": "0.00", "order_id": null, "activated_at": at }],
        }),
    }
    .to_string();
    let client = crate::postbacks::worker::client(d.config.allow_private_urls)?;
    let outcome =
        crate::postbacks::worker::send(d, &client, m.postback_secret.expose(), &url, &id, &body)
            .await?;
    let result = match outcome {
        crate::postbacks::worker::Attempt::Answered { status, .. } => TestOutcome {
            delivered: (200..300).contains(&status),
            http_status: Some(status),
            error: None,
        },
        crate::postbacks::worker::Attempt::NoAnswer(e) => TestOutcome {
            delivered: false,
            http_status: None,
            error: Some(e),
        },
    };
    write(d, actor, async |_txn, _now| {
        let entry = Audit {
            merchant_id: Some(m.id),
            action: "postback.test",
            subject: None,
            details: json!({ "kind": kind, "delivered": result.delivered, "http_status": result.http_status }),
        };
        Ok(Change::done(Ok(result)).audited(entry))
    })
    .await
}

/// The last four characters of a secret: enough to tell two apart in the
/// audit log, never enough to use.
fn secret_hint(secret: &str) -> String {
    let tail: Vec<char> = secret.chars().rev().take(4).collect();
    tail.into_iter().rev().collect()
}
