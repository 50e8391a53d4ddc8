//! What a resolver reads from its request: the shared handles, the caller,
//! the client's address, and the per-request DataLoaders that transports put
//! there ([`request_context`]).

use crate::auth::model::Actor;
use crate::deps::Deps;
use crate::error::AppError;
use async_graphql::{Context, ErrorExtensions, Result};
use std::net::IpAddr;

/// What every operation runs with, whichever transport carries it (a
/// request over HTTP, a WebSocket's `connection_init`, a shared
/// subscription): the caller, the client's address and the DataLoaders.
/// The loaders keep no cache (`DataLoader::new`), so one socket's loaders
/// batch each event's lookups and never answer from an earlier event.
pub fn request_context(
    data: &mut async_graphql::Data,
    db: &sea_orm::DatabaseConnection,
    actor: Actor,
    client: IpAddr,
) {
    use crate::accounts::loader::UserLoader;
    use crate::postbacks::loader::{AttemptsLoader, StockpilingPostbacksLoader};
    use crate::transactions::loader::{StockpilingLoader, StockpilingTransactionsLoader};
    use async_graphql::dataloader::DataLoader;
    // A few milliseconds gather a whole page's keys into one batch.
    let window = std::time::Duration::from_millis(2);
    data.insert(actor);
    data.insert(ClientIp(client));
    data.insert(DataLoader::new(UserLoader { db: db.clone() }, tokio::spawn).delay(window));
    data.insert(DataLoader::new(StockpilingLoader { db: db.clone() }, tokio::spawn).delay(window));
    data.insert(
        DataLoader::new(
            StockpilingTransactionsLoader { db: db.clone() },
            tokio::spawn,
        )
        .delay(window),
    );
    data.insert(
        DataLoader::new(StockpilingPostbacksLoader { db: db.clone() }, tokio::spawn).delay(window),
    );
    data.insert(DataLoader::new(AttemptsLoader { db: db.clone() }, tokio::spawn).delay(window));
}

/// The server's shared dependencies.
pub fn deps<'a>(ctx: &Context<'a>) -> Result<&'a Deps> {
    ctx.data::<Deps>()
        .map_err(|_| AppError::Internal(anyhow::anyhow!("schema built without Deps")).extend())
}

/// The caller of this request (set by the HTTP or WebSocket layer).
pub fn actor<'a>(ctx: &Context<'a>) -> Result<&'a Actor> {
    Ok(ctx.data_opt::<Actor>().unwrap_or(&Actor::Anonymous))
}

/// The client's address, for per-client rate limits.
#[derive(Copy, Clone, Debug)]
pub struct ClientIp(pub IpAddr);

pub fn client_ip(ctx: &Context<'_>) -> IpAddr {
    ctx.data_opt::<ClientIp>()
        .map(|c| c.0)
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}
