//! DataLoaders: attempts of postbacks, postbacks of stockpilings.

use async_graphql::dataloader::Loader;
use entity::{postback, postback_attempt};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;
use std::sync::Arc;

pub struct AttemptsLoader {
    pub db: DatabaseConnection,
}

impl Loader<i64> for AttemptsLoader {
    type Value = Vec<postback_attempt::Model>;
    type Error = Arc<sea_orm::DbErr>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let mut out: HashMap<i64, Self::Value> = HashMap::new();
        for a in postback_attempt::Entity::find()
            .filter(postback_attempt::Column::PostbackId.is_in(keys.to_vec()))
            .order_by_asc(postback_attempt::Column::Id)
            .all(&self.db)
            .await
            .map_err(Arc::new)?
        {
            out.entry(a.postback_id).or_default().push(a);
        }
        Ok(out)
    }
}

pub struct StockpilingPostbacksLoader {
    pub db: DatabaseConnection,
}

impl Loader<i64> for StockpilingPostbacksLoader {
    type Value = Vec<postback::Model>;
    type Error = Arc<sea_orm::DbErr>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let mut out: HashMap<i64, Self::Value> = HashMap::new();
        for p in postback::Entity::find()
            .filter(postback::Column::StockpilingId.is_in(keys.to_vec()))
            .order_by_asc(postback::Column::Id)
            .all(&self.db)
            .await
            .map_err(Arc::new)?
        {
            if let Some(s) = p.stockpiling_id {
                out.entry(s).or_default().push(p);
            }
        }
        Ok(out)
    }
}
