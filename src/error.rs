//! One error type for the whole server, mapped to the wire in one place.
//!
//! `AppError` is what a service fails with when the request as a whole cannot
//! go on (no credential, wrong role, a broken invariant); it becomes a GraphQL
//! error with `extensions.code`. `UserError` is a problem with the *input* of a
//! mutation and travels inside the payload's `errors` list. Internal causes
//! are logged and never shown.

use async_graphql::{Enum, ErrorExtensions, SimpleObject};

/// Stable codes of `UserError` (the contract's `ErrorCode`).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The value is malformed or out of range.
    Invalid,
    /// The field must be given.
    Required,
    /// Nothing with this id (or number) in the caller's reach.
    NotFound,
    /// Something with this value exists already.
    Duplicate,
    /// Unknown login or wrong password (they are not told apart).
    WrongCredentials,
    /// The current password given is wrong.
    WrongPassword,
    /// The new password does not meet the rules.
    WeakPassword,
    /// Too many failed sign-ins: the login is locked for 30 minutes.
    Locked,
    /// The available balance does not cover the amount.
    InsufficientFunds,
    /// The transaction was activated before.
    AlreadyActivated,
    /// The same key was used earlier with a different request.
    IdempotencyConflict,
    /// The file is not of an accepted type.
    UnsupportedFile,
    /// The value or file is over its size limit.
    TooLarge,
    /// The URL is not http(s) or points to a private or local address.
    ForbiddenUrl,
    /// The object's current status does not allow this change.
    InvalidTransition,
    /// The user has two-factor sign-in on: send the current code as `totp`.
    TotpRequired,
}

/// A problem with the input of a mutation.
#[derive(SimpleObject, Clone, Debug, PartialEq)]
pub struct UserError {
    /// Path to the input field at fault, e.g. ["input", "fields", "ifsc"]; empty when no one field is.
    pub field: Vec<String>,
    /// Stable code to branch on.
    pub code: ErrorCode,
    /// Human-readable English text; do not parse it.
    pub message: String,
}

impl UserError {
    pub fn new(field: &[&str], code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            field: field.iter().map(|s| s.to_string()).collect(),
            code,
            message: message.into(),
        }
    }
}

/// Why a request as a whole failed.
/// Every `extensions.code` an error can carry on the wire (GraphQL errors
/// and requests refused before GraphQL runs), in one place: BEHAVIOUR's
/// list, plus the limits'.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireCode {
    Unauthenticated,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    Internal,
    /// Malformed request, unknown field, a variable of the wrong type.
    BadRequest,
    QueryTooDeep,
    TooComplex,
    TooManyAliases,
    /// The dashboard lacks an exchange rate it needs.
    NoRate,
    ResponseTooLarge,
    TooLarge,
    BatchNotSupported,
    UnsupportedMediaType,
    Csrf,
    MethodNotAllowed,
    /// A browser page of an origin not in KASSA_CORS_ORIGINS.
    Origin,
    /// A socket asked for more subscriptions at once than allowed.
    TooManySubscriptions,
}

impl WireCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            WireCode::Unauthenticated => "UNAUTHENTICATED",
            WireCode::Forbidden => "FORBIDDEN",
            WireCode::Invalid => "INVALID",
            WireCode::NotFound => "NOT_FOUND",
            WireCode::RateLimited => "RATE_LIMITED",
            WireCode::Internal => "INTERNAL",
            WireCode::BadRequest => "BAD_REQUEST",
            WireCode::QueryTooDeep => "QUERY_TOO_DEEP",
            WireCode::TooComplex => "TOO_COMPLEX",
            WireCode::TooManyAliases => "TOO_MANY_ALIASES",
            WireCode::NoRate => "NO_RATE",
            WireCode::ResponseTooLarge => "RESPONSE_TOO_LARGE",
            WireCode::TooLarge => "TOO_LARGE",
            WireCode::BatchNotSupported => "BATCH_NOT_SUPPORTED",
            WireCode::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            WireCode::Csrf => "CSRF",
            WireCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            WireCode::Origin => "ORIGIN",
            WireCode::TooManySubscriptions => "TOO_MANY_SUBSCRIPTIONS",
        }
    }

    /// Codes of requests refused before GraphQL runs
    /// (`kassa_http_refused_total{reason}`).
    pub const REFUSALS: [WireCode; 9] = [
        WireCode::BadRequest,
        WireCode::BatchNotSupported,
        WireCode::Csrf,
        WireCode::Internal,
        WireCode::MethodNotAllowed,
        WireCode::Origin,
        WireCode::ResponseTooLarge,
        WireCode::TooLarge,
        WireCode::UnsupportedMediaType,
    ];
}

impl std::fmt::Display for WireCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("sign in first: this needs a valid session or API key")]
    Unauthenticated,
    #[error("your role or key scope does not allow this")]
    Forbidden,
    #[error("{0}")]
    Invalid(String),
    /// Bad input to a query, naming the argument at fault (`extensions.field`).
    #[error("{1}")]
    InvalidField(Vec<String>, String),
    #[error("not found")]
    NotFound,
    #[error("too many requests from this client; retry in a minute")]
    RateLimited,
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> Self {
        AppError::Internal(anyhow::Error::new(e))
    }
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated => WireCode::Unauthenticated,
            AppError::Forbidden => WireCode::Forbidden,
            AppError::Invalid(_) | AppError::InvalidField(..) => WireCode::Invalid,
            AppError::NotFound => WireCode::NotFound,
            AppError::RateLimited => WireCode::RateLimited,
            AppError::Internal(_) => WireCode::Internal,
        }
        .as_str()
    }
}

impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        if let AppError::Internal(cause) = self {
            tracing::error!(error = ?cause, "internal error");
        }
        async_graphql::Error::new(self.to_string()).extend_with(|_, e| {
            e.set("code", self.code());
            if let AppError::InvalidField(field, _) = self {
                e.set("field", field.clone());
            }
        })
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Whether a database error is a unique-constraint violation, which services
/// turn into a clean `DUPLICATE` instead of an internal error.
pub fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
