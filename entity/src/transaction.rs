use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "transactions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub payment_system: String,
    pub wallet_id: i64,
    pub wallet_identifier: String,
    pub direction: Direction,
    pub amount_minor: i64,
    pub currency: String,
    pub commission_minor: i64,
    pub transaction_number: String,
    pub counterparty: Option<String>,
    pub created_at: DateTimeUtc,
    pub ingested_at: DateTimeUtc,
    pub label: Option<String>,
    pub order_id: Option<String>,
    pub activated_at: Option<DateTimeUtc>,
    #[sea_orm(column_name = "type")]
    pub kind: TransactionType,
    pub originality: Originality,
    pub country: String,
    pub stockpiling_id: Option<i64>,
    pub postback_status: PostbackStatus,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

text_enum! {
    #[graphql]
    /// Money into the wallet or out of it.
    pub enum Direction {
        /// Paid into the merchant's wallet (a deposit).
        Incoming = "INCOMING",
        /// Paid out of the merchant's wallet.
        Outgoing = "OUTGOING",
    }
}

text_enum! {
    #[graphql]
    /// How the transaction was recorded.
    pub enum TransactionType {
        /// Entered by hand on the platform side.
        Manual = "MANUAL",
        /// Received automatically from the payment system.
        Auto = "AUTO",
    }
}

text_enum! {
    #[graphql]
    /// The platform's verdict on a transaction.
    pub enum Originality {
        /// A genuine payment.
        Normal = "NORMAL",
        /// Fraudulent: left out of the dashboard's sums.
        Scam = "SCAM",
    }
}

text_enum! {
    #[graphql]
    /// Where the merchant's notification of a deposit stands.
    pub enum PostbackStatus {
        /// Not activated: no stockpiling exists for it, no postback is due.
        StockpilingNotFound = "STOCKPILING_NOT_FOUND",
        /// Activated, but the payer's accumulated amount is still below the minimum deposit.
        StockpilingInProgress = "STOCKPILING_IN_PROGRESS",
        /// Stockpiling completed; the postback is queued and no attempt has been answered yet.
        Queued = "QUEUED",
        /// The postback was delivered (the merchant's server answered 2xx).
        Sent = "SENT",
        /// The latest delivery attempt failed; retries go on until the schedule ends.
        ErrorSending = "ERROR_SENDING",
    }
}

// Not stored: it is whether `activated_at` is set.
text_enum! {
    #[graphql]
    /// Whether the payer has activated a deposit.
    pub enum TransactionStatus {
        /// Reported by the payment system, not yet claimed by a payer.
        NotActivated = "NOT_ACTIVATED",
        /// Claimed by a payer in the plugin.
        Activated = "ACTIVATED",
    }
}

impl Model {
    pub fn status(&self) -> TransactionStatus {
        if self.activated_at.is_some() {
            TransactionStatus::Activated
        } else {
            TransactionStatus::NotActivated
        }
    }
}

impl Model {
    /// The amount paid, commission not deducted.
    pub fn amount(&self) -> crate::Money {
        crate::Money::new(self.amount_minor, self.currency.clone())
    }

    /// The payment system's commission (same currency).
    pub fn commission(&self) -> crate::Money {
        crate::Money::new(self.commission_minor, self.currency.clone())
    }
}
