//! Activation (BEHAVIOUR §5): a payer claims a deposit from the plugin by its
//! transaction number; the deposit then joins the payer's stockpiling.
//!
//! Exactly once: the claim is a conditional update (`activated_at IS NULL`)
//! under a lock on (payment system, transaction number), so two payers racing
//! get one `ACTIVATED` and one `ALREADY_ACTIVATED` on every backend.
//!
//! Stockpiling: every activated deposit joins the open stockpiling of
//! (merchant, label, currency), opened with the merchant's minimum deposit for
//! that currency; reaching the minimum completes it and queues one DEPOSIT
//! postback in the same database transaction.
//!
//! Delayed automatic activation: when the merchant has it on and the number is
//! not known yet, a WAITING request (with a ticket) is stored; the ingest that
//! reports the money settles it in its own transaction. Requests expire after
//! `KASSA_ACTIVATION_TTL`.

pub mod graphql;
pub mod model;
pub mod service;
pub mod stockpile;
