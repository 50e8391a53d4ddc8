//! Reading the catalogue; listing and creating wallets.

use super::model::{Catalog, Currency, PaymentSystem, WithdrawalFieldSpec};
use crate::audit::Audit;
use crate::auth::model::Actor;
use crate::db::{write, Change};
use crate::deps::Deps;
use crate::error::{is_unique_violation, AppError, AppResult};
use anyhow::Context;
use entity::{currency, merchant, payment_system, wallet};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;

/// Loads the catalogue the migrations shipped.
pub async fn load_catalog(db: &DatabaseConnection) -> anyhow::Result<Catalog> {
    let systems = payment_system::Entity::find()
        .order_by_asc(payment_system::Column::Position)
        .all(db)
        .await
        .context("reading payment systems")?
        .into_iter()
        .map(|p| {
            let fields: Vec<WithdrawalFieldSpec> = serde_json::from_str(&p.withdrawal_fields)
                .with_context(|| format!("withdrawal fields of {}", p.code))?;
            Ok(PaymentSystem {
                code: p.code,
                name: p.name,
                country: p.country,
                currency: p.currency,
                withdrawal_fields: fields,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let currencies = currency::Entity::find()
        .order_by_asc(currency::Column::Code)
        .all(db)
        .await
        .context("reading currencies")?
        .into_iter()
        .map(|c| Currency {
            code: c.code,
            name: c.name,
            minor_units: c.minor_units,
        })
        .collect();
    Ok(Catalog::new(systems, currencies))
}

/// The payment systems, optionally of one country.
pub fn payment_systems<'a>(
    catalog: &'a Catalog,
    actor: &Actor,
    country: Option<&str>,
) -> AppResult<Vec<&'a PaymentSystem>> {
    actor.authenticated()?;
    Ok(catalog
        .payment_systems
        .iter()
        .filter(|p| country.is_none_or(|c| p.country.eq_ignore_ascii_case(c)))
        .collect())
}

/// The caller's merchant's wallets, optionally of one payment system.
pub async fn wallets(
    d: &Deps,
    actor: &Actor,
    payment_system: Option<&str>,
) -> AppResult<Vec<wallet::Model>> {
    let tenant = actor.reader()?;
    let mut q = wallet::Entity::find().filter(wallet::Column::MerchantId.eq(tenant.merchant_id));
    if let Some(code) = payment_system {
        q = q.filter(wallet::Column::PaymentSystem.eq(code));
    }
    Ok(q.order_by_asc(wallet::Column::Id).all(&d.db).await?)
}

/// Registers a wallet for a merchant (command line and demo).
pub async fn create_wallet(
    d: &Deps,
    merchant_id: i64,
    payment_system: &str,
    identifier: &str,
) -> AppResult<wallet::Model> {
    let identifier = identifier.trim();
    if d.catalog.payment_system(payment_system).is_none() {
        return Err(AppError::Invalid(format!(
            "unknown payment system `{payment_system}`"
        )));
    }
    if identifier.is_empty() || identifier.len() > 128 {
        return Err(AppError::Invalid(
            "the wallet identifier must be 1 to 128 characters".into(),
        ));
    }
    write(d, &Actor::Cli, async |txn, now| {
        if merchant::Entity::find_by_id(merchant_id)
            .one(txn)
            .await?
            .is_none()
        {
            return Err(AppError::Invalid(format!(
                "merchant {merchant_id} does not exist"
            )));
        }
        let w = wallet::ActiveModel {
            merchant_id: Set(merchant_id),
            payment_system: Set(payment_system.to_string()),
            identifier: Set(identifier.to_string()),
            active: Set(true),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                AppError::Invalid(format!(
                    "a {payment_system} wallet `{identifier}` is already registered"
                ))
            } else {
                e.into()
            }
        })?;
        let entry = Audit {
            merchant_id: Some(merchant_id),
            action: "wallet.create",
            subject: Some(format!("wallet:{}", w.id)),
            details: json!({ "payment_system": payment_system, "identifier": identifier }),
        };
        Ok(Change::done(w).audited(entry))
    })
    .await
}
