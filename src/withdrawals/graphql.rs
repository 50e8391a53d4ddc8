//! GraphQL: the Withdrawals page, createWithdrawal, setWithdrawalStatus, balances.

use super::service::{self, Filter, NewWithdrawal, OrderField};
use crate::accounts::graphql::User;
use crate::accounts::loader::UserLoader;
use crate::catalog::model::PaymentSystem;
use crate::error::{AppError, UserError};
use crate::graphql::common::PageInfo;
use crate::graphql::common::{amount, clamp_count, CurrencyTotal, TimeRange};
use crate::graphql::context::{actor, deps};
use crate::graphql::scalars::{DateTime, Decimal};
use crate::pagination::PageArgs;
use crate::transactions::model::SortDirection;
use async_graphql::dataloader::DataLoader;
use async_graphql::{
    ComplexObject, Context, Enum, ErrorExtensions, InputObject, Object, Result, ResultExt,
    SimpleObject, ID,
};
use entity::withdrawal::{self, WithdrawalPostbackStatus, WithdrawalRequestKind, WithdrawalStatus};

fn internal(e: impl std::fmt::Display) -> async_graphql::Error {
    AppError::Internal(anyhow::anyhow!(e.to_string())).extend()
}

/// One payment-system field of a withdrawal, as given.
#[derive(SimpleObject, serde::Deserialize)]
pub struct WithdrawalFieldValue {
    /// The field's name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// A withdrawal request.
#[derive(Clone)]
pub struct Withdrawal(pub withdrawal::Model);

/// A payout from the merchant's balance.
#[Object]
impl Withdrawal {
    /// Withdrawal ID.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Type (payment system).
    async fn payment_system<'ctx>(&self, ctx: &Context<'ctx>) -> Result<&'ctx PaymentSystem> {
        deps(ctx)?
            .catalog
            .payment_system(&self.0.payment_system)
            .ok_or_else(|| internal("unknown payment system"))
    }
    /// When it was requested.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    /// The recipient's wallet number.
    async fn recipient(&self) -> &str {
        &self.0.recipient
    }
    /// The merchant's own label.
    async fn label(&self) -> Option<&str> {
        self.0.label.as_deref()
    }
    /// The amount, in currency.
    async fn amount(&self, ctx: &Context<'_>) -> Result<Decimal> {
        Ok(amount(deps(ctx)?, &self.0.amount()))
    }
    /// ISO 4217 code.
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    /// NEW until the platform approves or rejects it.
    async fn status(&self) -> WithdrawalStatus {
        self.0.status
    }
    /// MANUAL (from the back office) or API (a MERCHANT key).
    async fn request_kind(&self) -> WithdrawalRequestKind {
        self.0.request_kind
    }
    /// Where the withdrawal postback stands.
    async fn postback_status(&self) -> WithdrawalPostbackStatus {
        self.0.postback_status
    }
    /// The merchant's comment, as entered with the request.
    async fn comment(&self) -> Option<&str> {
        self.0.comment.as_deref()
    }
    /// The platform's comment on approving or rejecting (setWithdrawalStatus).
    async fn decision_comment(&self) -> Option<&str> {
        self.0.decision_comment.as_deref()
    }
    /// The payment system's fields, as given.
    async fn fields(&self) -> Result<Vec<WithdrawalFieldValue>> {
        serde_json::from_str(&self.0.fields).map_err(internal)
    }
    /// When it was approved or rejected; null while NEW.
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
            Some(u) => Ok(Some(u.into())),
            None => Ok(None),
        }
    }
}

/// The merchant's money in one currency.
#[derive(SimpleObject)]
pub struct Balance {
    /// ISO 4217 code ("INR").
    pub currency: String,
    /// Activated deposits minus commission, minus withdrawals that are NEW or APPROVED.
    pub available: Decimal,
    /// Sum of NEW withdrawals.
    pub reserved: Decimal,
}

/// Which withdrawals to list; every field left out matches all, and the fields given must all match.
#[derive(InputObject, Default)]
pub struct WithdrawalFilter {
    /// Exactly this id.
    pub id: Option<ID>,
    /// Any of these payment-system codes.
    pub payment_systems: Option<Vec<String>>,
    /// The recipient, exactly.
    pub recipient: Option<String>,
    /// The merchant's label, exactly.
    pub label: Option<String>,
    /// Where the postback stands.
    pub postback_status: Option<WithdrawalPostbackStatus>,
    /// Null means all.
    pub status: Option<WithdrawalStatus>,
    /// Requested within this range.
    pub created_at: Option<TimeRange>,
}

impl WithdrawalFilter {
    /// The filter as the service takes it.
    pub fn parse(self) -> Result<Filter> {
        let id = match self.id {
            Some(id) => Some(id.parse::<i64>().map_err(|_| {
                AppError::Invalid("filter.id is not a withdrawal id".into()).extend()
            })?),
            None => None,
        };
        Ok(Filter {
            id,
            payment_systems: self.payment_systems,
            recipient: self.recipient,
            label: self.label,
            postback_status: self.postback_status,
            status: self.status,
            created_at: self.created_at.into(),
        })
    }
}

