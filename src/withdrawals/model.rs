//! The rules of a withdrawal's life.

pub use entity::withdrawal::WithdrawalStatus;

/// The status a decision moves a withdrawal to, if it may: only a NEW
/// withdrawal is decided, once, to APPROVED or REJECTED.
pub fn decide(from: WithdrawalStatus, approve: bool) -> Option<WithdrawalStatus> {
    match from {
        WithdrawalStatus::New if approve => Some(WithdrawalStatus::Approved),
        WithdrawalStatus::New => Some(WithdrawalStatus::Rejected),
        WithdrawalStatus::Approved | WithdrawalStatus::Rejected => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_new_withdrawal_is_decided_and_only_once() {
        use WithdrawalStatus::*;
        assert_eq!(decide(New, true), Some(Approved));
        assert_eq!(decide(New, false), Some(Rejected));
        for done in [Approved, Rejected] {
            assert_eq!(decide(done, true), None);
            assert_eq!(decide(done, false), None);
        }
    }
}
