//! GraphQL subscriptions over the bus: transactionEvents, withdrawalEvents,
//! activationRequestUpdated.

use super::{Event, TransactionEventKind, WithdrawalEventKind};
use crate::activation::graphql::ActivationRequest;
use crate::error::AppError;
use crate::graphql::context::{actor, deps};
use crate::graphql::scalars::DateTime;
use crate::transactions::graphql::Transaction;
use crate::withdrawals::graphql::Withdrawal;
use async_graphql::{
    Context, ErrorExtensions, InputObject, Result, ResultExt, SimpleObject, Subscription, ID,
};
use futures_util::{Stream, StreamExt};
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

/// Asks the socket a subscription runs on to close with a code (set by the
/// WebSocket layer; absent over other transports).
#[derive(Clone, Default)]
pub struct SocketControl {
    close: Arc<std::sync::Mutex<Option<(u16, &'static str)>>>,
    pub wake: Arc<tokio::sync::Notify>,
}

/// Close code for a subscriber that fell too far behind (RFC 6455 "try again later").
pub const CLOSE_TOO_SLOW: u16 = 1013;
/// Close code telling clients to reconnect and refetch: fan-out between
/// instances was interrupted (RFC 6455 "service restart").
pub const CLOSE_RESYNC: u16 = 1012;

impl SocketControl {
    pub fn request(&self, code: u16, reason: &'static str) {
        let mut slot = self.close.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert((code, reason));
        self.wake.notify_one();
    }

    /// The close asked for, if any (taking it).
    pub fn asked(&self) -> Option<(u16, &'static str)> {
        self.close.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// The close asked for; a plain 1000 when woken without one.
    pub fn asked_or_normal(&self) -> (u16, &'static str) {
        self.asked().unwrap_or((1000, "closing"))
    }
}

/// Every event from now on; a lagging receiver asks its socket to close.
fn events(ctx: &Context<'_>) -> Result<impl Stream<Item = Arc<Event>> + use<>> {
    let rx = deps(ctx)?.bus.subscribe();
    let control = ctx.data_opt::<SocketControl>().cloned();
    Ok(futures_util::stream::unfold(
        (rx, control),
        |(mut rx, control)| async move {
            match rx.recv().await {
                Ok(e) if matches!(*e, Event::Resync) => {
                    if let Some(c) = &control {
                        c.request(CLOSE_RESYNC, "resync: refetch and subscribe again");
                    }
                    None
                }
                Ok(e) => Some((e, (rx, control))),
                Err(RecvError::Lagged(_)) => {
                    if let Some(c) = &control {
                        c.request(CLOSE_TOO_SLOW, "subscriber too slow");
                    }
                    None
                }
                Err(RecvError::Closed) => None,
            }
        },
    ))
}

/// Which transaction events to receive; each field left out matches all.
#[derive(InputObject, Default)]
pub struct TransactionEventFilter {
    /// Only these kinds.
    pub kinds: Option<Vec<TransactionEventKind>>,
    /// Only these payment-system codes.
    pub payment_systems: Option<Vec<String>>,
    /// Only this payer's (exact label).
    pub label: Option<String>,
}

/// A change to one of the merchant's transactions.
#[derive(SimpleObject)]
pub struct TransactionEvent {
    /// What changed.
    pub kind: TransactionEventKind,
    /// When the change was committed.
    pub at: DateTime,
    /// The transaction as it stood right after the change.
    pub transaction: Transaction,
}

/// Which withdrawal events to receive; each field left out matches all.
#[derive(InputObject, Default)]
pub struct WithdrawalEventFilter {
    /// Only these kinds.
    pub kinds: Option<Vec<WithdrawalEventKind>>,
    /// Only these payment-system codes.
    pub payment_systems: Option<Vec<String>>,
}

/// A change to one of the merchant's withdrawals.
#[derive(SimpleObject)]
pub struct WithdrawalEvent {
    /// What changed.
    pub kind: WithdrawalEventKind,
    /// When the change was committed.
    pub at: DateTime,
    /// The withdrawal as it stood right after the change.
    pub withdrawal: Withdrawal,
}

#[derive(Default)]
pub struct EventsSubscription;

/// Live events over the WebSocket /graphql/ws (graphql-transport-ws, or the legacy graphql-ws). Put the credential in connection_init: {"authorization": "Bearer <token>"}. Close 1012: reconnect, refetch, subscribe again; 1013: this client fell behind, do the same; 4401: the credential ended, sign in again.
#[Subscription(name = "Subscription")]
impl EventsSubscription {
    /// Live changes to the merchant's transactions. Needs a user session (connection_init payload).
    async fn transaction_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which events; every transaction event of the merchant when left out.")]
        filter: Option<TransactionEventFilter>,
    ) -> Result<impl Stream<Item = TransactionEvent> + use<>> {
        let tenant = actor(ctx)?.reader().extend()?;
        let f = filter.unwrap_or_default();
        Ok(events(ctx)?.filter_map(move |e| {
            let out = match &*e {
                Event::Transaction {
                    merchant_id,
                    kind,
                    at,
                    transaction,
                } if *merchant_id == tenant.merchant_id
                    && f.payment_systems
                        .as_ref()
                        .is_none_or(|s| s.contains(&transaction.payment_system))
                    && f.label
                        .as_ref()
                        .is_none_or(|l| transaction.label.as_ref() == Some(l)) =>
                {
                    Some(*kind)
                        .filter(|k| f.kinds.as_ref().is_none_or(|ks| ks.contains(k)))
                        .map(|kind| TransactionEvent {
                            kind,
                            at: (*at).into(),
                            transaction: Transaction(transaction.clone().into()),
                        })
                }
                _ => None,
            };
            futures_util::future::ready(out)
        }))
    }

