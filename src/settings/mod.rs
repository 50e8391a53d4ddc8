//! The Settings page: profile, system settings (minimum deposits so far),
//! plugin appearance. Reading is open to every role; changing anything but
//! the own profile is OWNER only.

pub mod graphql;
pub mod service;
