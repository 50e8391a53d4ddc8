//! GraphQL: login, logout, changePassword, and self-service API keys.

use super::service;
use crate::accounts::graphql::User;
use crate::error::{AppError, UserError};
use crate::graphql::context::{actor, client_ip, deps};
use crate::graphql::scalars::DateTime;
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
        #[graphql(
            desc = "The current one-time code, for a user with two-factor sign-in on (or one of their recovery codes)."
        )]
        totp: Option<String>,
    ) -> Result<LoginPayload> {
        let d = deps(ctx)?;
        if d.limits.login.check_key(&client_ip(ctx)).is_err() {
            return Err(AppError::RateLimited.extend());
        }
        Ok(
            match service::login(d, &login, &password, totp.as_deref())
                .await
                .extend()?
            {
                Ok(s) => LoginPayload {
                    token: Some(s.token.into_inner()),
                    expires_at: Some(s.expires_at.into()),
                    user: Some(s.user.into()),
                    errors: vec![],
                },
                Err(e) => LoginPayload {
                    errors: vec![e],
                    ..Default::default()
                },
            },
        )
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

/// An API key of the merchant (MERCHANT scope), as its owners see it: never the key itself.
pub struct ApiKey(pub entity::api_key::Model);

/// An API key of the merchant (MERCHANT scope), as its owners see it: never the key itself.
#[Object]
impl ApiKey {
    /// The key's id (for revokeApiKey).
    async fn id(&self) -> async_graphql::ID {
        self.0.id.to_string().into()
    }
    /// A name the owner gives the key, e.g. "shop backend".
    async fn name(&self) -> &str {
        self.0.name.as_deref().unwrap_or("")
    }
    /// What the key may do.
    async fn scope(&self) -> super::model::Scope {
        self.0.scope
    }
    /// The first characters of the key, enough to recognise it; never the whole key.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }
    /// When it was made.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    /// Who made it (null for keys made on the command line).
    async fn created_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        use crate::accounts::loader::UserLoader;
        use async_graphql::dataloader::DataLoader;
        let (Some(id), Some(merchant)) = (self.0.created_by, self.0.merchant_id) else {
            return Ok(None);
        };
        match ctx
            .data::<DataLoader<UserLoader>>()?
            .load_one((merchant, id))
            .await
            .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")).extend())?
        {
            Some(u) => Ok(Some(u.into())),
            None => Ok(None),
        }
    }
    /// The last request made with it, to the minute; null when never used.
    async fn last_used_at(&self) -> Option<DateTime> {
        self.0.last_used_at.map(Into::into)
    }
    /// When it was revoked; null while it works.
    async fn revoked_at(&self) -> Option<DateTime> {
        self.0.revoked_at.map(Into::into)
    }
}

/// A new API key's name.
#[derive(async_graphql::InputObject)]
pub struct CreateApiKeyInput {
    /// A name to recognise it by, 1 to 100 characters.
    pub name: String,
}

/// Result of createApiKey.
#[derive(SimpleObject, Default)]
pub struct CreateApiKeyPayload {
    /// The new key's record.
    pub api_key: Option<ApiKey>,
    /// The whole key: shown here once, stored only as a hash.
    pub key: Option<String>,
    /// INVALID (name); empty on success.
    pub errors: Vec<UserError>,
}

/// Result of revokeApiKey.
#[derive(SimpleObject, Default)]
pub struct RevokeApiKeyPayload {
    /// The key, now revoked.
    pub api_key: Option<ApiKey>,
    /// NOT_FOUND; empty on success.
    pub errors: Vec<UserError>,
}

#[derive(Default)]
pub struct ApiKeysQuery;

#[Object]
impl ApiKeysQuery {
    /// The merchant's API keys (MERCHANT scope), revoked ones included. OWNER only.
    async fn api_keys(&self, ctx: &Context<'_>) -> Result<Vec<ApiKey>> {
        Ok(super::keys::list(deps(ctx)?, actor(ctx)?)
            .await
            .extend()?
            .into_iter()
            .map(ApiKey)
            .collect())
    }
}

#[derive(Default)]
pub struct ApiKeysMutation;

