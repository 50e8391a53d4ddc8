//! Self-service API keys (BEHAVIOUR §13): an OWNER makes `MERCHANT` keys for
//! their own merchant, lists them and revokes them. A key is shown once and
//! stored as its SHA-256; revocation is effective at once on every instance
//! (the bus tells each to forget the key); its last use is written at most
//! once a minute per key and instance, never per request.

use super::model::{Actor, Role, Scope};
use super::tokens;
use crate::audit::Audit;
use crate::db::{write, Change};
use crate::deps::Deps;
use crate::error::{AppResult, ErrorCode, UserError};
use chrono::{DateTime, Utc};
use entity::api_key;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;

/// Longest key name, in characters.
pub const MAX_NAME: usize = 100;

/// The caller's merchant's MERCHANT keys, revoked ones included, newest first.
pub async fn list(d: &Deps, actor: &Actor) -> AppResult<Vec<api_key::Model>> {
    let owner = actor.user_with_role(&[Role::Owner])?;
    Ok(api_key::Entity::find()
        .filter(api_key::Column::MerchantId.eq(owner.merchant_id))
        .filter(api_key::Column::Scope.eq(Scope::Merchant))
        .order_by_desc(api_key::Column::Id)
        .all(&d.db)
        .await?)
}

/// Makes a MERCHANT key for the caller's merchant: the row and the whole key
/// (shown this once).
pub async fn create(
    d: &Deps,
    actor: &Actor,
    name: &str,
) -> AppResult<Result<(api_key::Model, String), UserError>> {
    let owner = actor.user_with_role(&[Role::Owner])?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Ok(Err(UserError::new(
            &["input", "name"],
            ErrorCode::Invalid,
            format!("a name of 1 to {MAX_NAME} characters is needed"),
        )));
    }
    let key = tokens::generate(tokens::API_KEY_PREFIX);
    write(d, actor, async |txn, now| {
        let row = api_key::ActiveModel {
            scope: Set(Scope::Merchant),
            merchant_id: Set(Some(owner.merchant_id)),
            key_hash: Set(tokens::digest(&key)),
            prefix: Set(key.chars().take(10).collect()),
            created_at: Set(now),
            name: Set(Some(name.to_string())),
            created_by: Set(Some(owner.user_id)),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        let entry = Audit {
            merchant_id: Some(owner.merchant_id),
            action: "api_key.create",
            subject: Some(format!("api-key:{}", row.id)),
            details: json!({ "name": name, "scope": Scope::Merchant, "prefix": row.prefix }),
        };
        Ok(Change::done(Ok((row, key))).audited(entry))
    })
    .await
}

/// Revokes one of the caller's merchant's MERCHANT keys. Another merchant's
/// key, a platform key or an unknown id is `NOT_FOUND`; revoking a revoked
/// key changes nothing.
pub async fn revoke(
    d: &Deps,
    actor: &Actor,
    id: &str,
) -> AppResult<Result<api_key::Model, UserError>> {
    let owner = actor.user_with_role(&[Role::Owner])?;
    let missing = || UserError::new(&["id"], ErrorCode::NotFound, "no such API key");
    let Ok(id) = id.trim().parse::<i64>() else {
        return Ok(Err(missing()));
    };
    let done = write(d, actor, async |txn, now| {
        let Some(key) = api_key::Entity::find_by_id(id)
            .filter(api_key::Column::MerchantId.eq(owner.merchant_id))
            .filter(api_key::Column::Scope.eq(Scope::Merchant))
            .one(txn)
            .await?
        else {
            return Ok(Change::refused(Err(missing())));
        };
        if key.revoked_at.is_some() {
            return Ok(Change::refused(Ok(key)));
        }
        api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(Some(now)))
            .filter(api_key::Column::Id.eq(id))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(txn)
            .await?;
        let entry = Audit {
            merchant_id: Some(owner.merchant_id),
            action: "api_key.revoke",
            subject: Some(format!("api-key:{id}")),
            details: json!({ "name": key.name, "prefix": key.prefix }),
        };
        // Trusted nowhere any longer: elsewhere through the bus, here below.
        let revoked = crate::events::Event::KeysRevoked { key_ids: vec![id] };
        Ok(Change::done(Ok(api_key::Model {
            revoked_at: Some(now),
            ..key
        }))
        .audited(entry)
        .publishing([revoked]))
    })
    .await?;
    d.auth_cache.end_keys(&[id]);
    Ok(done)
}

/// Writes a key's last use (called at most once a minute per key). A failure
/// is logged, never the request's.
pub async fn record_use(d: &Deps, key_id: i64, now: DateTime<Utc>) {
    let written = api_key::Entity::update_many()
        .col_expr(api_key::Column::LastUsedAt, Expr::value(Some(now)))
        .filter(api_key::Column::Id.eq(key_id))
        .exec(&d.db)
        .await;
    if let Err(e) = written {
        tracing::warn!(key = key_id, error = %e, "recording an API key's last use failed");
    }
}
