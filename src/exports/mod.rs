//! CSV exports (BEHAVIOUR §13): `exportTransactions` / `exportWithdrawals`
//! take the page's filter and answer a download URL valid ten minutes for
//! the caller's merchant; `GET /exports/<token>` streams every row the
//! filter selects, newest first, a chunk at a time (constant memory), with
//! a header row, amounts as plain decimals, times in ISO 8601 UTC, and
//! cells a spreadsheet would run as a formula made inert.

pub mod graphql;
pub mod service;
