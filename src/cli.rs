//! The command line (BEHAVIOUR §12). Every command prints one JSON document
//! on stdout (`export-schema` prints the SDL) and fails with a message on
//! stderr and a non-zero exit.

use crate::accounts::service::{self as accounts, NewUser};
use crate::app::{self, AppState};
use crate::auth::model::{Actor, Role, Scope};
use crate::auth::service as auth;
use crate::catalog::service as catalog;
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::demo;
use anyhow::{anyhow, Context};
use clap::{Parser, Subcommand};
use serde_json::json;
use std::io::Write;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "kassa",
    version,
    about = "Kassa: the back-office API of a payment aggregator",
    after_help = crate::config::variables_help()
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Migrate, then serve (the default). Loads the demo into an empty embedded database.
    Serve,
    /// Apply pending migrations.
    Migrate,
    /// Load the demo data set (idempotent).
    Demo,
    /// Print the GraphQL schema (SDL).
    ExportSchema,
    /// Administration: merchants, users, API keys, wallets.
    #[command(subcommand)]
    Admin(Admin),
}

#[derive(Subcommand, Debug)]
pub enum Admin {
    /// Create a merchant → {"id", "plugin_key"}.
    CreateMerchant {
        #[arg(long)]
        name: String,
        /// IANA time zone (default UTC).
        #[arg(long)]
        timezone: Option<String>,
    },
    /// Create a user → {"id"}.
    CreateUser {
        #[arg(long)]
        merchant: i64,
        #[arg(long)]
        login: String,
        #[arg(long)]
        password: String,
        /// OWNER, OPERATOR or VIEWER.
        #[arg(long)]
        role: String,
    },
    /// Create an API key → {"id", "key"}; the key is shown only here.
    CreateApiKey {
        /// INGEST, PLATFORM or MERCHANT.
        #[arg(long)]
        scope: String,
        /// The merchant the key is bound to: needed for MERCHANT keys; an
        /// INGEST or PLATFORM key with it acts on that merchant's rows only.
        #[arg(long)]
        merchant: Option<i64>,
    },
    /// Register a wallet → {"id"}.
    CreateWallet {
        #[arg(long)]
        merchant: i64,
        #[arg(long = "payment-system")]
        payment_system: String,
        #[arg(long)]
        identifier: String,
    },
    /// Turn two-factor sign-in off for a user locked out of it → {"disabled"}.
    DisableTotp {
        #[arg(long)]
        login: String,
    },
    /// Recompute the dashboard's statistics from the raw rows → {"bucket_rows"}.
    RebuildStats {
        /// Only this merchant (default: all).
        #[arg(long)]
        merchant: Option<i64>,
    },
}

/// Progress of a long command on stderr (stdout keeps its one JSON
/// document): a bar on a terminal, a JSON line per step otherwise.
fn progress() -> impl FnMut(crate::stats::service::RebuildProgress) {
    use std::io::IsTerminal;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "rebuilding statistics {bar:40} {pos}/{len} merchants, {msg} bucket rows",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    move |p| match &bar {
        Some(bar) => {
            bar.set_length(p.merchants as u64);
            bar.set_position(p.merchants_done as u64);
            bar.set_message(p.bucket_rows.to_string());
            if p.merchants_done == p.merchants {
                bar.finish();
            }
        }
        None => {
            let _ = writeln!(std::io::stderr(), "{}", json!({ "progress": p }));
        }
    }
}

fn emit(value: serde_json::Value) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{value}").context("writing to stdout")?;
    out.flush().context("writing to stdout")
}

/// Runs one command with the system clock.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    run_with_clock(cli, Arc::new(SystemClock)).await
}

pub async fn run_with_clock(cli: Cli, clock: SharedClock) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::ExportSchema = command {
        let mut out = std::io::stdout().lock();
        write!(out, "{}", crate::graphql::sdl()).context("writing to stdout")?;
        return Ok(());
    }
    let config = Config::from_env().map_err(|e| anyhow!("configuration: {e}"))?;
    let names: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .collect();
    for name in crate::config::unknown_variables(names.iter().map(String::as_str)) {
        tracing::warn!(
            variable = name,
            "an unknown KASSA_ variable is set and ignored (kassa --help lists them)"
        );
    }
    match command {
        Command::ExportSchema => Ok(()),
        Command::Serve => serve(config, clock).await,
        Command::Migrate => {
            app::deps(config, clock).await?;
            emit(json!({ "migrated": true }))
        }
        Command::Demo => {
            let d = app::deps(config, clock).await?;
            let summary = demo::load(&d)
                .await
                .map_err(|e| anyhow!("loading the demo: {e}"))?;
            emit(serde_json::to_value(summary)?)
        }
        Command::Admin(admin) => {
            let d = app::deps(config, clock).await?;
            admin_command(&d, admin).await
        }
    }
}

