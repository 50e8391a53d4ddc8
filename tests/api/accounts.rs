use crate::support::*;
use serde_json::{json, Value};

const CREATE_USER: &str = "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id login role language } errors { code field message } } }";
const DISABLE: &str = "mutation($id: ID!, $d: Boolean!) { setUserDisabled(id: $id, disabled: $d) { user { id disabled } errors { code field } } }";

fn new_user(login: &str, password: &str) -> Value {
    json!({ "i": { "login": login, "password": password, "role": "OPERATOR", "language": "HI" } })
}

#[tokio::test]
async fn an_owner_creates_a_user_who_can_sign_in() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let body = app
        .gql(
            Some(&owner),
            CREATE_USER,
            new_user("Cashier@Demo", "Cashier2026abc"),
        )
        .await;
    let user = &body["data"]["createUser"]["user"];
    assert_eq!(user["login"], "cashier@demo", "{body}");
    assert_eq!(user["role"], "OPERATOR");
    assert_eq!(user["language"], "HI");
    app.login(("cashier@demo", "Cashier2026abc")).await;

    let body = app
        .gql(
            Some(&owner),
            "{ users { login } auditLog { nodes { action subject user { login } } } }",
            json!({}),
        )
        .await;
    let logins: Vec<_> = body["data"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["login"].as_str().unwrap())
        .collect();
    assert_eq!(
        logins,
        ["owner@demo", "operator@demo", "viewer@demo", "cashier@demo"]
    );
    let entries = body["data"]["auditLog"]["nodes"].as_array().unwrap();
    let created = entries
        .iter()
        .find(|e| e["action"] == "user.create" && e["user"]["login"] == "owner@demo");
    assert!(created.is_some(), "{body}");
}

#[tokio::test]
async fn user_creation_refuses_bad_input_field_by_field() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let cases = [
        (
            new_user("operator@demo", "Cashier2026abc"),
            "DUPLICATE",
            "login",
        ),
        (new_user("x", "Cashier2026abc"), "INVALID", "login"),
        (new_user("has space", "Cashier2026abc"), "INVALID", "login"),
        (
            new_user("cashier@demo", "short1"),
            "WEAK_PASSWORD",
            "password",
        ),
        (
            new_user("cashier@demo", "qwerty123456"),
            "WEAK_PASSWORD",
            "password",
        ),
        (
            new_user("cashier@demo", "cashier@demo123"),
            "WEAK_PASSWORD",
            "password",
        ),
    ];
    for (vars, code, field) in cases {
        let body = app.gql(Some(&owner), CREATE_USER, vars.clone()).await;
        assert_eq!(
            user_error(&body, "createUser"),
            Some(code),
            "{vars}: {body}"
        );
        assert_eq!(
            body["data"]["createUser"]["errors"][0]["field"],
            json!(["input", field])
        );
        assert!(body["data"]["createUser"]["user"].is_null());
    }
    let body = app
        .gql(Some(&owner), "{ users { login } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["users"].as_array().unwrap().len(),
        3,
        "nothing half-written"
    );
}

