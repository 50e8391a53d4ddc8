//! GraphQL: the Withdrawals page, createWithdrawal, setWithdrawalStatus, balances.

use super::service::{self, Filter, NewWithdrawal, OrderField};
use crate::accounts::graphql::User;
use crate::accounts::loader::UserLoader;
use crate::catalog::model::PaymentSystem;
use crate::error::{AppError, UserError};
use crate::graphql::scalars::{DateTime, Decimal};
use crate::graphql::{actor, deps, PageInfo};
use crate::money::from_minor;
use crate::pagination::PageArgs;
use crate::transactions::graphql::{clamp_count, units, CurrencyTotal, TimeRange};
use crate::transactions::model::SortDirection;
use async_graphql::dataloader::DataLoader;
use async_graphql::{
    ComplexObject, Context, Enum, ErrorExtensions, InputObject, Object, Result, ResultExt,
    SimpleObject, ID,
};
use entity::withdrawal;

fn internal(e: impl std::fmt::Display) -> async_graphql::Error {
    AppError::Internal(anyhow::anyhow!(e.to_string())).extend()
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum WithdrawalStatus {
    New,
    Approved,
    Rejected,
}

impl WithdrawalStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::New => "NEW",
            Self::Approved => "APPROVED",
            Self::Rejected => "REJECTED",
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum WithdrawalRequestKind {
    /// Created in the personal account.
    Manual,
    /// Created by the merchant's server with an API key.
    Api,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum WithdrawalPostbackStatus {
    /// No status postback is due yet (the withdrawal is NEW).
    NotSent,
    Received,
    Error,
}

impl WithdrawalPostbackStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::NotSent => "NOT_SENT",
            Self::Received => "RECEIVED",
            Self::Error => "ERROR",
        }
    }
}

#[derive(SimpleObject, serde::Deserialize)]
pub struct WithdrawalFieldValue {
    pub name: String,
    pub value: String,
}

/// A withdrawal request.
#[derive(Clone)]
pub struct Withdrawal(pub withdrawal::Model);

#[Object]
impl Withdrawal {
    /// Withdrawal ID.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Type (payment system).
    async fn payment_system(&self, ctx: &Context<'_>) -> Result<PaymentSystem> {
        deps(ctx)?
            .catalog
            .payment_system(&self.0.payment_system)
            .cloned()
            .ok_or_else(|| internal("unknown payment system"))
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    /// The recipient's wallet number.
    async fn recipient(&self) -> &str {
        &self.0.recipient
    }
    async fn label(&self) -> Option<&str> {
        self.0.label.as_deref()
    }
    async fn amount(&self, ctx: &Context<'_>) -> Result<Decimal> {
        Ok(from_minor(self.0.amount_minor, units(deps(ctx)?, &self.0.currency)).into())
    }
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    async fn status(&self) -> WithdrawalStatus {
        match self.0.status.as_str() {
            "APPROVED" => WithdrawalStatus::Approved,
            "REJECTED" => WithdrawalStatus::Rejected,
            _ => WithdrawalStatus::New,
        }
    }
    async fn request_kind(&self) -> WithdrawalRequestKind {
        if self.0.request_kind == "API" {
            WithdrawalRequestKind::Api
        } else {
            WithdrawalRequestKind::Manual
        }
    }
    async fn postback_status(&self) -> WithdrawalPostbackStatus {
        match self.0.postback_status.as_str() {
            "RECEIVED" => WithdrawalPostbackStatus::Received,
            "ERROR" => WithdrawalPostbackStatus::Error,
            _ => WithdrawalPostbackStatus::NotSent,
        }
    }
    async fn comment(&self) -> Option<&str> {
        self.0.comment.as_deref()
    }
    async fn fields(&self) -> Result<Vec<WithdrawalFieldValue>> {
        serde_json::from_str(&self.0.fields).map_err(internal)
    }
    async fn processed_at(&self) -> Option<DateTime> {
        self.0.processed_at.map(Into::into)
    }
    /// The user who asked for it (null for API requests).
    async fn created_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(id) = self.0.created_by else {
            return Ok(None);
        };
        let loader = ctx.data::<DataLoader<UserLoader>>()?;
        match loader
            .load_one((self.0.merchant_id, id))
            .await
            .map_err(internal)?
        {
            Some(u) => Ok(Some(u.try_into()?)),
            None => Ok(None),
        }
    }
}

