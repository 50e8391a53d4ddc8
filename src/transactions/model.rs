//! The transaction's enums and the page's filter and order.

use async_graphql::Enum;
use chrono::{DateTime, Utc};
pub use entity::transaction::{
    Direction, Originality, PostbackStatus, TransactionStatus, TransactionType,
};

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
