//! The rules of a postback's life: where it goes, what an attempt moves it
//! to, and when its endpoint's circuit opens.

use chrono::{DateTime, TimeDelta, Utc};
pub use entity::postback::{AttemptOutcome, PostbackDeliveryStatus, PostbackKind};
pub use entity::postback_endpoint::PostbackCircuit;
use entity::transaction::PostbackStatus;
use entity::withdrawal::WithdrawalPostbackStatus;
use std::time::Duration;

/// The URL for `kind` given a merchant's two settings: withdrawals go to
/// their own URL when one is set, everything else to the postback URL.
pub fn url_for(
    postback_url: Option<&str>,
    withdrawal_url: Option<&str>,
    kind: PostbackKind,
) -> Option<String> {
    let url = match kind {
        PostbackKind::Withdrawal => withdrawal_url.or(postback_url),
        PostbackKind::Deposit => postback_url,
    };
    url.filter(|u| !u.trim().is_empty()).map(str::to_string)
}

/// Where a postback stands after its `attempts`-th attempt: DELIVERED on a
/// 2xx; RETRYING at the schedule's next step (or later, when the receiver
/// asked for more time with `retry_after`) while the schedule lasts; FAILED
/// once it is spent. Returns the status and when to try next.
pub fn after_attempt(
    delivered: bool,
    attempts: i32,
    schedule: &[Duration],
    retry_after: Option<Duration>,
    now: DateTime<Utc>,
) -> (PostbackDeliveryStatus, Option<DateTime<Utc>>) {
    if delivered {
        return (PostbackDeliveryStatus::Delivered, None);
    }
    let Some(planned) = usize::try_from(attempts - 1)
        .ok()
        .and_then(|i| schedule.get(i))
    else {
        return (PostbackDeliveryStatus::Failed, None);
    };
    let delay = retry_after.map_or(*planned, |w| w.max(*planned));
    (
        PostbackDeliveryStatus::Retrying,
        Some(now + TimeDelta::from_std(delay).unwrap_or(TimeDelta::hours(1))),
    )
}

/// What a finished attempt (or the lack of a URL) reports on the
/// transactions and the withdrawal the postback is about.
pub fn reported(delivered: bool) -> (PostbackStatus, WithdrawalPostbackStatus, AttemptOutcome) {
    if delivered {
        (
            PostbackStatus::Sent,
            WithdrawalPostbackStatus::Received,
            AttemptOutcome::Sent,
        )
    } else {
        (
            PostbackStatus::ErrorSending,
            WithdrawalPostbackStatus::Error,
            AttemptOutcome::Error,
        )
    }
}

/// Whether a failure opens the endpoint's circuit: a failed probe
/// (HALF_OPEN) reopens it; a closed one opens at `threshold` failures in a
/// row; an open one stays as it is (that failure's attempt began before it
/// opened).
pub fn opens(circuit: PostbackCircuit, consecutive_failures: i32, threshold: i32) -> bool {
    match circuit {
        PostbackCircuit::HalfOpen => true,
        PostbackCircuit::Closed => consecutive_failures >= threshold,
        PostbackCircuit::Open => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn withdrawals_go_to_their_own_url_when_set() {
        let (p, w) = (Some("https://a.example/p"), Some("https://a.example/w"));
        assert_eq!(url_for(p, w, PostbackKind::Deposit).as_deref(), p);
        assert_eq!(url_for(p, w, PostbackKind::Withdrawal).as_deref(), w);
        assert_eq!(url_for(p, None, PostbackKind::Withdrawal).as_deref(), p);
        assert_eq!(url_for(None, w, PostbackKind::Deposit), None);
        assert_eq!(url_for(Some("  "), None, PostbackKind::Deposit), None);
    }

    #[test]
    fn an_attempt_delivers_retries_on_schedule_or_fails_when_it_is_spent() {
        let now = Utc::now();
        let schedule = [Duration::from_secs(10), Duration::from_secs(60)];
        assert_eq!(
            after_attempt(true, 1, &schedule, None, now),
            (PostbackDeliveryStatus::Delivered, None)
        );
        assert_eq!(
            after_attempt(false, 1, &schedule, None, now),
            (
                PostbackDeliveryStatus::Retrying,
                Some(now + TimeDelta::seconds(10))
            )
        );
        // the receiver's Retry-After stretches a step, never shortens it
        assert_eq!(
            after_attempt(false, 2, &schedule, Some(Duration::from_secs(600)), now).1,
            Some(now + TimeDelta::seconds(600))
        );
        assert_eq!(
            after_attempt(false, 2, &schedule, Some(Duration::from_secs(1)), now).1,
            Some(now + TimeDelta::seconds(60))
        );
        assert_eq!(
            after_attempt(false, 3, &schedule, None, now),
            (PostbackDeliveryStatus::Failed, None)
        );
        assert_eq!(
            after_attempt(false, 1, &[], None, now),
            (PostbackDeliveryStatus::Failed, None)
        );
    }

    #[test]
    fn a_circuit_opens_at_the_threshold_and_reopens_on_a_failed_probe() {
        assert!(!opens(PostbackCircuit::Closed, 4, 5));
        assert!(opens(PostbackCircuit::Closed, 5, 5));
        assert!(opens(PostbackCircuit::HalfOpen, 1, 5));
        assert!(!opens(PostbackCircuit::Open, 50, 5));
    }

    #[test]
    fn an_outcome_reports_sent_and_received_or_errors() {
        use entity::transaction::PostbackStatus as T;
        use entity::withdrawal::WithdrawalPostbackStatus as W;
        assert_eq!(reported(true), (T::Sent, W::Received, AttemptOutcome::Sent));
        assert_eq!(
            reported(false),
            (T::ErrorSending, W::Error, AttemptOutcome::Error)
        );
    }
}