#[tokio::test]
async fn each_role_may_do_what_it_should_and_nothing_more() {
    let app = spawn_app().await;
    let owner_only = [
        ("{ users { login } }", json!({})),
        ("{ auditLog { nodes { action } } }", json!({})),
        (CREATE_USER, new_user("cashier@demo", "Cashier2026abc")),
        (DISABLE, json!({ "id": "1", "d": true })),
    ];
    for who in [OPERATOR, VIEWER] {
        let token = app.login(who).await;
        for (query, vars) in &owner_only {
            let body = app.gql(Some(&token), query, vars.clone()).await;
            assert_eq!(
                error_code(&body),
                Some("FORBIDDEN"),
                "{} {query}: {body}",
                who.0
            );
        }
        // Reading and the own profile are fine.
        let body = app.gql(Some(&token), "{ me { login } merchant { name } wallets { id } paymentSystems { code } currencies { code } }", json!({})).await;
        assert!(body["errors"].is_null(), "{body}");
        let body = app.gql(Some(&token), "mutation { updateProfile(input: { language: BN }) { profile { login language } errors { code } } }", json!({})).await;
        assert_eq!(
            body["data"]["updateProfile"]["profile"]["language"], "BN",
            "{body}"
        );
    }
    let owner = app.login(OWNER).await;
    for (query, vars) in &owner_only[..3] {
        let body = app.gql(Some(&owner), query, vars.clone()).await;
        assert!(body["errors"].is_null(), "{query}: {body}");
    }
    let body = app
        .gql(None, CREATE_USER, new_user("anon@demo", "Cashier2026abc"))
        .await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn another_merchants_user_behaves_like_a_missing_one() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let other_owner = app.login(OTHER_OWNER).await;
    let other_me = app
        .gql(Some(&other_owner), "{ me { id } }", json!({}))
        .await;
    let other_id = other_me["data"]["me"]["id"].as_str().unwrap().to_string();

    let foreign = app
        .gql(Some(&owner), DISABLE, json!({ "id": other_id, "d": true }))
        .await;
    let missing = app
        .gql(Some(&owner), DISABLE, json!({ "id": "999999", "d": true }))
        .await;
    let garbage = app
        .gql(
            Some(&owner),
            DISABLE,
            json!({ "id": "not-a-number", "d": true }),
        )
        .await;
    for body in [&foreign, &missing, &garbage] {
        assert_eq!(
            body["data"]["setUserDisabled"],
            json!({ "user": null, "errors": [{ "code": "NOT_FOUND", "field": ["id"] }] })
        );
    }
    // Untouched, and absent from our lists.
    app.gql(Some(&other_owner), "{ me { id } }", json!({}))
        .await["data"]["me"]["id"]
        .as_str()
        .expect("still signed in");
    let body = app
        .gql(
            Some(&owner),
            "{ users { login } wallets { identifier } auditLog(first: 500) { nodes { subject } } }",
            json!({}),
        )
        .await;
    let text = body.to_string();
    assert!(
        !text.contains("owner@other") && !text.contains("01799999999"),
        "{text}"
    );
    assert!(!text.contains(&format!("\"merchant:{}\"", app.other_merchant_id)));
    let body = app
        .gql(
            Some(&other_owner),
            "{ merchant { name } wallets { identifier } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["merchant"]["name"], "Other Shop");
    assert_eq!(
        body["data"]["wallets"],
        json!([{ "identifier": "01799999999" }])
    );
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions_and_sign_ins() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let viewer = app.login(VIEWER).await;
    let me = app.gql(Some(&viewer), "{ me { id } }", json!({})).await;
    let id = me["data"]["me"]["id"].as_str().unwrap().to_string();
    let body = app
        .gql(Some(&owner), DISABLE, json!({ "id": id, "d": true }))
        .await;
    assert_eq!(
        body["data"]["setUserDisabled"]["user"]["disabled"], true,
        "{body}"
    );
    let body = app.gql(Some(&viewer), "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    assert_eq!(
        user_error(&app.login_raw(VIEWER.0, VIEWER.1).await, "login"),
        Some("WRONG_CREDENTIALS")
    );
    // An owner cannot lock themselves out.
    let owner_id =
        app.gql(Some(&owner), "{ me { id } }", json!({})).await["data"]["me"]["id"].clone();
    let body = app
        .gql(Some(&owner), DISABLE, json!({ "id": owner_id, "d": true }))
        .await;
    assert_eq!(user_error(&body, "setUserDisabled"), Some("INVALID"));
    // Re-enabled, the user signs in again.
    let body = app
        .gql(Some(&owner), DISABLE, json!({ "id": id, "d": false }))
        .await;
    assert_eq!(body["data"]["setUserDisabled"]["user"]["disabled"], false);
    app.login(VIEWER).await;
}

#[tokio::test]
async fn the_audit_log_pages_newest_first_and_refuses_forged_cursors() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    for lang in ["RU", "HI", "BN", "UR", "EN"] {
        app.gql(Some(&owner), &format!("mutation {{ updateProfile(input: {{ language: {lang} }}) {{ profile {{ language }} }} }}"), json!({})).await;
    }
    let q = "query($a: String) { auditLog(first: 2, after: $a) { edges { cursor node { id action details } } pageInfo { hasNextPage hasPreviousPage endCursor } } }";
    let first = app.gql(Some(&owner), q, json!({ "a": null })).await;
    let page = &first["data"]["auditLog"];
    assert_eq!(page["edges"][0]["node"]["action"], "user.update_profile");
    assert!(page["edges"][0]["node"]["details"]
        .as_str()
        .unwrap()
        .contains("EN"));
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    assert_eq!(page["pageInfo"]["hasPreviousPage"], false);
    let second = app
        .gql(
            Some(&owner),
            q,
            json!({ "a": page["pageInfo"]["endCursor"] }),
        )
        .await;
    let ids = |p: &Value| -> Vec<i64> {
        p["data"]["auditLog"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().parse().unwrap())
            .collect()
    };
    let (a, b) = (ids(&first), ids(&second));
    assert!(a[0] > a[1] && a[1] > b[0] && b[0] > b[1], "{a:?} {b:?}");
    for bad in ["nonsense", "dXNlcjox", ""] {
        let body = app.gql(Some(&owner), q, json!({ "a": bad })).await;
        assert_eq!(error_code(&body), Some("INVALID"), "{bad}: {body}");
    }
    let body = app
        .gql(
            Some(&owner),
            "{ auditLog(first: 501) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), Some("INVALID"));
}

#[tokio::test]
async fn concurrent_writes_wait_for_each_other_instead_of_failing() {
    let app = spawn_app().await;
    let tokens: Vec<String> =
        futures_util::future::join_all([OWNER, OPERATOR, VIEWER].map(|w| app.login(w))).await;
    let calls = (0..30).map(|i| {
        let token = tokens[i % 3].clone();
        let app = &app;
        async move {
            app.gql(
                Some(&token),
                "mutation { updateProfile(input: { language: RU }) { profile { language } } }",
                json!({}),
            )
            .await
        }
    });
    for body in futures_util::future::join_all(calls).await {
        assert_eq!(
            body["data"]["updateProfile"]["profile"]["language"], "RU",
            "{body}"
        );
    }
}

#[tokio::test]
async fn the_audit_log_filters_by_user_action_and_time_each_alone_and_together() {
    use std::time::Duration;
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let operator = app.login(OPERATOR).await;
    let me = async |token: &str| {
        app.gql(Some(token), "{ me { id } }", json!({})).await["data"]["me"]["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (owner_id, operator_id) = (me(&owner).await, me(&operator).await);
    let profile = |lang: &str| {
        format!("mutation {{ updateProfile(input: {{ language: {lang} }}) {{ profile {{ language }} }} }}")
    };
    // 10:00 — the owner changes language twice, the operator once.
    app.gql(Some(&owner), &profile("RU"), json!({})).await;
    app.gql(Some(&owner), &profile("EN"), json!({})).await;
    app.gql(Some(&operator), &profile("HI"), json!({})).await;
    // 11:00 (signed in again: the sessions went idle) — each once more, and
    // the owner makes an API key.
    app.clock.advance(Duration::from_secs(3600));
    let owner = app.login(OWNER).await;
    let operator = app.login(OPERATOR).await;
    app.gql(Some(&owner), &profile("BN"), json!({})).await;
    app.gql(Some(&operator), &profile("EN"), json!({})).await;
    app.gql(
        Some(&owner),
        "mutation { createApiKey(input: { name: \"audit\" }) { errors { code } } }",
        json!({}),
    )
    .await;
    let q = "query($f: AuditLogFilter, $a: String, $n: Int) { auditLog(first: $n, after: $a, filter: $f) { edges { cursor node { action at user { id } } } pageInfo { hasNextPage endCursor } } }";
    let run = async |f: Value| {
        let body = app.gql(Some(&owner), q, json!({ "f": f, "n": 100 })).await;
        assert!(body["errors"].is_null(), "{body}");
        body["data"]["auditLog"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"].clone())
            .collect::<Vec<Value>>()
    };
    let profile_changes = |nodes: &[Value]| {
        nodes
            .iter()
            .filter(|n| n["action"] == "user.update_profile")
            .count()
    };
    // Alone: by user.
    let by_operator = run(json!({ "userId": operator_id })).await;
    // (two sign-ins, two profile changes)
    assert_eq!(by_operator.len(), 4, "{by_operator:?}");
    assert_eq!(profile_changes(&by_operator), 2);
    assert!(by_operator
        .iter()
        .all(|n| n["user"]["id"] == operator_id.as_str()));
    // Alone: by action.
    let changes = run(json!({ "action": "user.update_profile" })).await;
    assert_eq!(changes.len(), 5, "{changes:?}");
    let keys = run(json!({ "action": "api_key.create" })).await;
    assert_eq!(
        keys.len(),
        4,
        "the demo's three keys and the owner's: {keys:?}"
    );
    assert_eq!(
        keys.iter()
            .filter(|n| n["user"]["id"] == owner_id.as_str())
            .count(),
        1
    );
    // Alone: by time (from inclusive, to exclusive).
    let later = run(json!({ "at": { "from": "2026-11-24T10:30:00Z" } })).await;
    assert_eq!(profile_changes(&later), 2, "{later:?}");
    assert_eq!(
        later.len(),
        5,
        "two sign-ins, two changes, the key: {later:?}"
    );
    assert!(later
        .iter()
        .all(|n| n["at"].as_str().unwrap() >= "2026-11-24T11:00:00Z"));
    let earlier = run(json!({ "at": { "to": "2026-11-24T11:00:00Z" } })).await;
    assert_eq!(profile_changes(&earlier), 3);
    // Together.
    let owner_later = run(json!({ "userId": owner_id, "action": "user.update_profile", "at": { "from": "2026-11-24T11:00:00Z", "to": "2026-11-24T12:00:00Z" } })).await;
    assert_eq!(owner_later.len(), 1, "{owner_later:?}");
    assert!(
        run(json!({ "userId": operator_id, "action": "api_key.create" }))
            .await
            .is_empty()
    );
    // Paged under a filter: one at a time, the same two entries, newest first.
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let body = app
            .gql(Some(&owner), q, json!({ "f": { "userId": operator_id, "action": "user.update_profile" }, "a": after, "n": 1 }))
            .await;
        let page = &body["data"]["auditLog"];
        seen.push(page["edges"][0]["node"]["at"].clone());
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(
        seen,
        vec![json!("2026-11-24T11:00:00Z"), json!("2026-11-24T10:00:00Z")]
    );
    // Bad input: a clear error.
    let body = app
        .gql(Some(&owner), q, json!({ "f": { "userId": "someone" } }))
        .await;
    assert_eq!(error_code(&body), Some("INVALID"), "{body}");
    // Another merchant's user: nothing of theirs.
    let other = app.login(OTHER_OWNER).await;
    let body = app
        .gql(
            Some(&other),
            q,
            json!({ "f": { "userId": owner_id }, "n": 100 }),
        )
        .await;
    assert_eq!(body["data"]["auditLog"]["edges"], json!([]), "{body}");
}
