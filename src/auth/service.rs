//! Sign-in, sessions, password changes and API keys.

use super::model::{Actor, KeyActor, Scope, UserActor};
use super::{password, tokens};
use crate::audit::Audit;
use crate::db::{begin_write, write, Change};
use crate::deps::Deps;
use crate::error::{AppError, AppResult, ErrorCode, UserError};
use chrono::{DateTime, TimeDelta, Utc};
use entity::{api_key, login_failure, merchant, password_history, session, user};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::json;

/// Failed logins in a row that lock the login.
pub const MAX_FAILURES: i32 = 6;
/// How long a locked login stays locked.
pub const LOCK_FOR: TimeDelta = TimeDelta::minutes(30);
/// Passwords a user may not reuse, counting the current one.
pub const PASSWORD_HISTORY: u64 = 4;
/// A session's `last_seen_at` is written at most this often, so reads stay reads.
const TOUCH_EVERY: TimeDelta = TimeDelta::seconds(5);

fn delta(d: std::time::Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// A successful sign-in.
#[derive(Debug)]
pub struct SignedIn {
    /// The bearer token; shown once, stored only as a hash.
    pub token: entity::Secret,
    pub expires_at: DateTime<Utc>,
    pub user: user::Model,
}

/// Normalises a login the way it is stored.
pub fn normalize_login(login: &str) -> String {
    login.trim().to_lowercase()
}

/// Exchanges login and password for a session. Unknown login and wrong
/// password answer alike (`WRONG_CREDENTIALS`) after the same argon2 work.
/// Each attempt is counted in the database *before* the password is checked
/// (`reserve_attempt`), so however many arrive together, at most
/// `MAX_FAILURES` in a row are ever checked against the hash; the sixth
/// failure locks the login for 30 minutes (`LOCKED`, even with the right
/// password), on every instance.
#[tracing::instrument(skip(d, password))]
pub async fn login(
    d: &Deps,
    login: &str,
    password: &str,
    totp: Option<&str>,
) -> AppResult<Result<SignedIn, UserError>> {
    // No login is over 64 characters and no password over 256: longer ones
    // are refused before any database or argon2 work.
    if login.chars().count() > 64 {
        return Ok(Err(UserError::new(
            &["login"],
            ErrorCode::Invalid,
            "a login has at most 64 characters",
        )));
    }
    if password.chars().count() > 256 {
        return Ok(Err(UserError::new(
            &["password"],
            ErrorCode::Invalid,
            "a password has at most 256 characters",
        )));
    }
    let key = normalize_login(login);
    // The verification slot first: a request turned away for load must not
    // count as a failed attempt.
    let permit = password::permit(&d.argon2).await?;
    let now = d.clock.now();
    if let Attempt::Locked = reserve_attempt(d, &key, now).await? {
        return Ok(Err(locked()));
    }
    let found = user::Entity::find()
        .filter(user::Column::Login.eq(key.clone()))
        .one(&d.db)
        .await?;
    let phc = found
        .as_ref()
        .map(|u| u.password_hash.expose().to_string())
        .unwrap_or_else(|| password::dummy_hash().to_string());
    d.password_checks
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let matches = password::verify_with(permit, phc, password.to_string()).await;
    let user = match found {
        Some(u) if matches && !u.disabled => u,
        _ => {
            return Ok(Err(if record_failure(d, &key, now).await? {
                locked()
            } else {
                UserError::new(&[], ErrorCode::WrongCredentials, "wrong login or password")
            }));
        }
    };
    // The second factor: without a code, no token (the attempt stays
    // counted until a sign-in completes); a wrong or used code is a failed
    // sign-in like a wrong password.
    if user.totp_enabled {
        let Some(code) = totp
            .map(str::trim)
            .filter(|c| !c.is_empty() && c.len() <= 64)
        else {
            return Ok(Err(UserError::new(
                &["totp"],
                ErrorCode::TotpRequired,
                "two-factor sign-in is on: send the current code (or a recovery code) as totp",
            )));
        };
        if !super::totp::second_factor(d, &user, code, now).await? {
            return Ok(Err(if record_failure(d, &key, now).await? {
                locked()
            } else {
                UserError::new(&["totp"], ErrorCode::WrongCredentials, "wrong or used code")
            }));
        }
    }

    let token = tokens::generate(tokens::SESSION_PREFIX);
    let expires_at = now + delta(d.config.session_max);
    let user = write(d, &Actor::Anonymous, async |txn, now| {
        login_failure::Entity::delete_by_id(key.clone())
            .exec(txn)
            .await?;
        let session = session::ActiveModel {
            user_id: Set(user.id),
            merchant_id: Set(user.merchant_id),
            token_hash: Set(tokens::digest(&token)),
            created_at: Set(now),
            last_seen_at: Set(now),
            expires_at: Set(expires_at),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        let mut active: user::ActiveModel = user.into();
        active.last_login_at = Set(Some(now));
        let user = active.update(txn).await?;
        // audited as the session it opens
        let actor = Actor::User(UserActor {
            user_id: user.id,
            merchant_id: user.merchant_id,
            role: user.role,
            session_id: session.id,
        });
        let entry = Audit {
            merchant_id: Some(user.merchant_id),
            action: "auth.login",
            subject: Some(format!("user:{}", user.id)),
            details: json!({ "session": session.id }),
        };
        Ok(Change::done(user).audited_as(actor, entry))
    })
    .await?;
    Ok(Ok(SignedIn {
        token: token.into(),
        expires_at,
        user,
    }))
}

fn locked() -> UserError {
    UserError::new(
        &[],
        ErrorCode::Locked,
        "too many failed sign-ins: this login is locked for 30 minutes",
    )
}

/// Whether a password check may go ahead for a login.
enum Attempt {
    /// Counted; the password may be checked.
    Go,
    /// Locked, or as many attempts as allowed are already being checked.
    Locked,
}

/// Counts one attempt for `key` in one database step (a row lock on
/// PostgreSQL, the single writer on SQLite): an expired lock is cleared, the
/// count goes up, and an attempt beyond `MAX_FAILURES` locks the login at
/// once without being checked. A success deletes the row again.
async fn reserve_attempt(d: &Deps, key: &str, now: DateTime<Utc>) -> AppResult<Attempt> {
    let txn = begin_write(&d.db).await?;
    crate::db::lock_keys(&txn, &[format!("login:{key}")]).await?;
    let row = login_failure::Entity::find_by_id(key.to_string())
        .one(&txn)
        .await?;
    let (mut failures, mut locked_until) = row
        .as_ref()
        .map(|r| (r.failures, r.locked_until))
        .unwrap_or((0, None));
    if locked_until.is_some_and(|until| until > now) {
        txn.commit().await?;
        return Ok(Attempt::Locked);
    }
    if locked_until.is_some() {
        // the lock ran out: a fresh start
        failures = 0;
        locked_until = None;
    }
    failures += 1;
    let over = failures > MAX_FAILURES;
    if over {
        locked_until = Some(now + LOCK_FOR);
        tracing::warn!(login = key, "login locked: too many attempts at once");
    }
    let active = login_failure::ActiveModel {
        login: Set(key.to_string()),
        failures: Set(failures),
        locked_until: Set(locked_until),
        updated_at: Set(now),
    };
    if row.is_some() {
        active.update(&txn).await?;
    } else {
        active.insert(&txn).await?;
    }
    txn.commit().await?;
    Ok(if over { Attempt::Locked } else { Attempt::Go })
}

/// Records that a reserved attempt failed; returns whether the login is now
/// locked (the attempt that reached `MAX_FAILURES` in a row locks it).
async fn record_failure(d: &Deps, key: &str, now: DateTime<Utc>) -> AppResult<bool> {
    let txn = begin_write(&d.db).await?;
    crate::db::lock_keys(&txn, &[format!("login:{key}")]).await?;
    let Some(row) = login_failure::Entity::find_by_id(key.to_string())
        .one(&txn)
        .await?
    else {
        // a concurrent success cleared the count; this failure starts a new one
        login_failure::ActiveModel {
            login: Set(key.to_string()),
            failures: Set(1),
            locked_until: Set(None),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        return Ok(false);
    };
    if row.locked_until.is_some_and(|until| until > now) {
        txn.commit().await?;
        return Ok(true);
    }
    let lock = row.failures >= MAX_FAILURES;
    if lock {
        login_failure::Entity::update_many()
            .col_expr(
                login_failure::Column::LockedUntil,
                Expr::value(Some(now + LOCK_FOR)),
            )
            .col_expr(login_failure::Column::UpdatedAt, Expr::value(now))
            .filter(login_failure::Column::Login.eq(key))
            .exec(&txn)
            .await?;
        tracing::warn!(login = key, "login locked after repeated failures");
    }
    txn.commit().await?;
    Ok(lock)
}

/// Deletes failure counts whose window has passed (no lock in force and no
/// attempt for `LOCK_FOR`), so junk logins leave nothing behind for long.
pub async fn purge_login_failures(d: &Deps) -> AppResult<u64> {
    use login_failure::Column as C;
    let cutoff = d.clock.now() - LOCK_FOR;
    let now = d.clock.now();
    let gone = login_failure::Entity::delete_many()
        .filter(C::UpdatedAt.lt(cutoff))
        .filter(C::LockedUntil.is_null().or(C::LockedUntil.lt(now)))
        .exec(&d.db)
        .await?;
    Ok(gone.rows_affected)
}

/// Turns an `Authorization: Bearer …` credential into the caller. No
/// credential is `Anonymous`; an unknown, expired or revoked one is `Invalid`.
pub async fn authenticate(d: &Deps, bearer: Option<&str>) -> AppResult<Actor> {
    let Some(token) = bearer.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(Actor::Anonymous);
    };
    let now = d.clock.now();
    let digest = tokens::digest(token);
    let actor = match d.auth_cache.get(&digest, now) {
        Some(actor) => actor,
        None => {
            let ticket = d.auth_cache.ticket();
            let (actor, expires_at) = verify(d, token).await?;
            d.auth_cache
                .put(ticket, digest, actor.clone(), now, expires_at);
            actor
        }
    };
    if let Actor::Key(k) = &actor {
        if d.auth_cache.key_use_due(k.key_id, now) {
            super::keys::record_use(d, k.key_id, now).await;
        }
    }
    Ok(actor)
}

/// Looks `token` up in the database: the caller, and when it is a session
/// its absolute end.
async fn verify(d: &Deps, token: &str) -> AppResult<(Actor, Option<DateTime<Utc>>)> {
    if token.starts_with(tokens::SESSION_PREFIX) {
        return authenticate_session(d, token).await;
    }
    let actor = verify_key(d, token).await?;
    Ok((actor, None))
}

async fn verify_key(d: &Deps, token: &str) -> AppResult<Actor> {
    if token.starts_with(tokens::API_KEY_PREFIX) {
        let key = api_key::Entity::find()
            .filter(api_key::Column::KeyHash.eq(tokens::digest(token)))
            .filter(api_key::Column::RevokedAt.is_null())
            .one(&d.db)
            .await?;
        return Ok(match key {
            Some(k) => Actor::Key(KeyActor {
                key_id: k.id,
                scope: k.scope,
                merchant_id: k.merchant_id,
            }),
            None => Actor::Invalid,
        });
    }
    if token.starts_with(tokens::PLUGIN_KEY_PREFIX) {
        let merchant = merchant::Entity::find()
            .filter(merchant::Column::PluginKey.eq(token))
            .one(&d.db)
            .await?;
        return Ok(match merchant {
            Some(m) => Actor::Plugin { merchant_id: m.id },
            None => Actor::Invalid,
        });
    }
    Ok(Actor::Invalid)
}

async fn authenticate_session(d: &Deps, token: &str) -> AppResult<(Actor, Option<DateTime<Utc>>)> {
    let now = d.clock.now();
    let Some(s) = session::Entity::find()
        .filter(session::Column::TokenHash.eq(tokens::digest(token)))
        .filter(session::Column::EndedAt.is_null())
        .one(&d.db)
        .await?
    else {
        return Ok((Actor::Invalid, None));
    };
    if now >= s.expires_at || now >= s.last_seen_at + delta(d.config.session_idle) {
        end_sessions(&d.db, now, session::Column::Id.eq(s.id), "expired").await?;
        return Ok((Actor::Invalid, None));
    }
    let Some(u) = user::Entity::find_by_id(s.user_id).one(&d.db).await? else {
        return Ok((Actor::Invalid, None));
    };
    if u.disabled {
        return Ok((Actor::Invalid, None));
    }
    // (a cached session is trusted for less than this, so every touch due
    // still reaches the database)
    let touched = now - s.last_seen_at >= TOUCH_EVERY;
    if touched {
        session::Entity::update_many()
            .col_expr(session::Column::LastSeenAt, Expr::value(now))
            .filter(session::Column::Id.eq(s.id))
            .exec(&d.db)
            .await?;
    }
    Ok((
        Actor::User(UserActor {
            user_id: u.id,
            merchant_id: u.merchant_id,
            role: u.role,
            session_id: s.id,
        }),
        Some(std::cmp::min(
            s.expires_at,
            if touched { now } else { s.last_seen_at } + delta(d.config.session_idle),
        )),
    ))
}

/// Whether a session is still open (no touch: an open subscription is not activity).
pub async fn session_alive(d: &Deps, session_id: i64) -> AppResult<bool> {
    let now = d.clock.now();
    Ok(session::Entity::find_by_id(session_id)
        .filter(session::Column::EndedAt.is_null())
        .one(&d.db)
        .await?
        .is_some_and(|s| now < s.expires_at && now < s.last_seen_at + delta(d.config.session_idle)))
}

/// Ends every open session matching `which`; returns their ids.
pub async fn end_sessions(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    which: sea_orm::sea_query::SimpleExpr,
    reason: &str,
) -> AppResult<Vec<i64>> {
    let ids: Vec<i64> = session::Entity::find()
        .select_only()
        .column(session::Column::Id)
        .filter(which)
        .filter(session::Column::EndedAt.is_null())
        .into_tuple()
        .all(conn)
        .await?;
    if !ids.is_empty() {
        session::Entity::update_many()
            .col_expr(session::Column::EndedAt, Expr::value(Some(now)))
            .col_expr(
                session::Column::EndReason,
                Expr::value(Some(reason.to_string())),
            )
            .filter(session::Column::Id.is_in(ids.clone()))
            .exec(conn)
            .await?;
    }
    Ok(ids)
}

/// Ends the caller's session.
#[tracing::instrument(skip(d))]
pub async fn logout(d: &Deps, actor: &Actor) -> AppResult<()> {
    let me = actor.user()?;
    let ended = crate::events::Event::SessionsEnded {
        session_ids: vec![me.session_id],
    };
    write(d, actor, async |txn, now| {
        end_sessions(txn, now, session::Column::Id.eq(me.session_id), "logout").await?;
        let entry = Audit {
            merchant_id: Some(me.merchant_id),
            action: "auth.logout",
            subject: Some(format!("user:{}", me.user_id)),
            details: json!({ "session": me.session_id }),
        };
        Ok(Change::done(()).audited(entry).publishing([ended]))
    })
    .await?;
    d.auth_cache.end_sessions(&[me.session_id]);
    Ok(())
}

/// Checks a new password against the policy and the user's recent passwords.
pub async fn check_new_password(
    d: &Deps,
    user_id: Option<i64>,
    login: &str,
    new_password: &str,
    field: &[&str],
) -> AppResult<Result<(), UserError>> {
    if let Err(reason) = password::check_policy(new_password, login) {
        return Ok(Err(UserError::new(field, ErrorCode::WeakPassword, reason)));
    }
    if let Some(user_id) = user_id {
        let recent: Vec<String> = password_history::Entity::find()
            .select_only()
            .column(password_history::Column::PasswordHash)
            .filter(password_history::Column::UserId.eq(user_id))
            .order_by_desc(password_history::Column::Id)
            .limit(PASSWORD_HISTORY)
            .into_tuple()
            .all(&d.db)
            .await?;
        let candidate = new_password.to_string();
        let permit = password::permit(&d.argon2).await?;
        let reused = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            recent.iter().any(|phc| password::verify(phc, &candidate))
        })
        .await
        .map_err(anyhow::Error::new)?;
        if reused {
            return Ok(Err(UserError::new(
                field,
                ErrorCode::WeakPassword,
                "choose a password you have not used for your last 4 passwords",
            )));
        }
    }
    Ok(Ok(()))
}

