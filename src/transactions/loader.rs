//! DataLoaders for a page's nested fields: one query per field per page.

use async_graphql::dataloader::Loader;
use entity::{stockpiling, transaction};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;
use std::sync::Arc;

/// Stockpilings by id (ids come from the caller's own transactions).
pub struct StockpilingLoader {
    pub db: DatabaseConnection,
}

impl Loader<i64> for StockpilingLoader {
    type Value = stockpiling::Model;
    type Error = Arc<sea_orm::DbErr>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        Ok(stockpiling::Entity::find()
            .filter(stockpiling::Column::Id.is_in(keys.to_vec()))
            .all(&self.db)
            .await
            .map_err(Arc::new)?
            .into_iter()
            .map(|s| (s.id, s))
            .collect())
    }
}

/// The transactions of each stockpiling, oldest first.
pub struct StockpilingTransactionsLoader {
    pub db: DatabaseConnection,
}

impl Loader<i64> for StockpilingTransactionsLoader {
    type Value = Vec<transaction::Model>;
    type Error = Arc<sea_orm::DbErr>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = transaction::Entity::find()
            .filter(transaction::Column::StockpilingId.is_in(keys.to_vec()))
            .order_by_asc(transaction::Column::Id)
            .all(&self.db)
            .await
            .map_err(Arc::new)?;
        let mut out: HashMap<i64, Vec<transaction::Model>> = HashMap::new();
        for t in rows {
            if let Some(s) = t.stockpiling_id {
                out.entry(s).or_default().push(t);
            }
        }
        Ok(out)
    }
}
