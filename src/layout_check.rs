//! The house's rule, checked on the source (a unit test, so `cargo test`
//! and `.ci/run` run it): dependencies point one way.
//!
//! - The domain (services, models, workers, the bus, `deps.rs`, `db.rs`, …)
//!   imports no GraphQL (`graphql.rs`, `loader.rs`, `graphql/`), no HTTP
//!   (`http/`) and no wiring (`app.rs`, `cli.rs`).
//! - The GraphQL layer imports no HTTP and no wiring.
//!
//! Cycles left on purpose: `graphql.rs` files that name each other's object
//! types (a graph refers to itself).

use std::path::{Path, PathBuf};

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    Domain,
    Graphql,
    Http,
    Wiring,
}

/// A source file's layer, from its path under `src/`.
fn layer_of(relative: &str) -> Layer {
    let name = relative.rsplit('/').next().unwrap_or(relative);
    if relative.starts_with("http/") || relative == "http.rs" {
        Layer::Http
    } else if matches!(
        relative,
        "app.rs" | "cli.rs" | "main.rs" | "lib.rs" | "demo.rs" | "layout_check.rs"
    ) {
        Layer::Wiring
    } else if relative.starts_with("graphql/") || name == "graphql.rs" || name == "loader.rs" {
        Layer::Graphql
    } else {
        Layer::Domain
    }
}