/// A signed-in user's current password, checked like a sign-in: counted
/// first, refused while the login is locked, a wrong one counted toward the
/// lockout and a right one clearing the count — so a stolen session is no
/// password oracle. `field` names the input in the error.
pub(super) async fn check_current_password(
    d: &Deps,
    u: &user::Model,
    given: &str,
    field: &str,
) -> AppResult<Result<(), UserError>> {
    let permit = password::permit(&d.argon2).await?;
    let key = normalize_login(&u.login);
    let old_locked = || {
        UserError::new(
            &[field],
            ErrorCode::Locked,
            "too many failed attempts: this login is locked for 30 minutes",
        )
    };
    if let Attempt::Locked = reserve_attempt(d, &key, d.clock.now()).await? {
        return Ok(Err(old_locked()));
    }
    d.password_checks
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if !password::verify_with(
        permit,
        u.password_hash.expose().to_string(),
        given.to_string(),
    )
    .await
    {
        let locked = record_failure(d, &key, d.clock.now()).await?;
        return Ok(Err(if locked {
            old_locked()
        } else {
            UserError::new(
                &[field],
                ErrorCode::WrongPassword,
                "the current password is wrong",
            )
        }));
    }
    login_failure::Entity::delete_by_id(key).exec(&d.db).await?;
    Ok(Ok(()))
}

