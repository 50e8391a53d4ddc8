//! Every example in `playground/` runs against the demo data without errors.

use crate::support::*;
use serde_json::json;

#[tokio::test]
async fn every_playground_example_runs_against_the_demo() {
    let app = spawn_app().await;
    kassa::demo::load_activity(&app.deps, 1)
        .await
        .expect("the demo's activity");
    kassa::demo::load_rates(&app.deps)
        .await
        .expect("the demo's exchange rates");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/playground");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "graphql"))
        .collect();
    files.sort();
    assert!(files.len() >= 5);
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let auth = text
            .lines()
            .find_map(|l| l.strip_prefix("# auth:"))
            .map(str::trim)
            .unwrap_or_else(|| panic!("{} has no `# auth:` line", path.display()));
        let token = match auth {
            "none" => None,
            "owner" => Some(app.login(OWNER).await),
            "operator" => Some(app.login(OPERATOR).await),
            "viewer" => Some(app.login(VIEWER).await),
            other => panic!("{}: unknown auth `{other}`", path.display()),
        };
        // A file may hold several operations; run each by name.
        let names: Vec<String> = text
            .lines()
            .filter_map(|l| {
                let l = l.trim_start();
                ["query ", "mutation ", "subscription "]
                    .iter()
                    .find_map(|k| l.strip_prefix(k))
                    .and_then(|rest| {
                        rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                            .next()
                    })
                    .map(str::to_string)
            })
            .collect();
        assert!(
            !names.is_empty(),
            "{}: name every operation",
            path.display()
        );
        for name in names {
            if text.contains(&format!("subscription {name}")) {
                // over the WebSocket, with an event to deliver
                let mut ws = crate::events::socket(&app, token.as_deref()).await;
                crate::events::subscribe(&mut ws, "p", &text, json!({})).await;
                let number = format!("PLAYGROUND-{name}");
                crate::transactions::ingest(
                    &app,
                    vec![crate::transactions::paytm(&number, "10.00")],
                )
                .await;
                let event = crate::events::next_for(&mut ws, "p").await;
                assert_eq!(event["type"], "next", "{} {name}: {event}", path.display());
                assert!(
                    event["payload"]["errors"].is_null(),
                    "{} {name}: {event}",
                    path.display()
                );
                assert!(!event["payload"]["data"].is_null(), "{event}");
                continue;
            }
            let body = app.gql_named(token.as_deref(), &text, &name).await;
            assert!(
                body["errors"].is_null(),
                "{} {name}: {body}",
                path.display()
            );
            let data = body["data"].as_object().unwrap();
            for (field, value) in data {
                if let Some(errors) = value.get("errors") {
                    assert_eq!(errors, &json!([]), "{} {field}: {body}", path.display());
                }
                assert!(
                    !value.is_null(),
                    "{} {name}.{field} is null",
                    path.display()
                );
            }
        }
    }
}
