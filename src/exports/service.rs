//! Export tokens and the streamed CSV.

use crate::auth::model::{Actor, Tenant};
use crate::auth::tokens;
use crate::deps::Deps;
use crate::error::{AppError, AppResult};
use axum::body::Bytes;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use entity::{export, transaction, withdrawal};
use futures_util::Stream;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

/// How long a download URL works.
pub const VALID_FOR: TimeDelta = TimeDelta::minutes(10);
/// Rows read per query while streaming.
const CHUNK: u64 = 500;
const TOKEN_PREFIX: &str = "kex_";

/// What an export downloads.
pub use entity::export::ExportKind as Kind;

/// The download's file name stem of each kind.
trait FileStem {
    fn file_stem(self) -> &'static str;
}

impl FileStem for Kind {
    fn file_stem(self) -> &'static str {
        match self {
            Kind::Transactions => "transactions",
            Kind::Withdrawals => "withdrawals",
        }
    }
}

/// Makes a download token for the caller's merchant: the URL and its end.
/// `filter` is the page's GraphQL filter input, as JSON (checked by the caller).
pub async fn create(
    d: &Deps,
    actor: &Actor,
    kind: Kind,
    filter: serde_json::Value,
) -> AppResult<(String, DateTime<Utc>)> {
    let tenant = actor.reader()?;
    let token = tokens::generate(TOKEN_PREFIX);
    let now = d.clock.now();
    let expires_at = now + VALID_FOR;
    export::ActiveModel {
        token_hash: Set(tokens::digest(&token)),
        merchant_id: Set(tenant.merchant_id),
        kind: Set(kind),
        filter: Set(filter.to_string()),
        created_at: Set(now),
        expires_at: Set(expires_at),
        ..Default::default()
    }
    .insert(&d.db)
    .await?;
    let url = format!(
        "{}/exports/{token}",
        d.config.public_url.trim_end_matches('/')
    );
    Ok((url, expires_at))
}

/// The export a token names, while it is valid.
pub async fn find(d: &Deps, token: &str) -> AppResult<Option<export::Model>> {
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
        return Ok(None);
    }
    Ok(export::Entity::find()
        .filter(export::Column::TokenHash.eq(tokens::digest(token)))
        .filter(export::Column::ExpiresAt.gt(d.clock.now()))
        .one(&d.db)
        .await?)
}

/// The download's file name: `transactions-2026-12-01.csv`.
pub fn file_name(e: &export::Model) -> String {
    format!(
        "{}-{}.csv",
        e.kind.file_stem(),
        e.created_at.format("%Y-%m-%d")
    )
}

/// A cell a spreadsheet would run as a formula, made inert (OWASP's advice:
/// a leading apostrophe); everything else as it is.
fn cell(text: &str) -> std::borrow::Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}").into(),
        _ => text.into(),
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn write_row(out: &mut csv::Writer<Vec<u8>>, cells: &[&str]) -> AppResult<()> {
    out.write_record(cells.iter().map(|c| cell(c).into_owned()))
        .map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))
}

const TRANSACTION_COLUMNS: [&str; 18] = [
    "id",
    "created_at",
    "activated_at",
    "payment_system",
    "wallet",
    "direction",
    "amount",
    "currency",
    "commission",
    "transaction_number",
    "counterparty",
    "label",
    "order_id",
    "status",
    "postback_status",
    "type",
    "originality",
    "country",
];

const WITHDRAWAL_COLUMNS: [&str; 14] = [
    "id",
    "created_at",
    "payment_system",
    "recipient",
    "amount",
    "currency",
    "status",
    "request_kind",
    "postback_status",
    "label",
    "comment",
    "decision_comment",
    "fields",
    "processed_at",
];

fn transaction_row(
    d: &Deps,
    out: &mut csv::Writer<Vec<u8>>,
    t: &transaction::Model,
) -> AppResult<()> {
    write_row(
        out,
        &[
            &t.id.to_string(),
            &time(t.created_at),
            &t.activated_at.map(time).unwrap_or_default(),
            &t.payment_system,
            &t.wallet_identifier,
            t.direction.as_str(),
            &d.catalog.decimal(&t.amount()).to_string(),
            &t.currency,
            &d.catalog.decimal(&t.commission()).to_string(),
            &t.transaction_number,
            t.counterparty.as_deref().unwrap_or(""),
            t.label.as_deref().unwrap_or(""),
            t.order_id.as_deref().unwrap_or(""),
            t.status().as_str(),
            t.postback_status.as_str(),
            t.kind.as_str(),
            t.originality.as_str(),
            &t.country,
        ],
    )
}