/// Changes the caller's own password and ends the user's other sessions.
#[tracing::instrument(skip(d, old_password, new_password))]
pub async fn change_password(
    d: &Deps,
    actor: &Actor,
    old_password: &str,
    new_password: &str,
) -> AppResult<Result<Vec<i64>, UserError>> {
    let me = actor.user()?.clone();
    let u = user::Entity::find_by_id(me.user_id)
        .one(&d.db)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    if let Err(e) = check_current_password(d, &u, old_password, "oldPassword").await? {
        return Ok(Err(e));
    }
    if let Err(e) =
        check_new_password(d, Some(u.id), &u.login, new_password, &["newPassword"]).await?
    {
        return Ok(Err(e));
    }
    let phc = password::hash_blocking(&d.argon2, new_password.to_string()).await?;
    let ended = write(d, actor, async |txn, now| {
        user::Entity::update_many()
            .col_expr(user::Column::PasswordHash, Expr::value(phc.clone()))
            .col_expr(user::Column::PasswordChangedAt, Expr::value(now))
            .filter(user::Column::Id.eq(u.id))
            .exec(txn)
            .await?;
        password_history::ActiveModel {
            user_id: Set(u.id),
            password_hash: Set(phc.into()),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        let ended = end_sessions(
            txn,
            now,
            session::Column::UserId
                .eq(u.id)
                .and(session::Column::Id.ne(me.session_id)),
            "password_changed",
        )
        .await?;
        let entry = Audit {
            merchant_id: Some(me.merchant_id),
            action: "user.change_password",
            subject: Some(format!("user:{}", u.id)),
            details: json!({ "ended_sessions": ended.len() }),
        };
        let event = crate::events::Event::SessionsEnded {
            session_ids: ended.clone(),
        };
        Ok(Change::done(ended).audited(entry).publishing([event]))
    })
    .await?;
    d.auth_cache.end_sessions(&ended);
    Ok(Ok(ended))
}

/// Creates an API key (command line only) and returns it: it is shown once
/// and stored only as a hash. MERCHANT keys need a merchant; INGEST and
/// PLATFORM keys may name one, and then act on that merchant's rows only.
pub async fn create_api_key(
    d: &Deps,
    scope: Scope,
    merchant_id: Option<i64>,
) -> AppResult<(i64, String)> {
    let key = tokens::generate(tokens::API_KEY_PREFIX);
    if scope == Scope::Merchant && merchant_id.is_none() {
        return Err(AppError::Invalid("a MERCHANT key needs --merchant".into()));
    }
    write(d, &Actor::Cli, async |txn, now| {
        if let Some(id) = merchant_id {
            if entity::merchant::Entity::find_by_id(id)
                .one(txn)
                .await?
                .is_none()
            {
                return Err(AppError::Invalid(format!("merchant {id} does not exist")));
            }
        }
        let row = api_key::ActiveModel {
            scope: Set(scope),
            merchant_id: Set(merchant_id),
            key_hash: Set(tokens::digest(&key)),
            prefix: Set(key.chars().take(10).collect()),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        let entry = Audit {
            merchant_id,
            action: "api_key.create",
            subject: Some(format!("api-key:{}", row.id)),
            details: json!({ "scope": scope.as_str() }),
        };
        Ok(Change::done((row.id, key)).audited(entry))
    })
    .await
}