/// A column withdrawals can be sorted by (ties broken by id).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum WithdrawalOrderField {
    /// The id (creation order).
    Id,
    /// When it was requested.
    CreatedAt,
    /// The amount.
    Amount,
}

/// How to sort withdrawals.
#[derive(InputObject)]
pub struct WithdrawalOrder {
    /// The column to sort by.
    pub field: WithdrawalOrderField,
    /// ASC or DESC.
    pub direction: SortDirection,
}

/// A withdrawal with its cursor.
#[derive(SimpleObject)]
pub struct WithdrawalEdge {
    /// Opaque: pass it as after (or before) to continue from here.
    pub cursor: String,
    /// The withdrawal.
    pub node: Withdrawal,
}

/// A page of withdrawals.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct WithdrawalConnection {
    /// The withdrawals with their cursors.
    pub edges: Vec<WithdrawalEdge>,
    /// The withdrawals (the same as edges' nodes).
    pub nodes: Vec<Withdrawal>,
    /// Where this page stands.
    pub page_info: PageInfo,
    #[graphql(skip)]
    filter: Filter,
    #[graphql(skip)]
    tenant: crate::auth::model::Tenant,
}

#[ComplexObject]
impl WithdrawalConnection {
    /// How many match the filter, in all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i32> {
        Ok(clamp_count(
            service::count(deps(ctx)?, self.tenant, &self.filter)
                .await
                .extend()?,
        ))
    }
    /// Sums per currency of every withdrawal the filter matches (all pages).
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

/// One payment-system field of a withdrawal.
#[derive(InputObject)]
pub struct WithdrawalFieldInput {
    /// The field's name (PaymentSystem.withdrawalFields).
    pub name: String,
    /// Its value, checked against the field's kind and pattern.
    pub value: String,
}

/// A withdrawal to create.
#[derive(InputObject)]
pub struct CreateWithdrawalInput {
    /// Payment-system code to pay out with.
    pub payment_system: String,
    /// Greater than 0, in the currency's minor units; at most the available balance.
    pub amount: Decimal,
    /// Defaults to the payment system's currency.
    pub currency: Option<String>,
    /// The recipient's account at the payment system.
    pub recipient: String,
    /// The merchant's own label for it.
    pub label: Option<String>,
    /// The merchant's comment; it never changes afterwards.
    pub comment: Option<String>,
    /// The payment system's own fields (see PaymentSystem.withdrawalFields).
    pub fields: Option<Vec<WithdrawalFieldInput>>,
    /// Repeating a request with the same key returns the first result.
    pub idempotency_key: Option<String>,
}

/// Result of createWithdrawal.
#[derive(SimpleObject)]
pub struct CreateWithdrawalPayload {
    /// The new withdrawal (NEW); null when errors is not empty.
    pub withdrawal: Option<Withdrawal>,
    /// INSUFFICIENT_FUNDS, missing or malformed fields, …; nothing created if any.
    pub errors: Vec<UserError>,
}

/// The platform's decision on a withdrawal (PLATFORM key).
#[derive(InputObject)]
pub struct SetWithdrawalStatusInput {
    /// The withdrawal's id.
    pub id: ID,
    /// APPROVED or REJECTED (only from NEW).
    pub status: WithdrawalStatus,
    /// The platform's comment, shown as decisionComment.
    pub comment: Option<String>,
}

/// Result of setWithdrawalStatus.
#[derive(SimpleObject)]
pub struct SetWithdrawalStatusPayload {
    /// The withdrawal as it stands now.
    pub withdrawal: Option<Withdrawal>,
    /// NOT_FOUND or INVALID_TRANSITION; nothing changed if any.
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
            .map(|(available, reserved)| Balance {
                available: amount(d, &available),
                reserved: amount(d, &reserved),
                currency: available.currency,
            })
            .collect())
    }

    /// One withdrawal of the caller's merchant, or null when there is none with this id (another merchant's id is null too).
    async fn withdrawal(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The withdrawal's id.")] id: ID,
    ) -> Result<Option<Withdrawal>> {
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
        #[graphql(desc = "Which withdrawals; all of the merchant's when left out.")] filter: Option<
            WithdrawalFilter,
        >,
        #[graphql(desc = "Sort order; newest first by creation when left out.")] order_by: Option<
            WithdrawalOrder,
        >,
        #[graphql(desc = "Page size going forward: default 50, at most 500.")] first: Option<i32>,
        #[graphql(desc = "The endCursor of the previous page.")] after: Option<String>,
        #[graphql(desc = "Page size going backward: at most 500.")] last: Option<i32>,
        #[graphql(desc = "The startCursor of the next page (paging backward).")] before: Option<
            String,
        >,
    ) -> Result<WithdrawalConnection> {
        let d = deps(ctx)?;
        let tenant = actor(ctx)?.reader().extend()?;
        let filter = filter.unwrap_or_default().parse()?;
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
        #[graphql(desc = "Payment system, amount, recipient and the payment system's fields.")]
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
        #[graphql(desc = "The withdrawal, its new status and the platform's comment.")]
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