fn withdrawal_row(
    d: &Deps,
    out: &mut csv::Writer<Vec<u8>>,
    w: &withdrawal::Model,
) -> AppResult<()> {
    write_row(
        out,
        &[
            &w.id.to_string(),
            &time(w.created_at),
            &w.payment_system,
            &w.recipient,
            &d.catalog.decimal(&w.amount()).to_string(),
            &w.currency,
            w.status.as_str(),
            w.request_kind.as_str(),
            w.postback_status.as_str(),
            w.label.as_deref().unwrap_or(""),
            w.comment.as_deref().unwrap_or(""),
            w.decision_comment.as_deref().unwrap_or(""),
            &w.fields,
            &w.processed_at.map(time).unwrap_or_default(),
        ],
    )
}

/// Where a download stands between chunks.
struct Cursor {
    before: Option<i64>,
    header: bool,
    done: bool,
}

/// The rows of export `e`, as CSV bytes a chunk at a time: newest first, by
/// keyset (`id < last`), so memory stays flat whatever the row count.
/// `filter` is the parsed page filter of the export's kind.
pub fn stream(
    d: Deps,
    e: export::Model,
    filter: Filter,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    let tenant = Tenant {
        merchant_id: e.merchant_id,
    };
    let start = Cursor {
        before: None,
        header: true,
        done: false,
    };
    futures_util::stream::unfold(start, move |mut at| {
        let (d, filter) = (d.clone(), filter.clone());
        async move {
            if at.done {
                return None;
            }
            let mut out = csv::Writer::from_writer(Vec::with_capacity(64 * 1024));
            let chunk = async {
                if at.header {
                    let header: &[&str] = match &filter {
                        Filter::Transactions(_) => &TRANSACTION_COLUMNS,
                        Filter::Withdrawals(_) => &WITHDRAWAL_COLUMNS,
                    };
                    out.write_record(header)
                        .map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))?;
                    at.header = false;
                }
                let read = match &filter {
                    Filter::Transactions(f) => {
                        let (rows, more) = crate::pagination::newest_first(
                            &d,
                            crate::pagination::find_all::<transaction::Entity>(
                                sea_orm::ConnectionTrait::get_database_backend(&d.db),
                            )
                            .filter(crate::transactions::service::matching(f)),
                            transaction::Column::Id,
                            crate::transactions::service::owner(tenant, f),
                            at.before,
                            CHUNK,
                        )
                        .await?;
                        for t in &rows {
                            transaction_row(&d, &mut out, t)?;
                        }
                        (more, rows.last().map(|t| t.id))
                    }
                    Filter::Withdrawals(f) => {
                        let (rows, more) = crate::pagination::newest_first(
                            &d,
                            crate::pagination::find_all::<withdrawal::Entity>(
                                sea_orm::ConnectionTrait::get_database_backend(&d.db),
                            )
                            .filter(crate::withdrawals::service::matching(f)),
                            withdrawal::Column::Id,
                            crate::withdrawals::service::owner(tenant, f),
                            at.before,
                            CHUNK,
                        )
                        .await?;
                        for w in &rows {
                            withdrawal_row(&d, &mut out, w)?;
                        }
                        (more, rows.last().map(|w| w.id))
                    }
                };
                AppResult::Ok(read)
            };
            match chunk.await {
                Ok((more, last)) => {
                    at.before = last;
                    at.done = !more;
                    let bytes = out.into_inner().unwrap_or_default();
                    Some((Ok(Bytes::from(bytes)), at))
                }
                Err(e) => {
                    // The download ends cut short (the client sees a broken
                    // transfer, never a silently shorter file).
                    tracing::error!(error = ?e, "streaming an export failed");
                    at.done = true;
                    Some((Err(std::io::Error::other("export failed")), at))
                }
            }
        }
    })
}

/// An export's filter, parsed for its kind.
#[derive(Clone)]
pub enum Filter {
    Transactions(crate::transactions::model::Filter),
    Withdrawals(crate::withdrawals::service::Filter),
}