#[derive(SimpleObject)]
pub struct Balance {
    pub currency: String,
    /// Activated deposits minus commission, minus withdrawals that are NEW or APPROVED.
    pub available: Decimal,
    /// Sum of NEW withdrawals.
    pub reserved: Decimal,
}

#[derive(InputObject, Default)]
pub struct WithdrawalFilter {
    pub id: Option<ID>,
    pub payment_systems: Option<Vec<String>>,
    pub recipient: Option<String>,
    pub label: Option<String>,
    pub postback_status: Option<WithdrawalPostbackStatus>,
    /// Null means all.
    pub status: Option<WithdrawalStatus>,
    pub created_at: Option<TimeRange>,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum WithdrawalOrderField {
    Id,
    CreatedAt,
    Amount,
}

#[derive(InputObject)]
pub struct WithdrawalOrder {
    pub field: WithdrawalOrderField,
    pub direction: SortDirection,
}

#[derive(SimpleObject)]
pub struct WithdrawalEdge {
    pub cursor: String,
    pub node: Withdrawal,
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct WithdrawalConnection {
    pub edges: Vec<WithdrawalEdge>,
    pub nodes: Vec<Withdrawal>,
    pub page_info: PageInfo,
    #[graphql(skip)]
    filter: Filter,
    #[graphql(skip)]
    tenant: crate::auth::model::Tenant,
}

#[ComplexObject]
impl WithdrawalConnection {
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i32> {
        Ok(clamp_count(
            service::count(deps(ctx)?, self.tenant, &self.filter)
                .await
                .extend()?,
        ))
    }
    async fn totals(&self, ctx: &Context<'_>) -> Result<Vec<CurrencyTotal>> {
        let d = deps(ctx)?;
        Ok(CurrencyTotal::from_sums(
            d,
            service::totals(d, self.tenant, &self.filter)
                .await
                .extend()?,
        ))
    }
}

#[derive(InputObject)]
pub struct WithdrawalFieldInput {
    pub name: String,
    pub value: String,
}

#[derive(InputObject)]
pub struct CreateWithdrawalInput {
    pub payment_system: String,
    pub amount: Decimal,
    /// Defaults to the payment system's currency.
    pub currency: Option<String>,
    pub recipient: String,
    pub label: Option<String>,
    pub comment: Option<String>,
    /// The payment system's own fields (see PaymentSystem.withdrawalFields).
    pub fields: Option<Vec<WithdrawalFieldInput>>,
    /// Repeating a request with the same key returns the first result.
    pub idempotency_key: Option<String>,
}

#[derive(SimpleObject)]
pub struct CreateWithdrawalPayload {
    pub withdrawal: Option<Withdrawal>,
    pub errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct SetWithdrawalStatusInput {
    pub id: ID,
    pub status: WithdrawalStatus,
    pub comment: Option<String>,
}

#[derive(SimpleObject)]
pub struct SetWithdrawalStatusPayload {
    pub withdrawal: Option<Withdrawal>,
    pub errors: Vec<UserError>,
}

#[derive(Default)]
pub struct WithdrawalsQuery;

#[Object]
impl WithdrawalsQuery {
    /// Money available for withdrawal, one row per currency.
    async fn balances(&self, ctx: &Context<'_>) -> Result<Vec<Balance>> {
        let d = deps(ctx)?;
        Ok(service::balances(d, actor(ctx)?)
            .await
            .extend()?
            .into_iter()
            .map(|(currency, available, reserved)| Balance {
                available: from_minor(available, units(d, &currency)).into(),
                reserved: from_minor(reserved, units(d, &currency)).into(),
                currency,
            })
            .collect())
    }

