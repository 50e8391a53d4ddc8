//! GraphQL: the signed-in user, the merchant, users, profile and audit log.

use super::loader::UserLoader;
use super::service::{self, NewUser, AUDIT_CURSOR};
use crate::auth::model::{Language, Role};
use crate::error::{AppError, UserError};
use crate::graphql::common::PageInfo;
use crate::graphql::context::{actor, deps};
use crate::graphql::scalars::DateTime;
use crate::pagination;
use async_graphql::dataloader::DataLoader;
use async_graphql::{
    ComplexObject, Context, ErrorExtensions, InputObject, Object, Result, ResultExt, SimpleObject,
    ID,
};
use entity::{audit_entry, merchant, user};

/// A user account of the merchant.
#[derive(SimpleObject, Clone)]
pub struct User {
    /// The user's id.
    pub id: ID,
    /// The user's login.
    pub login: String,
    /// What the user may do.
    pub role: Role,
    /// The user's interface language.
    pub language: Language,
    /// A disabled user cannot sign in.
    pub disabled: bool,
    /// When the user was created.
    pub created_at: DateTime,
    /// The last successful sign-in; null if never.
    pub last_login_at: Option<DateTime>,
    /// Two-factor sign-in (TOTP) is on for this user.
    pub totp_enabled: bool,
}

impl From<user::Model> for User {
    fn from(u: user::Model) -> Self {
        User {
            id: ID(u.id.to_string()),
            login: u.login,
            role: u.role,
            language: u.language,
            disabled: u.disabled,
            created_at: u.created_at.into(),
            last_login_at: u.last_login_at.map(Into::into),
            totp_enabled: u.totp_enabled,
        }
    }
}

/// The merchant (client) the caller belongs to.
#[derive(SimpleObject)]
pub struct Merchant {
    /// The merchant's id.
    pub id: ID,
    /// The merchant's name, as payers see it in the plugin.
    pub name: String,
    /// IANA time zone; `Date` values are days in this zone.
    pub timezone: String,
    /// Whether numbers the payment system has not reported yet wait for it (set by the platform).
    pub delayed_auto_activation: bool,
}

impl From<merchant::Model> for Merchant {
    fn from(m: merchant::Model) -> Self {
        Merchant {
            id: ID(m.id.to_string()),
            name: m.name,
            timezone: m.timezone,
            delayed_auto_activation: m.delayed_auto_activation,
        }
    }
}

/// Who did what.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct AuditEntry {
    /// The entry's id.
    pub id: ID,
    /// When the action happened.
    pub at: DateTime,
    /// What was done, e.g. "withdrawal.create" or "settings.update".
    pub action: String,
    /// What was acted on, e.g. "withdrawal:42".
    pub subject: Option<String>,
    /// A short JSON document with the details.
    pub details: Option<String>,
    #[graphql(skip)]
    pub user_id: Option<i64>,
    #[graphql(skip)]
    pub merchant_id: i64,
}

#[ComplexObject]
impl AuditEntry {
    /// Null for actions by the platform or the plugin.
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(id) = self.user_id else {
            return Ok(None);
        };
        let loader = ctx.data::<DataLoader<UserLoader>>()?;
        match loader.load_one((self.merchant_id, id)).await {
            Ok(Some(u)) => Ok(Some(u.into())),
            Ok(None) => Ok(None),
            Err(e) => Err(AppError::Internal(anyhow::anyhow!(e.to_string())).extend()),
        }
    }
}

impl From<audit_entry::Model> for AuditEntry {
    fn from(a: audit_entry::Model) -> Self {
        AuditEntry {
            id: ID(a.id.to_string()),
            at: a.at.into(),
            action: a.action,
            subject: a.subject,
            details: a.details,
            user_id: a.user_id,
            merchant_id: a.merchant_id.unwrap_or_default(),
        }
    }
}

/// An audit entry with its cursor.
#[derive(SimpleObject)]
pub struct AuditEntryEdge {
    /// Opaque: pass it as after to continue from here.
    pub cursor: String,
    /// The entry.
    pub node: AuditEntry,
}

/// A page of audit entries, newest first.
#[derive(SimpleObject)]
pub struct AuditEntryConnection {
    /// The entries with their cursors.
    pub edges: Vec<AuditEntryEdge>,
    /// The entries (the same as edges' nodes).
    pub nodes: Vec<AuditEntry>,
    /// Where this page stands.
    pub page_info: PageInfo,
}

/// The signed-in user's own settings.
#[derive(SimpleObject)]
pub struct ProfileSettings {
    /// The user's login (not changeable).
    pub login: String,
    /// The interface language.
    pub language: Language,
}

/// Result of createUser.
#[derive(SimpleObject)]
pub struct CreateUserPayload {
    /// The new user; null when errors is not empty.
    pub user: Option<User>,
    /// What was wrong with the input (DUPLICATE login, WEAK_PASSWORD, …).
    pub errors: Vec<UserError>,
}

/// Result of setUserDisabled.
#[derive(SimpleObject)]
pub struct SetUserDisabledPayload {
    /// The user as it stands now; null when errors is not empty.
    pub user: Option<User>,
    /// NOT_FOUND, or INVALID for the caller itself; empty on success.
    pub errors: Vec<UserError>,
}

/// Result of updateProfile.
#[derive(SimpleObject)]
pub struct UpdateProfilePayload {
    /// The profile as it stands now.
    pub profile: Option<ProfileSettings>,
    /// What was wrong with the input.
    pub errors: Vec<UserError>,
}

