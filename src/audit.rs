//! The audit trail: every state-changing mutation writes one entry in the same
//! database transaction as its change, so an entry exists exactly when the change does.

use crate::auth::model::Actor;
use chrono::{DateTime, Utc};
use entity::audit_entry;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, Set};

/// One entry to write.
pub struct Audit<'a> {
    /// The tenant the action concerns; `None` for platform-wide actions.
    pub merchant_id: Option<i64>,
    /// A dotted verb, e.g. `user.create`, `auth.login`.
    pub action: &'a str,
    /// What was acted on, e.g. `user:42`.
    pub subject: Option<String>,
    /// A short JSON document with the details; never secrets.
    pub details: serde_json::Value,
}

/// Writes `entry` through `conn` (the caller's transaction).
pub async fn record(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    actor: &Actor,
    entry: Audit<'_>,
) -> Result<(), DbErr> {
    audit_entry::ActiveModel {
        merchant_id: Set(entry.merchant_id),
        user_id: Set(actor.audit_user()),
        actor: Set(actor.audit_name()),
        action: Set(entry.action.to_string()),
        subject: Set(entry.subject),
        details: Set(if entry.details.is_null() {
            None
        } else {
            Some(entry.details.to_string())
        }),
        at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}
