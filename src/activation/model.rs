//! The rules of an activation: which transactions a payer may claim, how a
//! waiting request settles, when it has expired, and when a stockpiling
//! completes.

use chrono::{DateTime, Utc};
pub use entity::activation_request::ActivationRequestStatus;
pub use entity::stockpiling::StockpilingStatus;
use entity::transaction::{Direction, Originality};
use entity::{activation_request, transaction};

/// Whether a payer may claim this transaction: money that came in and that
/// the platform has not marked as fraud. (Whether it is still unclaimed is
/// decided by the conditional update that claims it.)
pub fn claimable(t: &transaction::Model) -> bool {
    t.direction == Direction::Incoming && t.originality == Originality::Normal
}

/// What a WAITING request becomes once its number arrives: ACTIVATED when
/// the claim took, REJECTED when it could not (already claimed, outgoing,
/// fraud).
pub fn settled(claimed: bool) -> ActivationRequestStatus {
    if claimed {
        ActivationRequestStatus::Activated
    } else {
        ActivationRequestStatus::Rejected
    }
}

/// Whether a request is still WAITING past its deadline (it is then settled
/// as EXPIRED by whoever sees it first).
pub fn overdue(r: &activation_request::Model, now: DateTime<Utc>) -> bool {
    r.status == ActivationRequestStatus::Waiting && r.expires_at <= now
}

/// Whether a request has settled, one way or another.
pub fn is_settled(status: ActivationRequestStatus) -> bool {
    status != ActivationRequestStatus::Waiting
}

/// A stockpiling's status for whether it reached its minimum.
pub fn stockpiling_status(completed: bool) -> StockpilingStatus {
    if completed {
        StockpilingStatus::Completed
    } else {
        StockpilingStatus::InProgress
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn tx(direction: Direction, originality: Originality) -> transaction::Model {
        let now = Utc::now();
        transaction::Model {
            id: 1,
            merchant_id: 1,
            payment_system: "paytm".into(),
            wallet_id: 1,
            wallet_identifier: "w".into(),
            direction,
            amount_minor: 100,
            currency: "INR".into(),
            commission_minor: 0,
            transaction_number: "N1".into(),
            counterparty: None,
            created_at: now,
            ingested_at: now,
            label: None,
            order_id: None,
            activated_at: None,
            kind: entity::transaction::TransactionType::Auto,
            originality,
            country: "IN".into(),
            stockpiling_id: None,
            postback_status: entity::transaction::PostbackStatus::StockpilingNotFound,
        }
    }

    #[test]
    fn only_normal_incoming_money_is_claimable() {
        assert!(claimable(&tx(Direction::Incoming, Originality::Normal)));
        assert!(!claimable(&tx(Direction::Outgoing, Originality::Normal)));
        assert!(!claimable(&tx(Direction::Incoming, Originality::Scam)));
        assert!(!claimable(&tx(Direction::Outgoing, Originality::Scam)));
    }

    #[test]
    fn a_waiting_request_settles_activated_or_rejected_and_expires_at_its_deadline() {
        assert_eq!(settled(true), ActivationRequestStatus::Activated);
        assert_eq!(settled(false), ActivationRequestStatus::Rejected);
        let now = Utc::now();
        let mut r = activation_request::Model {
            id: 1,
            ticket: "act_x".into(),
            merchant_id: 1,
            payment_system: "paytm".into(),
            transaction_number: "N1".into(),
            label: "payer".into(),
            order_id: None,
            status: ActivationRequestStatus::Waiting,
            created_at: now - TimeDelta::hours(1),
            expires_at: now,
            settled_at: None,
            transaction_id: None,
            waiting_key: Some("k".into()),
            client_ip: None,
        };
        assert!(overdue(&r, now));
        assert!(!overdue(&r, now - TimeDelta::seconds(1)));
        assert!(!is_settled(r.status));
        assert_eq!(stockpiling_status(true), StockpilingStatus::Completed);
        assert_eq!(stockpiling_status(false), StockpilingStatus::InProgress);
        for done in [
            ActivationRequestStatus::Activated,
            ActivationRequestStatus::Expired,
            ActivationRequestStatus::Rejected,
        ] {
            r.status = done;
            assert!(
                !overdue(&r, now + TimeDelta::hours(1)),
                "{done} never expires"
            );
            assert!(is_settled(done));
        }
    }
}
