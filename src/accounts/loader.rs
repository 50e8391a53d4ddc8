//! Batches user look-ups of one request (audit entries, `createdBy`) into one query.

use async_graphql::dataloader::Loader;
use entity::user;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use std::collections::HashMap;
use std::sync::Arc;

/// Loads users by (merchant id, user id); a user of another merchant loads nothing.
pub struct UserLoader {
    pub db: DatabaseConnection,
}

impl Loader<(i64, i64)> for UserLoader {
    type Value = user::Model;
    type Error = Arc<sea_orm::DbErr>;

    async fn load(
        &self,
        keys: &[(i64, i64)],
    ) -> Result<HashMap<(i64, i64), Self::Value>, Self::Error> {
        let rows = user::Entity::find()
            .filter(user::Column::Id.is_in(keys.iter().map(|k| k.1).collect::<Vec<_>>()))
            .all(&self.db)
            .await
            .map_err(Arc::new)?;
        Ok(rows
            .into_iter()
            .map(|u| ((u.merchant_id, u.id), u))
            .filter(|(k, _)| keys.contains(k))
            .collect())
    }
}
