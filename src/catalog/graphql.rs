//! GraphQL: payment systems, currencies and wallets.

use super::model::{Currency, PaymentSystem};
use super::service;
use crate::graphql::context::{actor, deps};
use async_graphql::{
    ComplexObject, Context, ErrorExtensions, Object, Result, ResultExt, SimpleObject, ID,
};
use entity::wallet;

/// One of the merchant's wallets at a payment system.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Wallet {
    /// The wallet's id.
    pub id: ID,
    #[graphql(skip)]
    pub payment_system_code: String,
    /// The wallet's number or account at the payment system, where payers pay.
    pub identifier: String,
    /// The wallet's currency (ISO 4217).
    pub currency: String,
    /// Inactive wallets are not offered to payers.
    pub active: bool,
}

#[ComplexObject]
impl Wallet {
    /// The payment system the wallet belongs to.
    async fn payment_system<'ctx>(&self, ctx: &Context<'ctx>) -> Result<&'ctx PaymentSystem> {
        deps(ctx)?
            .catalog
            .payment_system(&self.payment_system_code)
            .ok_or_else(|| crate::error::AppError::NotFound.extend())
    }
}

impl Wallet {
    fn from_model(w: wallet::Model, currency: String) -> Self {
        Wallet {
            id: ID(w.id.to_string()),
            payment_system_code: w.payment_system,
            identifier: w.identifier,
            currency,
            active: w.active,
        }
    }
}

#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// Payment systems (wallet types) known to the platform, with their withdrawal fields.
    async fn payment_systems(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "ISO 3166-1 alpha-2 country code (\"IN\", \"BD\"); all countries when left out."
        )]
        country: Option<String>,
    ) -> Result<Vec<PaymentSystem>> {
        let d = deps(ctx)?;
        Ok(
            service::payment_systems(&d.catalog, actor(ctx)?, country.as_deref())
                .extend()?
                .into_iter()
                .cloned()
                .collect(),
        )
    }

    /// Currencies the platform knows, with their minor units.
    async fn currencies(&self, ctx: &Context<'_>) -> Result<Vec<Currency>> {
        actor(ctx)?.authenticated().extend()?;
        Ok(deps(ctx)?.catalog.currencies.clone())
    }

    /// The merchant's wallets.
    async fn wallets(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A payment-system code (\"paytm\"); every payment system when left out.")]
        payment_system: Option<String>,
    ) -> Result<Vec<Wallet>> {
        let d = deps(ctx)?;
        let rows = service::wallets(d, actor(ctx)?, payment_system.as_deref())
            .await
            .extend()?;
        Ok(rows
            .into_iter()
            .map(|w| {
                let currency = d
                    .catalog
                    .payment_system(&w.payment_system)
                    .map(|p| p.currency.clone())
                    .unwrap_or_default();
                Wallet::from_model(w, currency)
            })
            .collect())
    }
}
