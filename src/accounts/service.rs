//! Merchants, users, profiles and the audit log.

use crate::audit::Audit;
use crate::auth::model::{Actor, Language, Role};
use crate::auth::{password, service as auth, tokens};
use crate::db::{write, Change};
use crate::deps::Deps;
use crate::error::{is_unique_violation, AppError, AppResult, ErrorCode, UserError};
use crate::pagination;
use base64::Engine;
use entity::{audit_entry, merchant, password_history, session, user};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;
use std::str::FromStr;

/// A new Standard Webhooks signing secret.
pub fn new_postback_secret() -> String {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// Checks an IANA time zone name.
pub fn valid_timezone(tz: &str) -> bool {
    chrono_tz::Tz::from_str(tz).is_ok()
}

/// Creates a merchant (command line and demo); returns it with its plugin key.
pub async fn create_merchant(
    d: &Deps,
    name: &str,
    timezone: Option<&str>,
    plugin_key: Option<String>,
) -> AppResult<merchant::Model> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::Invalid(
            "the name must be 1 to 200 characters".into(),
        ));
    }
    let timezone = timezone.unwrap_or("UTC").trim();
    if !valid_timezone(timezone) {
        return Err(AppError::Invalid(format!(
            "`{timezone}` is not an IANA time zone such as Asia/Kolkata"
        )));
    }
    write(d, &Actor::Cli, async |txn, now| {
        let m = merchant::ActiveModel {
            name: Set(name.to_string()),
            timezone: Set(timezone.to_string()),
            plugin_key: Set(
                plugin_key.unwrap_or_else(|| tokens::generate(tokens::PLUGIN_KEY_PREFIX))
            ),
            delayed_auto_activation: Set(false),
            postback_secret: Set(new_postback_secret().into()),
            after_payment_action: Set(merchant::AfterPaymentAction::ShowResult),
            theme: Set(merchant::PluginTheme::Light),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        let entry = Audit {
            merchant_id: Some(m.id),
            action: "merchant.create",
            subject: Some(format!("merchant:{}", m.id)),
            details: json!({ "name": name, "timezone": timezone }),
        };
        Ok(Change::done(m).audited(entry))
    })
    .await
}

/// The caller's merchant.
pub async fn merchant(d: &Deps, actor: &Actor) -> AppResult<merchant::Model> {
    let tenant = actor.reader()?;
    merchant::Entity::find_by_id(tenant.merchant_id)
        .one(&d.db)
        .await?
        .ok_or(AppError::NotFound)
}

/// Input of `create_user`.
pub struct NewUser {
    pub login: String,
    pub password: String,
    pub role: Role,
    pub language: Option<Language>,
}

/// Creates a user of `merchant_id`. From the API the caller must be that
/// merchant's OWNER; the command line may create users of any merchant.
#[tracing::instrument(skip(d, input), fields(login = %input.login))]
pub async fn create_user(
    d: &Deps,
    actor: &Actor,
    merchant_id: Option<i64>,
    input: NewUser,
) -> AppResult<Result<user::Model, UserError>> {
    let merchant_id = match actor {
        Actor::Cli => {
            merchant_id.ok_or_else(|| AppError::Invalid("--merchant is required".into()))?
        }
        _ => actor.user_with_role(&[Role::Owner])?.merchant_id,
    };
    let login = auth::normalize_login(&input.login);
    let login_ok = (3..=64).contains(&login.chars().count())
        && login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@+-".contains(c));
    if !login_ok {
        return Ok(Err(UserError::new(
            &["input", "login"],
            ErrorCode::Invalid,
            "a login is 3 to 64 characters: letters, digits and . _ @ + -",
        )));
    }
    if let Err(e) =
        auth::check_new_password(d, None, &login, &input.password, &["input", "password"]).await?
    {
        return Ok(Err(e));
    }
    let phc = password::hash_blocking(&d.argon2, input.password.clone()).await?;
    write(d, actor, async |txn, now| {
        if merchant::Entity::find_by_id(merchant_id)
            .one(txn)
            .await?
            .is_none()
        {
            return Err(AppError::Invalid(format!(
                "merchant {merchant_id} does not exist"
            )));
        }
        let inserted = user::ActiveModel {
            merchant_id: Set(merchant_id),
            login: Set(login.clone()),
            password_hash: Set(phc.clone().into()),
            role: Set(input.role),
            language: Set(input.language.unwrap_or(Language::En)),
            disabled: Set(false),
            created_at: Set(now),
            password_changed_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await;
        let u = match inserted {
            Ok(u) => u,
            Err(e) if is_unique_violation(&e) => {
                return Ok(Change::refused(Err(UserError::new(
                    &["input", "login"],
                    ErrorCode::Duplicate,
                    "this login is taken",
                ))))
            }
            Err(e) => return Err(e.into()),
        };
        password_history::ActiveModel {
            user_id: Set(u.id),
            password_hash: Set(phc.into()),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        let entry = Audit {
            merchant_id: Some(merchant_id),
            action: "user.create",
            subject: Some(format!("user:{}", u.id)),
            details: json!({ "login": login, "role": input.role.as_str() }),
        };
        Ok(Change::done(Ok(u)).audited(entry))
    })
    .await
}

/// The merchant's users (OWNER only).
pub async fn users(d: &Deps, actor: &Actor) -> AppResult<Vec<user::Model>> {
    let me = actor.user_with_role(&[Role::Owner])?;
    Ok(user::Entity::find()
        .filter(user::Column::MerchantId.eq(me.merchant_id))
        .order_by_asc(user::Column::Id)
        .all(&d.db)
        .await?)
}

/// A user of the caller's merchant, by id.
pub async fn user_by_id(d: &Deps, merchant_id: i64, id: i64) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find_by_id(id)
        .filter(user::Column::MerchantId.eq(merchant_id))
        .one(&d.db)
        .await?)
}