    /// Live changes to the merchant's withdrawals. Needs a user session.
    async fn withdrawal_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which events; every withdrawal event of the merchant when left out.")]
        filter: Option<WithdrawalEventFilter>,
    ) -> Result<impl Stream<Item = WithdrawalEvent> + use<>> {
        let tenant = actor(ctx)?.reader().extend()?;
        let f = filter.unwrap_or_default();
        Ok(events(ctx)?.filter_map(move |e| {
            let out = match &*e {
                Event::Withdrawal {
                    merchant_id,
                    kind,
                    at,
                    withdrawal,
                } if *merchant_id == tenant.merchant_id
                    && f.payment_systems
                        .as_ref()
                        .is_none_or(|s| s.contains(&withdrawal.payment_system)) =>
                {
                    Some(*kind)
                        .filter(|k| f.kinds.as_ref().is_none_or(|ks| ks.contains(k)))
                        .map(|kind| WithdrawalEvent {
                            kind,
                            at: (*at).into(),
                            withdrawal: Withdrawal(withdrawal.clone()),
                        })
                }
                _ => None,
            };
            futures_util::future::ready(out)
        }))
    }

    /// Public: follows one activation request until it settles (ACTIVATED, EXPIRED or REJECTED).
    async fn activation_request_updated(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The ticket activateDeposit answered with.")] ticket: ID,
    ) -> Result<impl Stream<Item = ActivationRequest> + use<>> {
        let d = deps(ctx)?.clone();
        let live = events(ctx)?;
        let current = crate::activation::service::activation_request(&d, &ticket)
            .await
            .extend()?
            .ok_or_else(|| AppError::NotFound.extend())?;
        // A plugin page that signed its socket with a plugin key follows
        // only its own merchant's requests.
        if let crate::auth::model::Actor::Plugin { merchant_id } = actor(ctx)? {
            if *merchant_id != current.merchant_id {
                return Err(AppError::NotFound.extend());
            }
        }
        let settled = crate::activation::model::is_settled(current.status);
        let ticket = current.ticket.clone();
        let expires_in = (current.expires_at - d.clock.now())
            .to_std()
            .unwrap_or_default();
        let first = futures_util::stream::once(futures_util::future::ready(
            ActivationRequest::new(current),
        ));
        let wanted = ticket.clone();
        let updates = live.filter_map(move |e| {
            let out = match &*e {
                Event::ActivationRequest { request, .. } if request.ticket == wanted => {
                    Some(ActivationRequest::new(request.clone()))
                }
                _ => None,
            };
            futures_util::future::ready(out)
        });
        // At its expiry the request is read once more (and recorded EXPIRED if still waiting).
        let expiry = futures_util::stream::once(async move {
            tokio::time::sleep(expires_in).await;
            crate::activation::service::activation_request(&d, &ticket)
                .await
                .ok()
                .flatten()
                .map(ActivationRequest::new)
        })
        .filter_map(futures_util::future::ready);
        let tail = if settled {
            futures_util::stream::empty().boxed()
        } else {
            futures_util::stream::select(updates, expiry).boxed()
        };
        // Ends right after the request settles, without waiting for another event.
        let all = first.chain(tail).boxed();
        Ok(futures_util::stream::unfold(
            (all, false),
            |(mut all, settled)| async move {
                if settled {
                    return None;
                }
                let r = all.next().await?;
                let settled = crate::activation::model::is_settled(r.request.status);
                Some((r, (all, settled)))
            },
        ))
    }
}
