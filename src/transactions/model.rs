//! The transaction's enums and the page's filter and order.

use async_graphql::Enum;
use chrono::{DateTime, Utc};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Direction {
    Incoming,
    Outgoing,
}
text_enum!(Direction { Incoming => "INCOMING", Outgoing => "OUTGOING" });

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum TransactionStatus {
    NotActivated,
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

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Originality {
    Normal,
    Scam,
}
text_enum!(Originality { Normal => "NORMAL", Scam => "SCAM" });

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

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum TransactionOrderField {
    Id,
    CreatedAt,
    ActivatedAt,
    Amount,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum SortDirection {
    Asc,
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
