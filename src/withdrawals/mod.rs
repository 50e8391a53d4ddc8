//! Withdrawals (BEHAVIOUR §7): merchants take their money out.
//!
//! A withdrawal is `NEW` when requested and moves once to `APPROVED` or
//! `REJECTED` (the platform decides); `REJECTED` gives the money back. The
//! balance per (merchant, currency) is `credited - withdrawn`, where credits
//! are activated NORMAL deposits less commission and `withdrawn` counts NEW
//! and APPROVED withdrawals; `reserved` is the NEW part.
//!
//! Never overdrawn: the check and the reservation are one conditional update
//! (`… WHERE credited - withdrawn >= amount`). On PostgreSQL the row lock and
//! the re-checked WHERE clause serialize concurrent requests on that one row,
//! without retries or serialization failures; on SQLite writers already run
//! one at a time. Idempotency keys live in a table keyed (merchant, key) and
//! are claimed by an insert in the same transaction, so 12 copies of one
//! request make one withdrawal.

pub mod graphql;
pub mod idempotency;
pub mod model;
pub mod service;