/// The layer a `crate::…` path (or `super::…` inside `dir`) points into.
fn target_layer(path: &str) -> Layer {
    let parts: Vec<&str> = path.split("::").collect();
    match parts.as_slice() {
        ["http", ..] => Layer::Http,
        ["app", ..] | ["cli", ..] | ["demo", ..] => Layer::Wiring,
        ["graphql", ..] | [_, "graphql", ..] | [_, "loader", ..] => Layer::Graphql,
        _ => Layer::Domain,
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::a::b` path named in the code of `text` (comments aside),
/// `use crate::x::{a, b}` groups included, as `a::b` strings; `super::`
/// paths resolved against the file's module `module`.
fn paths(text: &str, module: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        for (prefix, base) in [
            ("crate::", Vec::new()),
            ("super::", module[..module.len().saturating_sub(1)].to_vec()),
        ] {
            let mut rest = code;
            while let Some(at) = rest.find(prefix) {
                let after = &rest[at + prefix.len()..];
                let end = after
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                    .unwrap_or(after.len());
                let mut path: Vec<String> = base.iter().map(|s| s.to_string()).collect();
                path.extend(
                    after[..end]
                        .trim_end_matches(':')
                        .split("::")
                        .filter(|s| !s.is_empty())
                        .map(str::to_string),
                );
                out.push(path.join("::"));
                rest = &after[end..];
            }
        }
    }
    out
}

#[test]
fn dependencies_point_one_way() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&root, &mut all);
    let mut wrong = Vec::new();
    for file in &all {
        let relative = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let from = layer_of(&relative);
        if from == Layer::Wiring {
            continue;
        }
        let module: Vec<&str> = relative
            .trim_end_matches(".rs")
            .trim_end_matches("/mod")
            .split('/')
            .collect();
        let text = std::fs::read_to_string(file).unwrap();
        for path in paths(&text, &module) {
            let to = target_layer(&path);
            if to > from {
                wrong.push(format!("{relative} ({from:?}) uses {path} ({to:?})"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layering:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_check_sees_what_it_must() {
    assert_eq!(layer_of("transactions/service.rs"), Layer::Domain);
    assert_eq!(layer_of("transactions/graphql.rs"), Layer::Graphql);
    assert_eq!(layer_of("graphql/context.rs"), Layer::Graphql);
    assert_eq!(layer_of("http/hub.rs"), Layer::Http);
    let found = paths(
        "use crate::graphql::context::{actor, deps};\n// crate::app::Deps\nlet x = crate::http::hub::Hub::new();\nuse super::graphql::Transaction;",
        &["transactions", "service"],
    );
    assert_eq!(
        found,
        [
            "graphql::context::",
            "http::hub::Hub::new",
            "transactions::graphql::Transaction"
        ]
        .map(|s| s.trim_end_matches("::").to_string())
    );
    assert_eq!(
        target_layer("transactions::graphql::Transaction"),
        Layer::Graphql
    );
    assert_eq!(target_layer("deps::Deps"), Layer::Domain);
}

/// The stored text of every status and kind (`entity`'s text enums).
fn stored_texts() -> Vec<&'static str> {
    use entity::TextEnum;
    use sea_orm::Iterable;
    fn all<T: TextEnum + Iterable>() -> Vec<&'static str> {
        T::iter().map(T::as_str).collect()
    }
    [
        all::<entity::transaction::Direction>(),
        all::<entity::transaction::TransactionType>(),
        all::<entity::transaction::Originality>(),
        all::<entity::transaction::PostbackStatus>(),
        all::<entity::transaction::TransactionStatus>(),
        all::<entity::activation_request::ActivationRequestStatus>(),
        all::<entity::stockpiling::StockpilingStatus>(),
        all::<entity::postback::PostbackKind>(),
        all::<entity::postback::PostbackDeliveryStatus>(),
        all::<entity::postback::AttemptOutcome>(),
        all::<entity::postback_endpoint::PostbackCircuit>(),
        all::<entity::export::ExportKind>(),
        all::<entity::stat_bucket::DashboardDateKind>(),
        all::<entity::stat_bucket::StatSection>(),
        all::<entity::withdrawal::WithdrawalStatus>(),
        all::<entity::withdrawal::WithdrawalRequestKind>(),
        all::<entity::withdrawal::WithdrawalPostbackStatus>(),
        all::<entity::user::Role>(),
        all::<entity::user::Language>(),
        all::<entity::api_key::ApiKeyScope>(),
        all::<entity::merchant::PluginTheme>(),
        all::<entity::merchant::AfterPaymentAction>(),
    ]
    .concat()
}

/// The code lines (comments aside) of every file under `src/` but `skip`
/// for which `hit` holds, as `path:line: code`.
fn code_lines_where(skip: &[&str], hit: impl Fn(&str) -> bool) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&root, &mut all);
    let mut found = Vec::new();
    for file in &all {
        if skip.iter().any(|s| file.ends_with(s)) {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if !code.starts_with("//") && hit(code) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, code));
            }
        }
    }
    found
}

/// Statuses and kinds are types: outside `entity/` (and the migrations),
/// no code line spells a stored status or kind as a string — not in Rust
/// (`"APPROVED"`) and not in raw SQL (`'APPROVED'`). Comments may.
#[test]
fn no_status_text_outside_entity() {
    let texts = stored_texts();
    let found = code_lines_where(&[], |code| {
        texts
            .iter()
            .any(|t| code.contains(&format!("\"{t}\"")) || code.contains(&format!("'{t}'")))
    });
    assert!(
        found.is_empty(),
        "status or kind text outside entity/ (use the enum):\n{}",
        found.join("\n")
    );
}

/// Every transaction Kassa opens goes through `db.rs` (`begin_write`,
/// `begin_snapshot`), where `BEGIN` cannot be cancelled half-way: a `begin`
/// written anywhere else could leave a pooled connection inside a
/// transaction again (see `db::begin_detached`).
#[test]
fn transactions_are_opened_only_in_db_rs() {
    let found = code_lines_where(&["db.rs", "layout_check.rs"], |code| {
        [
            ".begin()",
            ".begin_with_config(",
            ".begin_with_options(",
            ".transaction(",
        ]
        .iter()
        .any(|b| code.contains(b))
    });
    assert!(
        found.is_empty(),
        "a transaction opened outside db.rs (use db::begin_write or db::begin_snapshot):\n{}",
        found.join("\n")
    );
}
