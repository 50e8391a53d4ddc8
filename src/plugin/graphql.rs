//! GraphQL: plugin appearance, uploads and installation.

use super::service::{self, Appearance};
use crate::activation::graphql::PluginTheme;
use crate::catalog::model::PaymentSystem;
use crate::deps::Deps;
use crate::error::UserError;
use crate::graphql::context::{actor, deps};
use async_graphql::{Context, InputObject, Object, Result, ResultExt, SimpleObject, Upload};
use std::io::Read;

/// The picture the plugin shows for a payment system (how to pay).
#[derive(SimpleObject, Clone)]
pub struct PaymentSystemPrompt {
    /// The payment system it is for.
    pub payment_system: PaymentSystem,
    /// Where the GIF is served (/files/…).
    pub image_url: String,
}

/// How the plugin looks.
#[derive(SimpleObject, Clone)]
pub struct PluginAppearance {
    /// The colour theme.
    pub theme: PluginTheme,
    /// The merchant's stylesheet (/files/…) used with CUSTOM; null when none.
    pub custom_css_url: Option<String>,
    /// The payment systems' prompt pictures.
    pub prompts: Vec<PaymentSystemPrompt>,
}

impl PluginAppearance {
    pub fn new(d: &Deps, a: Appearance) -> Self {
        PluginAppearance {
            theme: a.theme,
            custom_css_url: a.custom_css.map(|n| service::file_url(d, &n)),
            prompts: a
                .prompts
                .into_iter()
                .filter_map(|(code, name)| {
                    Some(PaymentSystemPrompt {
                        payment_system: d.catalog.payment_system(&code)?.clone(),
                        image_url: service::file_url(d, &name),
                    })
                })
                .collect(),
        }
    }
}

/// One value the merchant fills into the snippet.
#[derive(SimpleObject)]
pub struct PluginParameter {
    /// The parameter's name in the snippet.
    pub name: String,
    /// Whether the plugin needs it.
    pub required: bool,
    /// What to put there.
    pub description: String,
}

/// How to put the plugin on the merchant's site.
#[derive(SimpleObject)]
pub struct PluginInstallation {
    /// The snippet to paste into the merchant's site.
    pub snippet: String,
    /// The values the merchant fills into the snippet.
    pub parameters: Vec<PluginParameter>,
    /// The merchant's public plugin key.
    pub plugin_key: String,
}

/// How the plugin should look; fields left out keep their values.
#[derive(InputObject)]
pub struct UpdatePluginAppearanceInput {
    /// The colour theme.
    pub theme: Option<PluginTheme>,
    /// A stylesheet; needed when theme is CUSTOM and none was uploaded before.
    pub custom_css: Option<Upload>,
}

/// Result of updatePluginAppearance.
#[derive(SimpleObject)]
pub struct UpdatePluginAppearancePayload {
    /// The appearance as it stands now.
    pub plugin_appearance: Option<PluginAppearance>,
    /// What was wrong (TOO_LARGE stylesheet, …); nothing changed if any.
    pub errors: Vec<UserError>,
}

/// Result of uploadPaymentSystemPrompt.
#[derive(SimpleObject)]
pub struct UploadPaymentSystemPromptPayload {
    /// The prompt as it stands now.
    pub prompt: Option<PaymentSystemPrompt>,
    /// UNSUPPORTED_FILE, TOO_LARGE or NOT_FOUND; nothing changed if any.
    pub errors: Vec<UserError>,
}

/// The bytes of an upload, reading at most `limit + 1` of them (the
/// multipart parser already stopped anything over the request's own limit).
fn read_upload(ctx: &Context<'_>, upload: &Upload, limit: usize) -> Result<Vec<u8>> {
    let value = upload.value(ctx)?;
    let mut data = Vec::new();
    value
        .content
        .take(limit as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| crate::error::AppError::Internal(anyhow::Error::new(e)))
        .extend()?;
    Ok(data)
}

#[derive(Default)]
pub struct PluginQuery;

#[Object]
impl PluginQuery {
    /// What to paste into the merchant's site to install the plugin.
    async fn plugin_installation(&self, ctx: &Context<'_>) -> Result<PluginInstallation> {
        let d = deps(ctx)?;
        let key = service::plugin_key(d, actor(ctx)?).await.extend()?;
        Ok(PluginInstallation {
            snippet: service::snippet(d, &key),
            parameters: service::PARAMETERS
                .iter()
                .map(|p| PluginParameter {
                    name: p.name.into(),
                    required: p.required,
                    description: p.description.into(),
                })
                .collect(),
            plugin_key: key,
        })
    }
}

#[derive(Default)]
pub struct PluginMutation;

#[Object]
impl PluginMutation {
    /// Changes the plugin's theme and stylesheet (multipart upload). OWNER only.
    async fn update_plugin_appearance(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The theme, and the stylesheet to use with CUSTOM.")]
        input: UpdatePluginAppearanceInput,
    ) -> Result<UpdatePluginAppearancePayload> {
        let d = deps(ctx)?;
        let a = actor(ctx)?;
        a.user_with_role(&[crate::auth::model::Role::Owner])
            .extend()?;
        let css = match &input.custom_css {
            Some(u) => Some(read_upload(ctx, u, service::CSS_MAX)?),
            None => None,
        };
        let theme = input.theme;
        Ok(
            match service::update_appearance(d, a, theme, css)
                .await
                .extend()?
            {
                Ok(appearance) => UpdatePluginAppearancePayload {
                    plugin_appearance: Some(PluginAppearance::new(d, appearance)),
                    errors: vec![],
                },
                Err(errors) => UpdatePluginAppearancePayload {
                    plugin_appearance: None,
                    errors,
                },
            },
        )
    }

    /// Uploads the prompt picture (GIF) the plugin shows for one payment system.
    async fn upload_payment_system_prompt(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The payment-system code the picture is for.")] payment_system: String,
        #[graphql(
            desc = "A GIF (checked by its bytes), at most 1 MiB, sent as a multipart request with an x-kassa-csrf header."
        )]
        file: Upload,
    ) -> Result<UploadPaymentSystemPromptPayload> {
        let d = deps(ctx)?;
        let a = actor(ctx)?;
        a.user_with_role(&[crate::auth::model::Role::Owner])
            .extend()?;
        let data = read_upload(ctx, &file, service::GIF_MAX)?;
        Ok(
            match service::upload_prompt(d, a, &payment_system, data)
                .await
                .extend()?
            {
                Ok(name) => UploadPaymentSystemPromptPayload {
                    prompt: d.catalog.payment_system(&payment_system).map(|p| {
                        PaymentSystemPrompt {
                            payment_system: p.clone(),
                            image_url: service::file_url(d, &name),
                        }
                    }),
                    errors: vec![],
                },
                Err(e) => UploadPaymentSystemPromptPayload {
                    prompt: None,
                    errors: vec![e],
                },
            },
        )
    }
}
