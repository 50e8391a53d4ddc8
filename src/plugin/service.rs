//! Plugin appearance, uploaded files and the installation snippet.

use crate::audit::Audit;
use crate::auth::model::{Actor, Role};
use crate::db::{write, Change};
use crate::deps::Deps;
use crate::error::{AppResult, ErrorCode, UserError};
use entity::merchant::PluginTheme;
use entity::{file, merchant, payment_system_prompt};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
};
use serde_json::json;

/// Largest prompt picture.
pub const GIF_MAX: usize = 1024 * 1024;
/// Largest custom stylesheet.
pub const CSS_MAX: usize = 256 * 1024;
/// Largest multipart body: one file at the larger limit, plus the form's own fields.
pub const UPLOAD_BODY_MAX: usize = GIF_MAX + 64 * 1024;

/// Whether `bytes` is a GIF by its signature (not its name or declared type).
pub fn is_gif(bytes: &[u8]) -> bool {
    bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a")
}

/// The public URL of a stored file.
pub fn file_url(d: &Deps, name: &str) -> String {
    format!("{}/files/{name}", d.config.public_url)
}

fn new_file_name(extension: &str) -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{}.{extension}", hex::encode(bytes))
}

/// Stores a file of the merchant's; returns its row.
async fn store(
    conn: &impl ConnectionTrait,
    d: &Deps,
    merchant_id: i64,
    content_type: &str,
    extension: &str,
    data: Vec<u8>,
) -> AppResult<file::Model> {
    Ok(file::ActiveModel {
        merchant_id: Set(merchant_id),
        name: Set(new_file_name(extension)),
        content_type: Set(content_type.into()),
        size: Set(data.len() as i64),
        data: Set(data),
        created_at: Set(d.clock.now()),
        ..Default::default()
    }
    .insert(conn)
    .await?)
}

/// The merchant's appearance: theme, stylesheet file name, prompts
/// (payment system, file name) in catalogue order.
pub struct Appearance {
    pub theme: PluginTheme,
    pub custom_css: Option<String>,
    pub prompts: Vec<(String, String)>,
}

pub async fn appearance_of(d: &Deps, m: &merchant::Model) -> AppResult<Appearance> {
    let custom_css = match m.custom_css_file_id {
        Some(id) => file_name(d, id).await?,
        None => None,
    };
    let rows = payment_system_prompt::Entity::find()
        .filter(payment_system_prompt::Column::MerchantId.eq(m.id))
        .all(&d.db)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.file_id).collect();
    let names: std::collections::HashMap<i64, String> = file::Entity::find()
        .select_only()
        .column(file::Column::Id)
        .column(file::Column::Name)
        .filter(file::Column::Id.is_in(ids))
        .into_tuple::<(i64, String)>()
        .all(&d.db)
        .await?
        .into_iter()
        .collect();
    let mut prompts: Vec<(String, String)> = rows
        .into_iter()
        .filter_map(|r| Some((r.payment_system, names.get(&r.file_id)?.clone())))
        .collect();
    let position = |code: &str| {
        d.catalog
            .payment_systems
            .iter()
            .position(|p| p.code == code)
    };
    prompts.sort_by_key(|(code, _)| position(code));
    Ok(Appearance {
        theme: m.theme,
        custom_css,
        prompts,
    })
}

async fn file_name(d: &Deps, id: i64) -> AppResult<Option<String>> {
    Ok(file::Entity::find_by_id(id)
        .select_only()
        .column(file::Column::Name)
        .into_tuple::<String>()
        .one(&d.db)
        .await?)
}

/// The caller's appearance (any reader).
pub async fn appearance(d: &Deps, actor: &Actor) -> AppResult<Appearance> {
    let m = crate::accounts::service::merchant(d, actor).await?;
    appearance_of(d, &m).await
}

fn user_error(field: &[&str], code: ErrorCode, message: impl Into<String>) -> UserError {
    UserError::new(field, code, message)
}

