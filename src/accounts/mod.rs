//! Merchants (the tenants), their users and their audit trail.
//!
//! A user belongs to one merchant and has one role (OWNER, OPERATOR,
//! VIEWER); every query here is scoped to the caller's merchant in SQL, so
//! another merchant's user id behaves exactly like a missing one. Disabling a
//! user ends their sessions.

pub mod graphql;
pub mod loader;
pub mod service;
