//! GraphQL: the delivery log, resendPostback, rotatePostbackSecret.

use super::loader::AttemptsLoader;
use super::service::{self, Filter, CURSOR_KIND};
use crate::error::{AppError, UserError};
use crate::graphql::common::PageInfo;
use crate::graphql::common::{clamp_count, TimeRange};
use crate::graphql::context::{actor, deps};
use crate::graphql::scalars::DateTime;
use crate::pagination;
use crate::transactions::graphql::Transaction;
use async_graphql::dataloader::DataLoader;
use async_graphql::{
    ComplexObject, Context, ErrorExtensions, InputObject, Object, Result, ResultExt, SimpleObject,
    ID,
};
use entity::postback;
use entity::postback::{PostbackDeliveryStatus, PostbackKind};
use entity::postback_endpoint::PostbackCircuit;

fn internal(e: impl std::fmt::Display) -> async_graphql::Error {
    AppError::Internal(anyhow::anyhow!(e.to_string())).extend()
}

/// One delivery attempt.
#[derive(SimpleObject)]
pub struct PostbackAttempt {
    /// When it was sent.
    pub at: DateTime,
    /// HTTP status, when an answer came.
    pub response_status: Option<i32>,
    /// Network or timeout error, when no answer came.
    pub error: Option<String>,
    /// How long the attempt took, in milliseconds.
    pub duration_ms: i32,
}

/// One postback (webhook) to the merchant's server, with its delivery history.
#[derive(Clone)]
pub struct Postback(pub postback::Model);

/// A signed notification (webhook) to the merchant's server, with its delivery log.
#[Object]
impl Postback {
    /// The postback's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// DEPOSIT (a completed stockpiling) or WITHDRAWAL (a decided withdrawal).
    async fn kind(&self) -> PostbackKind {
        self.0.kind
    }
    /// Where it was last sent; before any attempt, where it will go (empty when no URL is set).
    async fn url(&self, ctx: &Context<'_>) -> Result<String> {
        if let Some(u) = &self.0.url {
            return Ok(u.clone());
        }
        use sea_orm::EntityTrait;
        let m = entity::merchant::Entity::find_by_id(self.0.merchant_id)
            .one(&deps(ctx)?.db)
            .await
            .map_err(internal)?;
        Ok(m.and_then(|m| super::worker::target_url(&m, self.0.kind))
            .unwrap_or_default())
    }
    /// The exact JSON body sent.
    async fn payload(&self) -> &str {
        &self.0.payload
    }
    /// Where its delivery stands.
    async fn status(&self) -> PostbackDeliveryStatus {
        self.0.status
    }
    /// Why the last attempt failed, or why none could be made.
    async fn last_error(&self) -> Option<&str> {
        if self.0.status == PostbackDeliveryStatus::Delivered {
            None
        } else {
            self.0.last_error.as_deref()
        }
    }
    /// How many delivery attempts were made.
    async fn attempt_count(&self) -> i32 {
        self.0.attempt_count
    }
    /// Delivery attempts, oldest first: the first `first` (default 20, at
    /// most 100); `attemptCount` says how many there were.
    #[graphql(complexity = "crate::graphql::limits::nested_cost(first, child_complexity)")]
    async fn attempts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many attempts: default 20, at most 100.")] first: Option<i32>,
    ) -> Result<Vec<PostbackAttempt>> {
        let take = crate::graphql::limits::nested_take(first)?;
        let loader = ctx.data::<DataLoader<AttemptsLoader>>()?;
        Ok(loader
            .load_one(self.0.id)
            .await
            .map_err(internal)?
            .unwrap_or_default()
            .into_iter()
            .take(take)
            .map(|a| PostbackAttempt {
                at: a.at.into(),
                response_status: a.response_status,
                error: a.error,
                duration_ms: a.duration_ms,
            })
            .collect())
    }
    /// When it was queued.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    /// When the next attempt is due; null when none is.
    async fn next_attempt_at(&self) -> Option<DateTime> {
        self.0.next_attempt_at.map(Into::into)
    }
    /// When the merchant's server answered 2xx; null until then.
    async fn delivered_at(&self) -> Option<DateTime> {
        self.0.delivered_at.map(Into::into)
    }
    /// The withdrawal it reports (a WITHDRAWAL postback).
    async fn withdrawal(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<crate::withdrawals::graphql::Withdrawal>> {
        let Some(id) = self.0.withdrawal_id else {
            return Ok(None);
        };
        Ok(
            crate::withdrawals::service::get_in(deps(ctx)?, self.0.merchant_id, id)
                .await
                .extend()?
                .map(crate::withdrawals::graphql::Withdrawal),
        )
    }
    /// The deposits it reports (a DEPOSIT postback's stockpiling), oldest
    /// first: the first `first` (default 20, at most 100).
    #[graphql(complexity = "crate::graphql::limits::nested_cost(first, child_complexity)")]
    async fn transactions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many deposits: default 20, at most 100.")] first: Option<i32>,
    ) -> Result<Vec<Transaction>> {
        // `first` is judged even when there is nothing to list.
        crate::graphql::limits::nested_take(first)?;
        let Some(sp) = self.0.stockpiling_id else {
            return Ok(vec![]);
        };
        crate::activation::graphql::stockpiling_deposits(ctx, sp, first).await
    }
}

