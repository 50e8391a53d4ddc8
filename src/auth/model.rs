//! Who is calling: roles, key scopes and the `Actor` every service receives.

use crate::error::AppError;

pub use entity::api_key::ApiKeyScope as Scope;
pub use entity::user::{Language, Role};

/// A signed-in merchant user, as proven by a session token.
#[derive(Clone, Debug)]
pub struct UserActor {
    pub user_id: i64,
    pub merchant_id: i64,
    pub role: Role,
    /// The session the request came with, so `logout` knows what to end.
    pub session_id: i64,
}

/// A caller holding an API key.
#[derive(Clone, Debug)]
pub struct KeyActor {
    pub key_id: i64,
    pub scope: Scope,
    /// The merchant the key is bound to: always set for MERCHANT keys; set
    /// for an INGEST or PLATFORM key made with `--merchant`, which then
    /// touches that merchant's rows only.
    pub merchant_id: Option<i64>,
}

/// What a platform-side credential may touch.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum KeyReach {
    /// Every merchant: an unbound key, or the command line.
    Everything,
    /// One merchant's rows only: a key made with `--merchant`.
    Merchant(i64),
}

impl KeyReach {
    /// Whether a row of `merchant_id` is within reach.
    pub fn covers(self, merchant_id: i64) -> bool {
        match self {
            KeyReach::Everything => true,
            KeyReach::Merchant(m) => m == merchant_id,
        }
    }

    /// Operations over every merchant at once (exchange rates, a full
    /// rebuild) need an unbound key.
    pub fn everything(self) -> Result<(), AppError> {
        match self {
            KeyReach::Everything => Ok(()),
            KeyReach::Merchant(_) => Err(AppError::Forbidden),
        }
    }
}

/// The caller of one request.
#[derive(Clone, Debug)]
pub enum Actor {
    /// No credential: only the public plugin operations.
    Anonymous,
    /// A credential was sent but is unknown, expired or revoked.
    Invalid,
    User(UserActor),
    Key(KeyActor),
    /// The operator at the command line (`kassa admin …`, `kassa demo`).
    Cli,
    /// A payer's plugin, by the merchant's public plugin key: only the
    /// public operations, as without a credential (the key is public, so it
    /// proves nothing about the caller); it lets a plugin page open a
    /// WebSocket for `activationRequestUpdated`.
    Plugin {
        merchant_id: i64,
    },
}

/// The merchant a read is scoped to; every merchant-facing query takes one.
#[derive(Copy, Clone, Debug)]
pub struct Tenant {
    pub merchant_id: i64,
}

impl Actor {
    /// What kind of caller this is, for the access log (never who).
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Anonymous => "anonymous",
            Actor::Invalid => "invalid",
            Actor::User(_) => "user",
            Actor::Key(_) => "key",
            Actor::Cli => "cli",
            Actor::Plugin { .. } => "plugin",
        }
    }

    /// A signed-in user of any role.
    pub fn user(&self) -> Result<&UserActor, AppError> {
        match self {
            Actor::User(u) => Ok(u),
            Actor::Key(_) | Actor::Cli | Actor::Plugin { .. } => Err(AppError::Forbidden),
            Actor::Anonymous | Actor::Invalid => Err(AppError::Unauthenticated),
        }
    }

    /// A signed-in user whose role is one of `roles`.
    pub fn user_with_role(&self, roles: &[Role]) -> Result<&UserActor, AppError> {
        let user = self.user()?;
        if roles.contains(&user.role) {
            Ok(user)
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// A caller that may read the merchant's data: any user, or a MERCHANT key.
    pub fn reader(&self) -> Result<Tenant, AppError> {
        match self {
            Actor::User(u) => Ok(Tenant {
                merchant_id: u.merchant_id,
            }),
            Actor::Key(KeyActor {
                scope: Scope::Merchant,
                merchant_id: Some(merchant_id),
                ..
            }) => Ok(Tenant {
                merchant_id: *merchant_id,
            }),
            Actor::Key(_) | Actor::Cli | Actor::Plugin { .. } => Err(AppError::Forbidden),
            Actor::Anonymous | Actor::Invalid => Err(AppError::Unauthenticated),
        }
    }

    /// Any valid credential (user session or API key of any scope).
    pub fn authenticated(&self) -> Result<(), AppError> {
        match self {
            Actor::User(_) | Actor::Key(_) | Actor::Cli => Ok(()),
            Actor::Plugin { .. } => Err(AppError::Forbidden),
            Actor::Anonymous | Actor::Invalid => Err(AppError::Unauthenticated),
        }
    }

    /// An API key of `scope`, or the operator at the command line. Returns
    /// the merchant the key is bound to (`None`: every merchant), which the
    /// caller must apply to every row it reads or writes.
    pub fn key_with_scope(&self, scope: Scope) -> Result<KeyReach, AppError> {
        match self {
            Actor::Key(k) if k.scope == scope => Ok(match k.merchant_id {
                Some(m) => KeyReach::Merchant(m),
                None => KeyReach::Everything,
            }),
            Actor::Cli => Ok(KeyReach::Everything),
            Actor::Key(_) | Actor::User(_) | Actor::Plugin { .. } => Err(AppError::Forbidden),
            Actor::Anonymous | Actor::Invalid => Err(AppError::Unauthenticated),
        }
    }

    /// The user id to record in audit entries, when a user acted.
    pub fn audit_user(&self) -> Option<i64> {
        match self {
            Actor::User(u) => Some(u.user_id),
            _ => None,
        }
    }

    /// How audit entries name a caller that is not a user.
    pub fn audit_name(&self) -> String {
        match self {
            Actor::User(u) => format!("user:{}", u.user_id),
            Actor::Key(k) => format!("api-key:{}", k.key_id),
            Actor::Cli => "cli".to_string(),
            Actor::Anonymous | Actor::Invalid | Actor::Plugin { .. } => "plugin".to_string(),
        }
    }
}