/// A new user of the caller's merchant.
#[derive(InputObject)]
pub struct CreateUserInput {
    /// Unique login (e.g. an e-mail address), 3 to 128 characters.
    pub login: String,
    /// At least 12 characters with letters and digits; not the login, not a common password.
    pub password: String,
    /// OWNER, OPERATOR or VIEWER.
    pub role: Role,
    /// Interface language; EN when left out.
    pub language: Option<Language>,
}

/// What to change in the caller's own profile.
#[derive(InputObject)]
pub struct UpdateProfileInput {
    /// The interface language.
    pub language: Option<Language>,
}

#[derive(Default)]
pub struct AccountsQuery;

#[Object]
impl AccountsQuery {
    /// The signed-in user. Needs a user session.
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        service::me(deps(ctx)?, actor(ctx)?)
            .await
            .extend()
            .map(Into::into)
    }

    /// The merchant (client) of the signed-in user.
    async fn merchant(&self, ctx: &Context<'_>) -> Result<Merchant> {
        Ok(service::merchant(deps(ctx)?, actor(ctx)?)
            .await
            .extend()?
            .into())
    }

    /// The merchant's user accounts. OWNER only.
    async fn users(&self, ctx: &Context<'_>) -> Result<Vec<User>> {
        service::users(deps(ctx)?, actor(ctx)?)
            .await
            .extend()
            .map(|users| users.into_iter().map(Into::into).collect())
    }

    /// Who did what, newest first; filtered by user, action and time. OWNER only.
    #[graphql(complexity = "crate::graphql::limits::page_cost(first, None, child_complexity)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size: default 50, at most 500.")] first: Option<i32>,
        #[graphql(desc = "The endCursor of the previous page.")] after: Option<String>,
        #[graphql(desc = "Which entries; all when left out. Keep it the same from page to page.")]
        filter: Option<AuditLogFilter>,
    ) -> Result<AuditEntryConnection> {
        let f = filter.unwrap_or_default();
        let user_id = match f.user_id {
            None => None,
            Some(id) => Some(id.trim().parse::<i64>().map_err(|_| {
                crate::error::AppError::InvalidField(
                    vec!["filter".into(), "userId".into()],
                    "not a user id".into(),
                )
                .extend()
            })?),
        };
        let filter = service::AuditFilter {
            user_id,
            action: f.action,
            at: f.at.into(),
        };
        let page = service::audit_log(deps(ctx)?, actor(ctx)?, &filter, first, after.as_deref())
            .await
            .extend()?;
        let edges: Vec<AuditEntryEdge> = page
            .entries
            .into_iter()
            .map(|a| AuditEntryEdge {
                cursor: pagination::encode(AUDIT_CURSOR, &a.id.to_string()),
                node: a.into(),
            })
            .collect();
        let nodes = edges.iter().map(|e| e.node.clone()).collect();
        Ok(AuditEntryConnection {
            page_info: PageInfo::of(
                edges.iter().map(|e| &e.cursor),
                page.has_next,
                page.has_previous,
            ),
            nodes,
            edges,
        })
    }
}

#[derive(Default)]
pub struct AccountsMutation;

#[Object]
impl AccountsMutation {
    /// Creates a user of the caller's merchant. OWNER only.
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new user's login, password, role and language.")]
        input: CreateUserInput,
    ) -> Result<CreateUserPayload> {
        // Logins are unique across merchants (sign-in takes only login and
        // password), so `DUPLICATE` tells an owner a login exists somewhere:
        // the sign-in limit per client keeps that from becoming a fast probe.
        if deps(ctx)?
            .limits
            .login
            .check_key(&crate::graphql::context::client_ip(ctx))
            .is_err()
        {
            return Err(AppError::RateLimited.extend());
        }
        let outcome = service::create_user(
            deps(ctx)?,
            actor(ctx)?,
            None,
            NewUser {
                login: input.login,
                password: input.password,
                role: input.role,
                language: input.language,
            },
        )
        .await
        .extend()?;
        Ok(match outcome {
            Ok(u) => CreateUserPayload {
                user: Some(u.into()),
                errors: vec![],
            },
            Err(e) => CreateUserPayload {
                user: None,
                errors: vec![e],
            },
        })
    }

    /// Disables (and signs out) or re-enables a user. OWNER only.
    async fn set_user_disabled(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id (of the caller's merchant).")] id: ID,
        #[graphql(desc = "true disables the user and ends its sessions; false enables it again.")]
        disabled: bool,
    ) -> Result<SetUserDisabledPayload> {
        let outcome = service::set_user_disabled(deps(ctx)?, actor(ctx)?, &id, disabled)
            .await
            .extend()?;
        Ok(match outcome {
            Ok((u, _ended)) => SetUserDisabledPayload {
                user: Some(u.into()),
                errors: vec![],
            },
            Err(e) => SetUserDisabledPayload {
                user: None,
                errors: vec![e],
            },
        })
    }

    /// Changes the caller's own profile. Any role.
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change in the caller's own profile.")] input: UpdateProfileInput,
    ) -> Result<UpdateProfilePayload> {
        let u = service::update_profile(deps(ctx)?, actor(ctx)?, input.language)
            .await
            .extend()?;
        let u: User = u.into();
        Ok(UpdateProfilePayload {
            profile: Some(ProfileSettings {
                login: u.login,
                language: u.language,
            }),
            errors: vec![],
        })
    }
}

/// Which audit entries; every field given must match.
#[derive(async_graphql::InputObject, Default)]
pub struct AuditLogFilter {
    /// Entries of this user.
    pub user_id: Option<async_graphql::ID>,
    /// Exact action name, e.g. "createWithdrawal".
    pub action: Option<String>,
    /// When: from (inclusive) to (exclusive).
    pub at: Option<crate::graphql::common::TimeRange>,
}