#[Object]
impl ApiKeysMutation {
    /// Makes an API key (MERCHANT scope) for the caller's merchant; the key is shown once. OWNER only.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key's name.")] input: CreateApiKeyInput,
    ) -> Result<CreateApiKeyPayload> {
        Ok(
            match super::keys::create(deps(ctx)?, actor(ctx)?, &input.name)
                .await
                .extend()?
            {
                Ok((row, key)) => CreateApiKeyPayload {
                    api_key: Some(ApiKey(row)),
                    key: Some(key),
                    errors: vec![],
                },
                Err(e) => CreateApiKeyPayload {
                    errors: vec![e],
                    ..Default::default()
                },
            },
        )
    }

    /// Revokes an API key at once. OWNER only.
    async fn revoke_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key's id.")] id: async_graphql::ID,
    ) -> Result<RevokeApiKeyPayload> {
        Ok(
            match super::keys::revoke(deps(ctx)?, actor(ctx)?, &id)
                .await
                .extend()?
            {
                Ok(row) => RevokeApiKeyPayload {
                    api_key: Some(ApiKey(row)),
                    errors: vec![],
                },
                Err(e) => RevokeApiKeyPayload {
                    errors: vec![e],
                    ..Default::default()
                },
            },
        )
    }
}

/// Result of enrollTotp.
#[derive(SimpleObject, Default)]
pub struct EnrollTotpPayload {
    /// Base32 secret, for typing into an authenticator by hand.
    pub secret: Option<String>,
    /// otpauth:// URI, for a QR code.
    pub otpauth_uri: Option<String>,
    /// INVALID_TRANSITION when two-factor sign-in is on already.
    pub errors: Vec<UserError>,
}

/// Result of confirmTotp.
#[derive(SimpleObject, Default)]
pub struct ConfirmTotpPayload {
    /// The user, now with two-factor sign-in on.
    pub user: Option<User>,
    /// One-time recovery codes, each usable once in place of a code; shown here only.
    pub recovery_codes: Vec<String>,
    /// INVALID (code) or INVALID_TRANSITION; empty on success.
    pub errors: Vec<UserError>,
}

/// Result of disableTotp.
#[derive(SimpleObject, Default)]
pub struct DisableTotpPayload {
    /// The user, now without two-factor sign-in.
    pub user: Option<User>,
    /// WRONG_PASSWORD; empty on success.
    pub errors: Vec<UserError>,
}

#[derive(Default)]
pub struct TotpMutation;

#[Object]
impl TotpMutation {
    /// Starts two-factor sign-in (TOTP, RFC 6238) for the signed-in user; on only after confirmTotp.
    async fn enroll_totp(&self, ctx: &Context<'_>) -> Result<EnrollTotpPayload> {
        Ok(
            match super::totp::enroll(deps(ctx)?, actor(ctx)?)
                .await
                .extend()?
            {
                Ok((secret, uri)) => EnrollTotpPayload {
                    secret: Some(secret),
                    otpauth_uri: Some(uri),
                    errors: vec![],
                },
                Err(e) => EnrollTotpPayload {
                    errors: vec![e],
                    ..Default::default()
                },
            },
        )
    }

    /// Turns two-factor sign-in on with a current code; answers the recovery codes once.
    async fn confirm_totp(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The code the authenticator shows now.")] code: String,
    ) -> Result<ConfirmTotpPayload> {
        Ok(
            match super::totp::confirm(deps(ctx)?, actor(ctx)?, &code)
                .await
                .extend()?
            {
                Ok((user, codes)) => ConfirmTotpPayload {
                    user: Some(user.into()),
                    recovery_codes: codes,
                    errors: vec![],
                },
                Err(e) => ConfirmTotpPayload {
                    errors: vec![e],
                    ..Default::default()
                },
            },
        )
    }

    /// Turns two-factor sign-in off (the password again).
    async fn disable_totp(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's password.")] password: String,
    ) -> Result<DisableTotpPayload> {
        Ok(
            match super::totp::disable(deps(ctx)?, actor(ctx)?, &password)
                .await
                .extend()?
            {
                Ok(user) => DisableTotpPayload {
                    user: Some(user.into()),
                    errors: vec![],
                },
                Err(e) => DisableTotpPayload {
                    errors: vec![e],
                    ..Default::default()
                },
            },
        )
    }
}