/// Which postbacks to list; fields left out match all.
#[derive(InputObject, Default)]
pub struct PostbackFilter {
    /// DEPOSIT or WITHDRAWAL.
    pub kind: Option<PostbackKind>,
    /// Delivery status.
    pub status: Option<PostbackDeliveryStatus>,
    /// Queued within this range.
    pub created_at: Option<TimeRange>,
}

/// A postback with its cursor.
#[derive(SimpleObject)]
pub struct PostbackEdge {
    /// Opaque: pass it as after to continue from here.
    pub cursor: String,
    /// The postback.
    pub node: Postback,
}

/// A page of postbacks, newest first.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct PostbackConnection {
    /// The postbacks with their cursors.
    pub edges: Vec<PostbackEdge>,
    /// The postbacks (the same as edges' nodes).
    pub nodes: Vec<Postback>,
    /// Where this page stands.
    pub page_info: PageInfo,
    #[graphql(skip)]
    filter: Filter,
}

#[ComplexObject]
impl PostbackConnection {
    /// How many match the filter, in all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let tenant = actor(ctx)?.reader().extend()?;
        let n = service::count(deps(ctx)?, tenant, &self.filter)
            .await
            .extend()?;
        Ok(clamp_count(n))
    }
}

/// Result of resendPostback.
#[derive(SimpleObject)]
pub struct ResendPostbackPayload {
    /// The postback, queued again.
    pub postback: Option<Postback>,
    /// NOT_FOUND; empty on success.
    pub errors: Vec<UserError>,
}

/// Result of rotatePostbackSecret.
#[derive(SimpleObject)]
pub struct RotatePostbackSecretPayload {
    /// Shown once.
    pub secret: Option<String>,
    /// Empty on success.
    pub errors: Vec<UserError>,
}

#[derive(Default)]
pub struct PostbacksQuery;

#[Object]
impl PostbacksQuery {
    /// Delivery log of postbacks (webhooks) sent to the merchant's server.
    #[graphql(complexity = "crate::graphql::limits::page_cost(first, None, child_complexity)")]
    async fn postbacks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which postbacks; all when left out.")] filter: Option<PostbackFilter>,
        #[graphql(desc = "Page size: default 50, at most 500.")] first: Option<i32>,
        #[graphql(desc = "The endCursor of the previous page.")] after: Option<String>,
    ) -> Result<PostbackConnection> {
        let tenant = actor(ctx)?.reader().extend()?;
        let f = filter.unwrap_or_default();
        let filter = Filter {
            kind: f.kind,
            status: f.status,
            created_at: f.created_at.into(),
        };
        let (rows, more) = service::list(deps(ctx)?, tenant, &filter, first, after.as_deref())
            .await
            .extend()?;
        let edges: Vec<PostbackEdge> = rows
            .into_iter()
            .map(|p| PostbackEdge {
                cursor: pagination::encode(CURSOR_KIND, &p.id.to_string()),
                node: Postback(p),
            })
            .collect();
        Ok(PostbackConnection {
            page_info: PageInfo::of(edges.iter().map(|e| &e.cursor), more, after.is_some()),
            nodes: edges.iter().map(|e| e.node.clone()).collect(),
            edges,
            filter,
        })
    }
}

