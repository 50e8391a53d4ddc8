//! GraphQL: login, logout, changePassword.

use super::service;
use crate::accounts::graphql::User;
use crate::error::{AppError, UserError};
use crate::graphql::scalars::DateTime;
use crate::graphql::{actor, client_ip, deps};
use async_graphql::{Context, ErrorExtensions, Object, Result, ResultExt, SimpleObject};

/// Result of login.
#[derive(SimpleObject, Default)]
pub struct LoginPayload {
    /// Send it as `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// When the session ends at the latest; it also ends after 15 idle minutes.
    pub expires_at: Option<DateTime>,
    /// The signed-in user; null when errors is not empty.
    pub user: Option<User>,
    /// WRONG_CREDENTIALS or LOCKED; empty on success.
    pub errors: Vec<UserError>,
}

/// Result of changePassword.
#[derive(SimpleObject)]
pub struct ChangePasswordPayload {
    /// true when the password was changed (the caller's other sessions are ended).
    pub ok: bool,
    /// WRONG_PASSWORD, WEAK_PASSWORD or LOCKED; empty on success.
    pub errors: Vec<UserError>,
}

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Exchanges login and password for a session token (Authorization: Bearer <token>).
    async fn login(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's login (e.g. owner@demo).")] login: String,
        #[graphql(desc = "The user's password.")] password: String,
    ) -> Result<LoginPayload> {
        let d = deps(ctx)?;
        if d.limits.login.check_key(&client_ip(ctx)).is_err() {
            return Err(AppError::RateLimited.extend());
        }
        Ok(match service::login(d, &login, &password).await.extend()? {
            Ok(s) => LoginPayload {
                token: Some(s.token),
                expires_at: Some(s.expires_at.into()),
                user: Some(s.user.try_into()?),
                errors: vec![],
            },
            Err(e) => LoginPayload {
                errors: vec![e],
                ..Default::default()
            },
        })
    }

    /// Ends the current session.
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool> {
        service::logout(deps(ctx)?, actor(ctx)?).await.extend()?;
        Ok(true)
    }

    /// Changes the caller's password; the user's other sessions end.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The current password (a wrong one counts toward the lockout).")]
        old_password: String,
        #[graphql(
            desc = "At least 12 characters with letters and digits; not the login, not a common password, not one of the last 4."
        )]
        new_password: String,
    ) -> Result<ChangePasswordPayload> {
        let d = deps(ctx)?;
        // The same per-client limit as `login`: a wrong old password is a
        // guess like any other.
        if d.limits.login.check_key(&client_ip(ctx)).is_err() {
            return Err(AppError::RateLimited.extend());
        }
        let outcome = service::change_password(d, actor(ctx)?, &old_password, &new_password)
            .await
            .extend()?;
        Ok(match outcome {
            Ok(_ended) => ChangePasswordPayload {
                ok: true,
                errors: vec![],
            },
            Err(e) => ChangePasswordPayload {
                ok: false,
                errors: vec![e],
            },
        })
    }
}