/// Disables or re-enables a user of the caller's merchant (OWNER only).
/// Disabling ends the user's sessions; returns the ended session ids too.
#[tracing::instrument(skip(d))]
pub async fn set_user_disabled(
    d: &Deps,
    actor: &Actor,
    id: &str,
    disabled: bool,
) -> AppResult<Result<(user::Model, Vec<i64>), UserError>> {
    let me = actor.user_with_role(&[Role::Owner])?.clone();
    let not_found = || UserError::new(&["id"], ErrorCode::NotFound, "no such user");
    let Ok(id) = id.parse::<i64>() else {
        return Ok(Err(not_found()));
    };
    if id == me.user_id && disabled {
        return Ok(Err(UserError::new(
            &["id"],
            ErrorCode::Invalid,
            "you cannot disable yourself",
        )));
    }
    let done = write(d, actor, async |txn, now| {
        let updated = user::Entity::update_many()
            .col_expr(user::Column::Disabled, Expr::value(disabled))
            .filter(user::Column::Id.eq(id))
            .filter(user::Column::MerchantId.eq(me.merchant_id))
            .exec(txn)
            .await?;
        if updated.rows_affected == 0 {
            return Ok(Change::refused(Err(not_found())));
        }
        let ended = if disabled {
            auth::end_sessions(txn, now, session::Column::UserId.eq(id), "user_disabled").await?
        } else {
            Vec::new()
        };
        let entry = Audit {
            merchant_id: Some(me.merchant_id),
            action: if disabled {
                "user.disable"
            } else {
                "user.enable"
            },
            subject: Some(format!("user:{id}")),
            details: json!({ "ended_sessions": ended.len() }),
        };
        let u = user::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or(AppError::NotFound)?;
        let ended_event = crate::events::Event::SessionsEnded {
            session_ids: ended.clone(),
        };
        Ok(Change::done(Ok((u, ended)))
            .audited(entry)
            .publishing([ended_event]))
    })
    .await?;
    // (the cache forgets the sessions here; the event tells other instances)
    if let Ok((_, ended)) = &done {
        d.auth_cache.end_sessions(ended);
    }
    Ok(done)
}

/// The caller's own user row.
pub async fn me(d: &Deps, actor: &Actor) -> AppResult<user::Model> {
    let me = actor.user()?;
    user::Entity::find_by_id(me.user_id)
        .filter(user::Column::MerchantId.eq(me.merchant_id))
        .one(&d.db)
        .await?
        .ok_or(AppError::Unauthenticated)
}

/// Changes the caller's own profile (any role).
pub async fn update_profile(
    d: &Deps,
    actor: &Actor,
    language: Option<Language>,
) -> AppResult<user::Model> {
    let me = actor.user()?.clone();
    write(d, actor, async |txn, _now| {
        if let Some(language) = language {
            user::Entity::update_many()
                .col_expr(user::Column::Language, Expr::value(language.as_str()))
                .filter(user::Column::Id.eq(me.user_id))
                .exec(txn)
                .await?;
        }
        let entry = Audit {
            merchant_id: Some(me.merchant_id),
            action: "user.update_profile",
            subject: Some(format!("user:{}", me.user_id)),
            details: json!({ "language": language.map(Language::as_str) }),
        };
        let u = user::Entity::find_by_id(me.user_id)
            .one(txn)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        Ok(Change::done(u).audited(entry))
    })
    .await
}

/// One page of the audit log, newest first (OWNER only).
pub struct AuditPage {
    pub entries: Vec<audit_entry::Model>,
    pub has_next: bool,
    pub has_previous: bool,
}

pub const AUDIT_CURSOR: &str = "audit";

/// Which audit entries: all fields must match; left out, they match all.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub user_id: Option<i64>,
    pub action: Option<String>,
    pub at: crate::transactions::model::Range,
}

pub async fn audit_log(
    d: &Deps,
    actor: &Actor,
    filter: &AuditFilter,
    first: Option<i32>,
    after: Option<&str>,
) -> AppResult<AuditPage> {
    use audit_entry::Column as A;
    let me = actor.user_with_role(&[Role::Owner])?;
    let size = pagination::page_size(first, "first")?;
    let mut cond = sea_orm::Condition::all();
    if let Some(user) = filter.user_id {
        cond = cond.add(A::UserId.eq(user));
    }
    if let Some(action) = &filter.action {
        cond = cond.add(A::Action.eq(action.trim()));
    }
    let cond = filter.at.narrow(cond, A::At);
    let after = after
        .map(|cursor| pagination::decode_id(AUDIT_CURSOR, cursor, "after"))
        .transpose()?;
    let (entries, has_next) = pagination::newest_first(
        d,
        pagination::find_all::<audit_entry::Entity>(
            sea_orm::ConnectionTrait::get_database_backend(&d.db),
        )
        .filter(cond),
        A::Id,
        pagination::Owner {
            column: A::MerchantId,
            id: me.merchant_id,
            plans: crate::db::Plans::Chosen,
        },
        after,
        size,
    )
    .await?;
    Ok(AuditPage {
        entries,
        has_next,
        has_previous: after.is_some(),
    })
}