/// How one of the merchant's postback endpoints is doing. Retries keep
/// their schedule while a circuit is open; nothing is dropped.
#[derive(SimpleObject)]
pub struct PostbackEndpointHealth {
    /// The endpoint (the URL in the system settings).
    pub url: String,
    /// Which postbacks go there.
    pub kinds: Vec<PostbackKind>,
    /// CLOSED (delivering), OPEN (waiting for a probe) or HALF_OPEN (probing).
    pub circuit: PostbackCircuit,
    /// Failed attempts in a row (0 after a success).
    pub consecutive_failures: i32,
    /// When an open circuit is next probed; null when closed.
    pub next_probe_at: Option<DateTime>,
    /// The last delivery after a failure; null when it never failed or never recovered.
    pub last_success_at: Option<DateTime>,
    /// The last failed attempt; null if none ever failed.
    pub last_failure_at: Option<DateTime>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

impl From<service::EndpointHealth> for PostbackEndpointHealth {
    fn from(e: service::EndpointHealth) -> Self {
        let kinds = e.kinds;
        let h = e.health;
        PostbackEndpointHealth {
            url: e.url,
            kinds,
            circuit: h.as_ref().map_or(PostbackCircuit::Closed, |h| h.circuit),
            consecutive_failures: h.as_ref().map_or(0, |h| h.consecutive_failures),
            next_probe_at: h.as_ref().and_then(|h| h.next_probe_at).map(Into::into),
            last_success_at: h.as_ref().and_then(|h| h.last_success_at).map(Into::into),
            last_failure_at: h.as_ref().and_then(|h| h.last_failure_at).map(Into::into),
            last_error: h.and_then(|h| h.last_error),
        }
    }
}

/// Result of sendTestPostback.
#[derive(SimpleObject, Default)]
pub struct SendTestPostbackPayload {
    /// True when the receiver answered 2xx.
    pub delivered: bool,
    /// The receiver's HTTP status, when it answered.
    pub http_status: Option<i32>,
    /// Why there was no answer (timeout, refused address, …), when there was none.
    pub error: Option<String>,
    /// REQUIRED when no URL is set for the kind; empty otherwise.
    pub errors: Vec<UserError>,
}

#[derive(Default)]
pub struct PostbacksMutation;

#[Object]
impl PostbacksMutation {
    /// Queues a postback for delivery again.
    async fn resend_postback(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The postback's id (of the caller's merchant).")] id: ID,
    ) -> Result<ResendPostbackPayload> {
        Ok(
            match service::resend(deps(ctx)?, actor(ctx)?, &id)
                .await
                .extend()?
            {
                Ok(p) => ResendPostbackPayload {
                    postback: Some(Postback(p)),
                    errors: vec![],
                },
                Err(e) => ResendPostbackPayload {
                    postback: None,
                    errors: vec![e],
                },
            },
        )
    }

    /// OWNER: signs and POSTs a sample postback (`"test": true`) of `kind` to
    /// the URL set for it, exactly as real deliveries go (address guard,
    /// Standard Webhooks signature, 10 s timeout), and answers with what the
    /// receiver said. Records nothing in the delivery log and queues nothing.
    /// At most 10 a minute per merchant (`RATE_LIMITED`).
    async fn send_test_postback(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "DEPOSIT or WITHDRAWAL: which URL and which sample body.")]
        kind: PostbackKind,
    ) -> Result<SendTestPostbackPayload> {
        Ok(
            match service::send_test(deps(ctx)?, actor(ctx)?, kind)
                .await
                .extend()?
            {
                Ok(o) => SendTestPostbackPayload {
                    delivered: o.delivered,
                    http_status: o.http_status.map(i32::from),
                    error: o.error,
                    errors: vec![],
                },
                Err(e) => SendTestPostbackPayload {
                    errors: vec![e],
                    ..Default::default()
                },
            },
        )
    }

    /// Issues a new postback signing secret; the secret is shown in this payload only.
    async fn rotate_postback_secret(
        &self,
        ctx: &Context<'_>,
    ) -> Result<RotatePostbackSecretPayload> {
        let secret = service::rotate_secret(deps(ctx)?, actor(ctx)?)
            .await
            .extend()?;
        Ok(RotatePostbackSecretPayload {
            secret: Some(secret),
            errors: vec![],
        })
    }
}