/// Changes the theme and/or the stylesheet (OWNER). A CUSTOM theme needs a
/// stylesheet, uploaded now or before.
pub async fn update_appearance(
    d: &Deps,
    actor: &Actor,
    theme: Option<PluginTheme>,
    css: Option<Vec<u8>>,
) -> AppResult<Result<Appearance, Vec<UserError>>> {
    let me = actor.user_with_role(&[Role::Owner])?.clone();
    let mut errors = Vec::new();
    if let Some(css) = &css {
        if css.len() > CSS_MAX {
            errors.push(user_error(
                &["input", "customCss"],
                ErrorCode::TooLarge,
                format!("a stylesheet is at most {} KiB", CSS_MAX / 1024),
            ));
        } else if std::str::from_utf8(css).is_err() || css.contains(&0) {
            errors.push(user_error(
                &["input", "customCss"],
                ErrorCode::UnsupportedFile,
                "a stylesheet is UTF-8 text",
            ));
        }
    }
    let m = crate::accounts::service::merchant(d, actor).await?;
    if theme == Some(PluginTheme::Custom) && css.is_none() && m.custom_css_file_id.is_none() {
        errors.push(user_error(
            &["input", "customCss"],
            ErrorCode::Required,
            "the CUSTOM theme needs a stylesheet",
        ));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let updated = write(d, actor, async |txn, _now| {
        let mut row: merchant::ActiveModel = m.clone().into();
        if let Some(theme) = theme {
            row.theme = Set(theme);
        }
        let mut details = json!({ "theme": theme });
        if let Some(css) = css {
            let size = css.len();
            let f = store(txn, d, m.id, "text/css; charset=utf-8", "css", css).await?;
            row.custom_css_file_id = Set(Some(f.id));
            details["customCss"] = json!({ "name": f.name, "size": size });
        }
        let updated = row.update(txn).await?;
        if let (Some(old), Some(new)) = (m.custom_css_file_id, updated.custom_css_file_id) {
            if old != new {
                file::Entity::delete_by_id(old).exec(txn).await?;
            }
        }
        let entry = Audit {
            merchant_id: Some(me.merchant_id),
            action: "settings.update_plugin_appearance",
            subject: Some(format!("merchant:{}", m.id)),
            details,
        };
        Ok(Change::done(updated).audited(entry))
    })
    .await?;
    // (read after the commit: the new stylesheet's row is visible now)
    Ok(Ok(appearance_of(d, &updated).await?))
}

/// Stores the prompt picture of one payment system (OWNER), replacing the
/// previous one. Returns the file's name.
pub async fn upload_prompt(
    d: &Deps,
    actor: &Actor,
    payment_system: &str,
    data: Vec<u8>,
) -> AppResult<Result<String, UserError>> {
    let me = actor.user_with_role(&[Role::Owner])?.clone();
    if d.catalog.payment_system(payment_system).is_none() {
        return Ok(Err(user_error(
            &["paymentSystem"],
            ErrorCode::Invalid,
            format!("unknown payment system `{payment_system}`"),
        )));
    }
    if data.len() > GIF_MAX {
        return Ok(Err(user_error(
            &["file"],
            ErrorCode::TooLarge,
            format!("a prompt picture is at most {} KiB", GIF_MAX / 1024),
        )));
    }
    if !is_gif(&data) {
        return Ok(Err(user_error(
            &["file"],
            ErrorCode::UnsupportedFile,
            "a prompt picture is a GIF (GIF87a or GIF89a)",
        )));
    }
    let size = data.len();
    write(d, actor, async |txn, _now| {
        let old =
            payment_system_prompt::Entity::find_by_id((me.merchant_id, payment_system.to_string()))
                .one(txn)
                .await?;
        let f = store(txn, d, me.merchant_id, "image/gif", "gif", data).await?;
        match &old {
            Some(p) => {
                let mut row: payment_system_prompt::ActiveModel = p.clone().into();
                row.file_id = Set(f.id);
                row.update(txn).await?;
                file::Entity::delete_by_id(p.file_id).exec(txn).await?;
            }
            None => {
                payment_system_prompt::ActiveModel {
                    merchant_id: Set(me.merchant_id),
                    payment_system: Set(payment_system.into()),
                    file_id: Set(f.id),
                }
                .insert(txn)
                .await?;
            }
        }
        let entry = Audit {
            merchant_id: Some(me.merchant_id),
            action: "settings.upload_payment_system_prompt",
            subject: Some(format!("payment_system:{payment_system}")),
            details: json!({ "name": f.name, "size": size }),
        };
        Ok(Change::done(Ok(f.name)).audited(entry))
    })
    .await
}

/// A stored file by its public name.
pub async fn file(d: &Deps, name: &str) -> AppResult<Option<file::Model>> {
    if name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
        return Ok(None);
    }
    Ok(file::Entity::find()
        .filter(file::Column::Name.eq(name))
        .one(&d.db)
        .await?)
}

/// One documented parameter of the plugin.
pub struct Parameter {
    pub name: &'static str,
    pub required: bool,
    pub description: &'static str,
}

pub const PARAMETERS: [Parameter; 7] = [
    Parameter {
        name: "plugin_key",
        required: true,
        description: "Your public plugin key (already filled in).",
    },
    Parameter {
        name: "label",
        required: true,
        description: "The payer's user ID in your system: deposits stockpile per label, and the postback names it.",
    },
    Parameter {
        name: "order_id",
        required: false,
        description: "Your order or invoice number; returned in the postback.",
    },
    Parameter {
        name: "lang",
        required: false,
        description: "The plugin's language: en, ru, hi, bn or ur (default en).",
    },
    Parameter {
        name: "wallet_type",
        required: false,
        description: "A payment system code (e.g. paytm, bkash) to open directly; all of yours when left out.",
    },
    Parameter {
        name: "success_url",
        required: false,
        description: "Overrides the success URL of your settings for this payer (after-payment action REDIRECT).",
    },
    Parameter {
        name: "fail_url",
        required: false,
        description: "Overrides the fail URL of your settings for this payer.",
    },
];

/// The HTML to paste into the merchant's site: an iframe of the plugin
/// carrying the plugin key, with placeholders for what the merchant fills in.
pub fn snippet(d: &Deps, plugin_key: &str) -> String {
    format!(
        "<iframe src=\"{base}/plugin?plugin_key={plugin_key}&amp;label={{USER_ID}}&amp;order_id={{ORDER_ID}}&amp;lang=en\"\n        \
         width=\"100%\" height=\"640\" style=\"border:0\" allow=\"clipboard-write\"\n        \
         title=\"Deposit\"></iframe>",
        base = d.config.public_url
    )
}

/// The caller's plugin key (any reader).
pub async fn plugin_key(d: &Deps, actor: &Actor) -> AppResult<String> {
    Ok(crate::accounts::service::merchant(d, actor)
        .await?
        .plugin_key)
}