async fn admin_command(d: &crate::deps::Deps, admin: Admin) -> anyhow::Result<()> {
    match admin {
        Admin::CreateMerchant { name, timezone } => {
            let m = accounts::create_merchant(d, &name, timezone.as_deref(), None).await?;
            emit(json!({ "id": m.id.to_string(), "plugin_key": m.plugin_key }))
        }
        Admin::CreateUser {
            merchant,
            login,
            password,
            role,
        } => {
            let role: Role = role
                .to_uppercase()
                .parse()
                .map_err(|_| anyhow!("--role must be OWNER, OPERATOR or VIEWER"))?;
            let u = accounts::create_user(
                d,
                &Actor::Cli,
                Some(merchant),
                NewUser {
                    login,
                    password,
                    role,
                    language: None,
                },
            )
            .await?
            .map_err(|e| anyhow!("{}: {}", e.field.join("."), e.message))?;
            emit(json!({ "id": u.id.to_string() }))
        }
        Admin::CreateApiKey { scope, merchant } => {
            let scope: Scope = scope
                .to_uppercase()
                .parse()
                .map_err(|_| anyhow!("--scope must be INGEST, PLATFORM or MERCHANT"))?;
            let (id, key) = auth::create_api_key(d, scope, merchant).await?;
            emit(json!({ "id": id.to_string(), "key": key }))
        }
        Admin::CreateWallet {
            merchant,
            payment_system,
            identifier,
        } => {
            let w = catalog::create_wallet(d, merchant, &payment_system, &identifier).await?;
            emit(json!({ "id": w.id.to_string() }))
        }
        Admin::DisableTotp { login } => {
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
            let key = crate::auth::service::normalize_login(&login);
            let user = entity::user::Entity::find()
                .filter(entity::user::Column::Login.eq(key))
                .one(&d.db)
                .await?
                .ok_or_else(|| anyhow!("no user with login {login}"))?;
            let was = user.totp_enabled;
            crate::auth::totp::turn_off(d, &Actor::Cli, &user).await?;
            emit(json!({ "disabled": was }))
        }
        Admin::RebuildStats { merchant } => {
            let rows = crate::stats::service::rebuild(d, &Actor::Cli, merchant, progress()).await?;
            emit(json!({ "bucket_rows": rows }))
        }
    }
}

async fn serve(config: Config, clock: SharedClock) -> anyhow::Result<()> {
    let embedded = config.is_sqlite();
    let bind = config.bind;
    let d = app::deps(config, clock).await?;
    let demo = if embedded && demo::database_is_empty(&d).await? {
        tracing::info!("an empty database: loading the demo data (a few seconds)");
        let started = std::time::Instant::now();
        let summary = demo::load(&d)
            .await
            .map_err(|e| anyhow!("loading the demo: {e}"))?;
        tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            "demo data loaded"
        );
        Some(summary)
    } else if demo::database_is_empty(&d).await? {
        None
    } else {
        // Show the demo sign-in when the demo is there (e.g. after `kassa demo`).
        let there = entity::merchant::Entity::find()
            .filter(entity::merchant::Column::PluginKey.eq(demo::PLUGIN_KEY))
            .one(&d.db)
            .await?
            .is_some();
        if there {
            Some(
                demo::load(&d)
                    .await
                    .map_err(|e| anyhow!("reading the demo: {e}"))?,
            )
        } else {
            None
        }
    };
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("KASSA_BIND: cannot listen on {bind}"))?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}");
    // before saying so: a signal sent once it has is handled
    let shutdown = app::shutdown_signal();
    emit(json!({
        "listening": url,
        "playground": format!("{url}/graphql"),
        "demo": demo,
    }))?;
    let mut banner = format!("\nKassa is listening on {url}\n  playground: {url}/graphql\n");
    if let Some(demo) = &demo {
        banner.push_str("  demo sign-in (mutation { login(login: …, password: …) { token } }):\n");
        for l in &demo.logins {
            banner.push_str(&format!(
                "    login: {:<14} password: {}   ({})\n",
                l.login, l.password, l.role
            ));
        }
        banner.push_str("  then send the token as the header  Authorization: Bearer <token>\n");
        if !demo.api_keys.is_empty() {
            banner.push_str(
                "  demo API keys (bound to the demo merchant; shown this once, keep them):\n",
            );
            for (scope, key) in &demo.api_keys {
                banner.push_str(&format!("    {scope:<9} {key}\n"));
            }
        }
    }
    // (for people at a terminal; JSON logs stay one object per line)
    if crate::telemetry::log_format() == crate::telemetry::LogFormat::Text {
        let _ = writeln!(std::io::stderr(), "{banner}");
    }
    let state = AppState::new(d)?;
    app::run(listener, state, shutdown).await
}

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
