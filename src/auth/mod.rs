//! Authentication and roles (BEHAVIOUR §1).
//!
//! Callers prove themselves with an opaque bearer credential: a session token
//! from `login` (users), an API key (merchant servers, integrations, the
//! platform) or, for the plugin's public calls, the merchant's plugin key.
//! Tokens and keys are random, shown once, and stored only as SHA-256.
//!
//! A session lives until `logout`, 15 idle minutes, 12 hours after sign-in,
//! a password change (other sessions), or its user being disabled. Six failed
//! sign-ins in a row lock a login for 30 minutes; the count lives in the
//! database so every instance shares it. Roles are checked here, in the
//! service layer, never in resolvers alone.

pub mod cache;
pub mod graphql;
pub mod keys;
pub mod model;
pub mod password;
pub mod service;
pub mod tokens;
pub mod totp;
