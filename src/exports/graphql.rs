//! GraphQL: exportTransactions, exportWithdrawals.

use super::service::{self, Kind};
use crate::error::UserError;
use crate::graphql::context::{actor, deps};
use crate::graphql::scalars::DateTime;
use crate::transactions::graphql::TransactionFilter;
use crate::withdrawals::graphql::WithdrawalFilter;
use async_graphql::{Context, InputType, Object, Result, ResultExt, SimpleObject};

/// Result of exportTransactions / exportWithdrawals.
#[derive(SimpleObject, Default)]
pub struct ExportPayload {
    /// Where to download the CSV (GET, no header needed); valid until expiresAt, for the caller's merchant only.
    pub url: Option<String>,
    /// When the URL stops working (ten minutes on).
    pub expires_at: Option<DateTime>,
    /// Empty on success.
    pub errors: Vec<UserError>,
}

fn as_json<T: InputType>(filter: &Option<T>) -> serde_json::Value {
    filter
        .as_ref()
        .map(|f| f.to_value().into_json().unwrap_or_default())
        .unwrap_or(serde_json::Value::Null)
}

/// Makes the export's token (the filter already checked) and answers its URL.
async fn created(
    ctx: &Context<'_>,
    kind: Kind,
    filter: serde_json::Value,
) -> Result<ExportPayload> {
    let (url, expires_at) = service::create(deps(ctx)?, actor(ctx)?, kind, filter)
        .await
        .extend()?;
    Ok(ExportPayload {
        url: Some(url),
        expires_at: Some(expires_at.into()),
        errors: vec![],
    })
}

#[derive(Default)]
pub struct ExportsMutation;

#[Object]
impl ExportsMutation {
    /// A CSV file of the transactions the filter selects, for download at the returned URL (no page limit).
    async fn export_transactions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The Transactions page's filter; all of the merchant's when left out.")]
        filter: Option<TransactionFilter>,
    ) -> Result<ExportPayload> {
        let json = as_json(&filter);
        // checked now, so a bad filter is an error here and not a broken download
        filter.unwrap_or_default().parse()?;
        created(ctx, Kind::Transactions, json).await
    }

    /// A CSV file of the withdrawals the filter selects, for download at the returned URL (no page limit).
    async fn export_withdrawals(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The Withdrawals page's filter; all of the merchant's when left out.")]
        filter: Option<WithdrawalFilter>,
    ) -> Result<ExportPayload> {
        let json = as_json(&filter);
        filter.unwrap_or_default().parse()?;
        created(ctx, Kind::Withdrawals, json).await
    }
}

/// The stored filter of an export, parsed again for its kind.
pub fn stored_filter(e: &entity::export::Model) -> Result<service::Filter> {
    let json: serde_json::Value = serde_json::from_str(&e.filter)?;
    let value = (!json.is_null())
        .then(|| async_graphql::Value::from_json(json))
        .transpose()?;
    Ok(if e.kind == Kind::Withdrawals {
        let f = <Option<WithdrawalFilter> as InputType>::parse(value)
            .map_err(|e| e.into_server_error(Default::default()))?;
        service::Filter::Withdrawals(f.unwrap_or_default().parse()?)
    } else {
        let f = <Option<TransactionFilter> as InputType>::parse(value)
            .map_err(|e| e.into_server_error(Default::default()))?;
        service::Filter::Transactions(f.unwrap_or_default().parse()?)
    })
}
