//! Two-factor sign-in (BEHAVIOUR §13): TOTP per RFC 6238 (SHA-1, 6 digits,
//! 30 s steps, one step either side) from `totp-rs`. `enrollTotp` stores a
//! new secret (shown once), `confirmTotp` turns it on with a current code
//! and hands out 10 recovery codes (stored as SHA-256, each usable once);
//! `login` then needs a code, accepted once (the step it matched is kept, and
//! only a later step is accepted next); `disableTotp` turns it off with the
//! password, and `kassa admin disable-totp` for a locked-out owner.

use super::model::Actor;
use super::tokens;
use crate::audit::Audit;
use crate::db::{write, Change};
use crate::deps::Deps;
use crate::error::{AppError, AppResult, ErrorCode, UserError};
use chrono::{DateTime, Utc};
use entity::{recovery_code, user};
use rand::Rng;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use totp_rs::{Algorithm, Secret, TOTP};

/// Seconds per step (RFC 6238's default).
pub const STEP: i64 = 30;
/// Recovery codes handed out by confirmTotp.
pub const RECOVERY_CODES: usize = 10;
const ISSUER: &str = "Kassa";

fn generator(secret: &str, account: &str) -> AppResult<TOTP> {
    let bytes = Secret::Encoded(secret.to_string())
        .to_bytes()
        .map_err(|e| {
            AppError::Internal(anyhow::anyhow!("a stored TOTP secret is not base32: {e:?}"))
        })?;
    // (the otpauth account name may not hold a colon)
    let account = account.replace(':', "_");
    TOTP::new(
        Algorithm::SHA1,
        6,
        0,
        STEP as u64,
        bytes,
        Some(ISSUER.into()),
        account,
    )
    .map_err(|e| AppError::Internal(anyhow::anyhow!("TOTP: {e:?}")))
}

/// The time step `code` is the code of, within one step of `now`.
pub fn matching_step(secret: &str, code: &str, now: DateTime<Utc>) -> AppResult<Option<i64>> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let totp = generator(secret, "user")?;
    let current = now.timestamp().div_euclid(STEP);
    for step in [current - 1, current, current + 1] {
        if step >= 0 && totp.check(code, (step * STEP) as u64) {
            return Ok(Some(step));
        }
    }
    Ok(None)
}

/// A recovery code as typed (case, spaces and dashes do not matter).
fn normalize_recovery(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn new_recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    let raw: String = (0..12)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{}-{}-{}", &raw[..4], &raw[4..8], &raw[8..])
}

