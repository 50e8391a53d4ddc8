use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "postback_endpoints")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub url: String,
    pub circuit: PostbackCircuit,
    pub consecutive_failures: i32,
    pub open_streak: i32,
    pub next_probe_at: Option<DateTimeUtc>,
    pub last_success_at: Option<DateTimeUtc>,
    pub last_failure_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

text_enum! {
    #[graphql]
    /// Whether an endpoint is being delivered to.
    pub enum PostbackCircuit {
        /// Healthy, or failing fewer times in a row than the limit: deliveries run.
        Closed = "CLOSED",
        /// Failing: its due postbacks wait, without attempts, until `nextProbeAt`.
        Open = "OPEN",
        /// One probe delivery is running; its outcome closes or reopens the circuit.
        HalfOpen = "HALF_OPEN",
    }
}
