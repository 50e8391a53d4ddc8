//! The transaction's enums and the page's filter and order.

use async_graphql::Enum;
use chrono::{DateTime, Utc};

/// Money into the wallet or out of it.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Paid into the merchant's wallet (a deposit).
    Incoming,
    /// Paid out of the merchant's wallet.
    Outgoing,
}
text_enum!(Direction { Incoming => "INCOMING", Outgoing => "OUTGOING" });

/// Whether the payer has activated a deposit.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum TransactionStatus {
    /// Reported by the payment system, not yet claimed by a payer.
    NotActivated,
    /// Claimed by a payer in the plugin.
    Activated,
}

/// How the transaction was recorded.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum TransactionType {
    /// Entered by hand on the platform side.
    Manual,
    /// Received automatically from the payment system.
    Auto,
}
text_enum!(TransactionType { Manual => "MANUAL", Auto => "AUTO" });

/// The platform's verdict on a transaction.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Originality {
    /// A genuine payment.
    Normal,
    /// Fraudulent: left out of the dashboard's sums.
    Scam,
}
text_enum!(Originality { Normal => "NORMAL", Scam => "SCAM" });

/// Where the merchant's notification of a deposit stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum PostbackStatus {
    /// Not activated: no stockpiling exists for it, no postback is due.
    StockpilingNotFound,
    /// Activated, but the payer's accumulated amount is still below the minimum deposit.
    StockpilingInProgress,
    /// Stockpiling completed; the postback is queued and no attempt has been answered yet.
    Queued,
    /// The postback was delivered (the merchant's server answered 2xx).
    Sent,
    /// The latest delivery attempt failed; retries go on until the schedule ends.
    ErrorSending,
}
text_enum!(PostbackStatus {
    StockpilingNotFound => "STOCKPILING_NOT_FOUND",
    StockpilingInProgress => "STOCKPILING_IN_PROGRESS",
    Queued => "QUEUED",
    Sent => "SENT",
    ErrorSending => "ERROR_SENDING",
});

/// A column transactions can be sorted by (ties broken by id).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum TransactionOrderField {
    /// The id (creation order).
    Id,
    /// When it was reported.
    CreatedAt,
    /// When it was activated (not activated ones last).
    ActivatedAt,
    /// The amount (across currencies, as numbers).
    Amount,
}

/// Sort direction.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum SortDirection {
    /// Smallest (oldest) first.
    Asc,
    /// Largest (newest) first.
    Desc,
}

/// Half-open interval [from, to).
#[derive(Clone, Copy, Debug, Default)]
pub struct Range {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl Range {
    /// `cond` narrowed to rows whose `col` lies in the interval.
    pub fn narrow<C: sea_orm::ColumnTrait>(
        &self,
        mut cond: sea_orm::Condition,
        col: C,
    ) -> sea_orm::Condition {
        if let Some(from) = self.from {
            cond = cond.add(col.gte(from));
        }
        if let Some(to) = self.to {
            cond = cond.add(col.lt(to));
        }
        cond
    }
}

/// The Transactions page's filter, parsed.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub id: Option<i64>,
    pub payment_systems: Option<Vec<String>>,
    pub label: Option<String>,
    pub order_id: Option<String>,
    pub direction: Option<Direction>,
    pub transaction_number: Option<String>,
    pub counterparty: Option<String>,
    pub kind: Option<TransactionType>,
    pub originality: Option<Originality>,
    pub status: Option<TransactionStatus>,
    pub postback_status: Option<PostbackStatus>,
    pub currency: Option<String>,
    pub created_at: Range,
    pub activated_at: Range,
}

/// Sort order of the page; `id` breaks ties.
#[derive(Clone, Copy, Debug)]
pub struct Order {
    pub field: TransactionOrderField,
    pub direction: SortDirection,
}

impl Default for Order {
    fn default() -> Self {
        Order {
            field: TransactionOrderField::Id,
            direction: SortDirection::Desc,
        }
    }
}
