//! Shared subscriptions: sockets that ask for the same merchant-scoped
//! subscription (same document, variables, merchant and kind of caller)
//! share one execution. Each event is resolved and serialized once per
//! distinct subscription, not once per subscriber; every member then only
//! frames the shared bytes with its own id.

use crate::auth::model::Actor;
use crate::events::graphql::SocketControl;
use crate::graphql::Api;
use async_graphql::Data;
use async_graphql::Executor;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::broadcast;

/// What a shared subscription sends its members.
#[derive(Clone, Debug)]
pub enum Shared {
    /// A `next` payload: the serialized GraphQL response.
    Next(Arc<str>),
    /// The request failed before any data (graphql-transport-ws `error`): the errors array.
    Error(Arc<str>),
    /// The stream ended.
    Complete,
    /// Close the socket with this code (resync, a subscriber too slow).
    Close(u16, &'static str),
}

/// Who may share: same merchant, same kind of caller, same request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub merchant_id: i64,
    pub caller: String,
    pub query: String,
    pub variables: String,
    pub operation: Option<String>,
}

impl Key {
    /// The sharing key of a request by `actor`, or `None` when it is not a
    /// merchant reader's (the plugin's subscriptions run on their own).
    pub fn of(
        actor: &Actor,
        query: &str,
        variables: &serde_json::Value,
        operation: Option<&str>,
    ) -> Option<Key> {
        let tenant = actor.reader().ok()?;
        let caller = match actor {
            Actor::User(u) => format!("user:{:?}", u.role),
            Actor::Key(k) => format!("key:{:?}", k.scope),
            _ => return None,
        };
        Some(Key {
            merchant_id: tenant.merchant_id,
            caller,
            query: query.to_string(),
            variables: variables.to_string(),
            operation: operation.map(str::to_string),
        })
    }
}

/// One running shared subscription; stops when its last member leaves.
pub struct Group {
    tx: broadcast::Sender<Shared>,
    task: tokio::task::JoinHandle<()>,
    key: Key,
    hub: Weak<Hub>,
}

impl Drop for Group {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(hub) = self.hub.upgrade() {
            let mut groups = hub.groups.lock().unwrap_or_else(|p| p.into_inner());
            if groups.get(&self.key).is_some_and(|w| w.strong_count() == 0) {
                groups.remove(&self.key);
            }
        }
    }
}

/// A member's hold on a group: its receiver, and the group kept alive.
pub struct Membership {
    pub rx: broadcast::Receiver<Shared>,
    _group: Arc<Group>,
}

#[derive(Default)]
pub struct Hub {
    groups: Mutex<HashMap<Key, Weak<Group>>>,
}

impl Hub {
    /// Joins the group for `key`, starting it (as `actor`) if none runs.
    pub fn join(
        self: &Arc<Self>,
        schema: &Api,
        buffer: usize,
        key: Key,
        actor: &Actor,
        client: std::net::IpAddr,
    ) -> Membership {
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(group) = groups
            .get(&key)
            .and_then(Weak::upgrade)
            .filter(|g| !g.task.is_finished())
        {
            return Membership {
                rx: group.tx.subscribe(),
                _group: group,
            };
        }
        let (tx, rx) = broadcast::channel(buffer.max(1));
        let task = tokio::spawn(run(
            schema.clone(),
            key.clone(),
            actor.clone(),
            client,
            tx.clone(),
        ));
        let group = Arc::new(Group {
            tx,
            task,
            key: key.clone(),
            hub: Arc::downgrade(self),
        });
        groups.insert(key, Arc::downgrade(&group));
        Membership { rx, _group: group }
    }
}

/// Executes the subscription once and hands each response to the members.
async fn run(
    schema: Api,
    key: Key,
    actor: Actor,
    client: std::net::IpAddr,
    tx: broadcast::Sender<Shared>,
) {
    let control = SocketControl::default();
    let Some(db) = schema
        .schema
        .data::<crate::deps::Deps>()
        .map(|d| d.db.clone())
    else {
        let _ = tx.send(Shared::Close(1011, "internal error"));
        return;
    };
    let variables = serde_json::from_str(&key.variables).unwrap_or_default();
    let mut request = async_graphql::Request::new(key.query.clone())
        .variables(async_graphql::Variables::from_json(variables));
    if let Some(op) = &key.operation {
        request = request.operation_name(op.clone());
    }
    let mut data = Data::default();
    // (the address is the first member's; nothing a subscription does is limited by it)
    crate::graphql::context::request_context(&mut data, &db, actor, client);
    data.insert(control.clone());
    let mut stream = schema.execute_stream(request, Some(Arc::new(data)));
    let mut first = true;
    loop {
        tokio::select! {
            next = stream.next() => match next {
                Some(response) => {
                    let failed = first && response.is_err() && response.data == async_graphql::Value::Null;
                    first = false;
                    let msg = if failed {
                        Shared::Error(serde_json::to_string(&response.errors).unwrap_or_default().into())
                    } else {
                        Shared::Next(serde_json::to_string(&response).unwrap_or_default().into())
                    };
                    let _ = tx.send(msg);
                    if failed {
                        return;
                    }
                }
                None => {
                    // A stream ended by a close request (resync, too slow) closes the sockets.
                    let _ = tx.send(match control.asked() {
                        Some((code, reason)) => Shared::Close(code, reason),
                        None => Shared::Complete,
                    });
                    return;
                }
            },
            _ = control.wake.notified() => {
                let (code, reason) = control.asked_or_normal();
                let _ = tx.send(Shared::Close(code, reason));
                return;
            }
        }
    }
}