    async fn withdrawal(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Withdrawal>> {
        Ok(service::get(deps(ctx)?, actor(ctx)?, &id)
            .await
            .extend()?
            .map(Withdrawal))
    }

    /// Payments → Withdrawals. Newest first unless orderBy says otherwise.
    #[allow(clippy::too_many_arguments)] // the contract's arguments
    #[graphql(complexity = "crate::graphql::limits::page_cost(first, last, child_complexity)")]
    async fn withdrawals(
        &self,
        ctx: &Context<'_>,
        filter: Option<WithdrawalFilter>,
        order_by: Option<WithdrawalOrder>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<WithdrawalConnection> {
        let d = deps(ctx)?;
        let tenant = actor(ctx)?.reader().extend()?;
        let f = filter.unwrap_or_default();
        let id = match f.id {
            Some(id) => Some(id.parse::<i64>().map_err(|_| {
                AppError::Invalid("filter.id is not a withdrawal id".into()).extend()
            })?),
            None => None,
        };
        let filter = Filter {
            id,
            payment_systems: f.payment_systems,
            recipient: f.recipient,
            label: f.label,
            postback_status: f.postback_status.map(WithdrawalPostbackStatus::as_str),
            status: f.status.map(WithdrawalStatus::as_str),
            created_at: f.created_at.into(),
        };
        let (field, ascending) = match order_by {
            Some(o) => (
                match o.field {
                    WithdrawalOrderField::Id => OrderField::Id,
                    WithdrawalOrderField::CreatedAt => OrderField::CreatedAt,
                    WithdrawalOrderField::Amount => OrderField::Amount,
                },
                o.direction == SortDirection::Asc,
            ),
            None => (OrderField::Id, false),
        };
        let page = service::list(
            d,
            tenant,
            &filter,
            field,
            ascending,
            &PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .await
        .extend()?;
        let edges: Vec<WithdrawalEdge> = page
            .rows
            .into_iter()
            .map(|w| WithdrawalEdge {
                cursor: service::cursor_of(&w, field, ascending),
                node: Withdrawal(w),
            })
            .collect();
        Ok(WithdrawalConnection {
            page_info: PageInfo::of(
                edges.iter().map(|e| &e.cursor),
                page.has_next,
                page.has_previous,
            ),
            nodes: edges.iter().map(|e| e.node.clone()).collect(),
            edges,
            filter,
            tenant,
        })
    }
}

#[derive(Default)]
pub struct WithdrawalsMutation;

#[Object]
impl WithdrawalsMutation {
    /// Creates a withdrawal request. Idempotent per idempotencyKey.
    async fn create_withdrawal(
        &self,
        ctx: &Context<'_>,
        input: CreateWithdrawalInput,
    ) -> Result<CreateWithdrawalPayload> {
        let request = NewWithdrawal {
            payment_system: input.payment_system,
            amount: input.amount.0,
            currency: input.currency,
            recipient: input.recipient,
            label: input.label,
            comment: input.comment,
            fields: input
                .fields
                .unwrap_or_default()
                .into_iter()
                .map(|f| (f.name, f.value))
                .collect(),
            idempotency_key: input.idempotency_key,
        };
        Ok(
            match service::create(deps(ctx)?, actor(ctx)?, request)
                .await
                .extend()?
            {
                Ok(w) => CreateWithdrawalPayload {
                    withdrawal: Some(Withdrawal(w)),
                    errors: vec![],
                },
                Err(errors) => CreateWithdrawalPayload {
                    withdrawal: None,
                    errors,
                },
            },
        )
    }

    /// Platform (scope PLATFORM): the processing side approves or rejects a withdrawal.
    async fn set_withdrawal_status(
        &self,
        ctx: &Context<'_>,
        input: SetWithdrawalStatusInput,
    ) -> Result<SetWithdrawalStatusPayload> {
        let approve = match input.status {
            WithdrawalStatus::New => None,
            WithdrawalStatus::Approved => Some(true),
            WithdrawalStatus::Rejected => Some(false),
        };
        Ok(
            match service::set_status(deps(ctx)?, actor(ctx)?, &input.id, approve, input.comment)
                .await
                .extend()?
            {
                Ok(w) => SetWithdrawalStatusPayload {
                    withdrawal: Some(Withdrawal(w)),
                    errors: vec![],
                },
                Err(e) => SetWithdrawalStatusPayload {
                    withdrawal: None,
                    errors: vec![e],
                },
            },
        )
    }
}
