use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "postbacks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    #[sea_orm(unique)]
    pub message_id: String,
    pub kind: PostbackKind,
    pub url: Option<String>,
    pub payload: String,
    pub status: PostbackDeliveryStatus,
    pub stockpiling_id: Option<i64>,
    pub withdrawal_id: Option<i64>,
    pub attempt_count: i32,
    pub last_outcome: Option<AttemptOutcome>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTimeUtc>,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

text_enum! {
    #[graphql]
    /// What a postback reports.
    pub enum PostbackKind {
        /// A completed stockpiling (the payer's deposits to credit).
        Deposit = "DEPOSIT",
        /// A withdrawal that was approved or rejected.
        Withdrawal = "WITHDRAWAL",
    }
}

text_enum! {
    #[graphql]
    /// Where a postback's delivery stands.
    pub enum PostbackDeliveryStatus {
        /// Queued; not tried yet.
        Pending = "PENDING",
        /// Tried and failed; another attempt is scheduled.
        Retrying = "RETRYING",
        /// The merchant's server answered 2xx.
        Delivered = "DELIVERED",
        /// Every scheduled attempt failed.
        Failed = "FAILED",
    }
}

impl PostbackDeliveryStatus {
    /// The statuses the worker still delivers.
    pub const DUE: [PostbackDeliveryStatus; 2] = [Self::Pending, Self::Retrying];
}

text_enum! {
    /// How the latest attempt went.
    pub enum AttemptOutcome {
        Sent = "SENT",
        Error = "ERROR",
    }
}
