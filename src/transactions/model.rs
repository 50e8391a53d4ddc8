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

impl Filter {
    /// When the filter narrows by payment system at most: `Some(None)` for
    /// no filter, `Some(Some(systems))` for those systems only; `None` when
    /// anything else narrows it. (Such a count is read from the maintained
    /// per-system counts.)
    pub fn systems_only(&self) -> Option<Option<&[String]>> {
        let Filter {
            id,
            payment_systems,
            label,
            order_id,
            direction,
            transaction_number,
            counterparty,
            kind,
            originality,
            status,
            postback_status,
            currency,
            created_at,
            activated_at,
        } = self;
        let open = |r: &Range| r.from.is_none() && r.to.is_none();
        let rest_open = id.is_none()
            && label.is_none()
            && order_id.is_none()
            && direction.is_none()
            && transaction_number.is_none()
            && counterparty.is_none()
            && kind.is_none()
            && originality.is_none()
            && status.is_none()
            && postback_status.is_none()
            && currency.is_none()
            && open(created_at)
            && open(activated_at);
        rest_open.then_some(payment_systems.as_deref())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_filter_by_payment_system_at_most_reads_the_maintained_counts() {
        assert_eq!(Filter::default().systems_only(), Some(None));
        let systems = Filter {
            payment_systems: Some(vec!["bkash".into()]),
            ..Filter::default()
        };
        assert_eq!(
            systems.systems_only(),
            Some(Some(&["bkash".to_string()][..]))
        );
        let narrowed = [
            Filter {
                label: Some("p".into()),
                ..Filter::default()
            },
            Filter {
                status: Some(TransactionStatus::Activated),
                ..systems.clone()
            },
            Filter {
                created_at: Range {
                    from: Some(Utc::now()),
                    to: None,
                },
                ..Filter::default()
            },
            Filter {
                activated_at: Range {
                    from: None,
                    to: Some(Utc::now()),
                },
                ..Filter::default()
            },
        ];
        for f in narrowed {
            assert_eq!(f.systems_only(), None, "{f:?}");
        }
    }
}
