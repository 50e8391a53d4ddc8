//! Every example in `playground/` runs against the demo data without errors.

use crate::support::*;
use serde_json::json;

#[tokio::test]
async fn every_playground_example_runs_against_the_demo() {
    let app = spawn_app().await;
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
        let body = app.gql(token.as_deref(), &text, json!({})).await;
        assert!(body["errors"].is_null(), "{}: {body}", path.display());
        let data = body["data"].as_object().unwrap();
        for (field, value) in data {
            if let Some(errors) = value.get("errors") {
                assert_eq!(errors, &json!([]), "{} {field}: {body}", path.display());
            }
        }
    }
}