/// The audit entry of a two-factor change of `user`.
fn entry(user: &user::Model, action: &'static str) -> Audit<'static> {
    Audit {
        merchant_id: Some(user.merchant_id),
        action,
        subject: Some(format!("user:{}", user.id)),
        details: json!({}),
    }
}

async fn me(d: &Deps, actor: &Actor) -> AppResult<user::Model> {
    let u = actor.user()?;
    user::Entity::find_by_id(u.user_id)
        .one(&d.db)
        .await?
        .ok_or(AppError::Unauthenticated)
}

/// A new secret for the caller (replacing one not yet confirmed): the base32
/// secret and its otpauth:// URI, shown this once.
pub async fn enroll(d: &Deps, actor: &Actor) -> AppResult<Result<(String, String), UserError>> {
    let user = me(d, actor).await?;
    if user.totp_enabled {
        return Ok(Err(UserError::new(
            &[],
            ErrorCode::InvalidTransition,
            "two-factor sign-in is on already: turn it off first",
        )));
    }
    let secret = match Secret::generate_secret().to_encoded() {
        Secret::Encoded(s) => s,
        Secret::Raw(_) => return Err(AppError::Internal(anyhow::anyhow!("TOTP secret encoding"))),
    };
    let uri = generator(&secret, &user.login)?.get_url();
    write(d, actor, async |txn, _now| {
        user::Entity::update_many()
            .col_expr(user::Column::TotpSecret, Expr::value(Some(secret.clone())))
            .col_expr(user::Column::TotpLastStep, Expr::value(Option::<i64>::None))
            .filter(user::Column::Id.eq(user.id))
            .filter(user::Column::TotpEnabled.eq(false))
            .exec(txn)
            .await?;
        let audit_entry = entry(&user, "user.totp_enroll");
        Ok(Change::done(Ok((secret, uri))).audited(audit_entry))
    })
    .await
}

/// Turns two-factor sign-in on with a current code: the user and the
/// recovery codes (shown this once).
pub async fn confirm(
    d: &Deps,
    actor: &Actor,
    code: &str,
) -> AppResult<Result<(user::Model, Vec<String>), UserError>> {
    let user = me(d, actor).await?;
    let Some(secret) = user.totp_secret.clone().filter(|_| !user.totp_enabled) else {
        return Ok(Err(UserError::new(
            &[],
            ErrorCode::InvalidTransition,
            if user.totp_enabled {
                "two-factor sign-in is on already"
            } else {
                "call enrollTotp first"
            },
        )));
    };
    let now = d.clock.now();
    let Some(step) = matching_step(secret.expose(), code, now)? else {
        return Ok(Err(UserError::new(
            &["code"],
            ErrorCode::Invalid,
            "that is not the current code of this secret",
        )));
    };
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    write(d, actor, async |txn, _now| {
        let turned_on = user::Entity::update_many()
            .col_expr(user::Column::TotpEnabled, Expr::value(true))
            .col_expr(user::Column::TotpLastStep, Expr::value(Some(step)))
            .filter(user::Column::Id.eq(user.id))
            .filter(user::Column::TotpEnabled.eq(false))
            .filter(user::Column::TotpSecret.eq(secret))
            .exec(txn)
            .await?;
        if turned_on.rows_affected != 1 {
            // (a concurrent enrolment replaced the secret, or confirmed it)
            return Ok(Change::refused(Err(UserError::new(
                &[],
                ErrorCode::InvalidTransition,
                "the secret changed meanwhile: enrol again",
            ))));
        }
        recovery_code::Entity::delete_many()
            .filter(recovery_code::Column::UserId.eq(user.id))
            .exec(txn)
            .await?;
        recovery_code::Entity::insert_many(codes.iter().map(|c| recovery_code::ActiveModel {
            user_id: Set(user.id),
            code_hash: Set(tokens::digest(&normalize_recovery(c))),
            ..Default::default()
        }))
        .exec(txn)
        .await?;
        let audit_entry = entry(&user, "user.totp_enable");
        let user = user::Model {
            totp_enabled: true,
            totp_last_step: Some(step),
            ..user
        };
        Ok(Change::done(Ok((user, codes))).audited(audit_entry))
    })
    .await
}

/// The second factor of a sign-in: a current code not used before, or an
/// unused recovery code (then used up).
pub async fn second_factor(
    d: &Deps,
    user: &user::Model,
    code: &str,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    if let Some(secret) = &user.totp_secret {
        if let Some(step) = matching_step(secret.expose(), code, now)? {
            // Accepted once: only a step after the last accepted one.
            let fresh = user::Entity::update_many()
                .col_expr(user::Column::TotpLastStep, Expr::value(Some(step)))
                .filter(user::Column::Id.eq(user.id))
                .filter(
                    user::Column::TotpLastStep
                        .is_null()
                        .or(user::Column::TotpLastStep.lt(step)),
                )
                .exec(&d.db)
                .await?;
            return Ok(fresh.rows_affected == 1);
        }
    }
    let hash = tokens::digest(&normalize_recovery(code));
    let used = recovery_code::Entity::update_many()
        .col_expr(recovery_code::Column::UsedAt, Expr::value(Some(now)))
        .filter(recovery_code::Column::UserId.eq(user.id))
        .filter(recovery_code::Column::CodeHash.eq(hash))
        .filter(recovery_code::Column::UsedAt.is_null())
        .exec(&d.db)
        .await?;
    Ok(used.rows_affected == 1)
}

/// Turns two-factor sign-in off for `user_id` (with the password checked by
/// the caller, or from the command line), dropping its recovery codes.
pub async fn turn_off(d: &Deps, actor: &Actor, user: &user::Model) -> AppResult<user::Model> {
    write(d, actor, async |txn, _now| {
        user::Entity::update_many()
            .col_expr(user::Column::TotpEnabled, Expr::value(false))
            .col_expr(
                user::Column::TotpSecret,
                Expr::value(Option::<String>::None),
            )
            .col_expr(user::Column::TotpLastStep, Expr::value(Option::<i64>::None))
            .filter(user::Column::Id.eq(user.id))
            .exec(txn)
            .await?;
        recovery_code::Entity::delete_many()
            .filter(recovery_code::Column::UserId.eq(user.id))
            .exec(txn)
            .await?;
        let audit_entry = entry(user, "user.totp_disable");
        Ok(Change::done(user::Model {
            totp_enabled: false,
            totp_secret: None,
            totp_last_step: None,
            ..user.clone()
        })
        .audited(audit_entry))
    })
    .await
}

/// disableTotp: the caller's password, then off.
pub async fn disable(
    d: &Deps,
    actor: &Actor,
    password: &str,
) -> AppResult<Result<user::Model, UserError>> {
    let user = me(d, actor).await?;
    if password.chars().count() > 256 {
        return Ok(Err(UserError::new(
            &["password"],
            ErrorCode::WrongPassword,
            "wrong password",
        )));
    }
    // checked like a sign-in: a wrong one counts toward the lockout
    if let Err(e) = super::service::check_current_password(d, &user, password, "password").await? {
        return Ok(Err(e));
    }
    Ok(Ok(turn_off(d, actor, &user).await?))
}
