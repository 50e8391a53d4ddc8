//! sea-orm entities for Kassa's tables, in the generated style: columns and
//! relations only. Business rules live in the main crate's services.

#[macro_use]
mod text_enum;

pub mod activation_request;
pub mod api_key;
pub mod audit_entry;
pub mod balance;
pub mod currency;
pub mod exchange_rate;
pub mod export;
pub mod file;
pub mod idempotency_key;
pub mod login_failure;
pub mod merchant;
pub mod minimum_deposit;
pub mod money;
pub mod password_history;
pub mod payment_system;
pub mod payment_system_prompt;
pub mod postback;
pub mod postback_attempt;
pub mod postback_endpoint;
pub mod recovery_code;
pub mod secret;
pub mod session;
pub mod stat_bucket;
pub mod stockpiling;
pub mod transaction;
pub mod user;
pub mod wallet;
pub mod withdrawal;

pub use money::{Money, MoneyError};
pub use secret::Secret;
pub use text_enum::{sql_list, TextEnum};
