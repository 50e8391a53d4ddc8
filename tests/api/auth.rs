use crate::support::*;
use kassa::clock::Clock;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn the_demo_owner_signs_in_and_sees_their_merchant() {
    let app = spawn_app().await;
    let body = app.login_raw(OWNER.0, OWNER.1).await;
    assert_eq!(body["data"]["login"]["user"]["role"], "OWNER");
    assert_eq!(body["data"]["login"]["errors"], json!([]));
    let token = body["data"]["login"]["token"].as_str().unwrap();
    assert!(token.starts_with("kss_") && token.len() > 40);
    assert!(body["data"]["login"]["expiresAt"]
        .as_str()
        .unwrap()
        .ends_with('Z'));

    let body = app
        .gql(
            Some(token),
            "{ me { login role language disabled } merchant { name timezone delayedAutoActivation }
               wallets { identifier currency paymentSystem { code country } }
               paymentSystems { code currency withdrawalFields { name required pattern } }
               currencies { code minorUnits } }",
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let d = &body["data"];
    assert_eq!(d["me"]["login"], "owner@demo");
    assert_eq!(d["me"]["language"], "EN");
    assert_eq!(d["merchant"]["name"], "Demo Shop");
    let wallets = d["wallets"].as_array().unwrap();
    assert!(wallets.len() >= 6);
    let countries: std::collections::HashSet<_> = wallets
        .iter()
        .map(|w| w["paymentSystem"]["country"].as_str().unwrap())
        .collect();
    assert!(countries.contains("IN") && countries.contains("BD") && countries.contains("PK"));
    assert_eq!(d["paymentSystems"].as_array().unwrap().len(), 10);
    let imps = d["paymentSystems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "imps")
        .unwrap();
    assert_eq!(imps["withdrawalFields"][1]["name"], "ifsc");
    assert_eq!(
        imps["withdrawalFields"][1]["pattern"],
        "^[A-Z]{4}0[A-Z0-9]{6}$"
    );
    let kwd = d["currencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "KWD")
        .unwrap();
    assert_eq!(kwd["minorUnits"], 3);
}

#[tokio::test]
async fn unknown_login_and_wrong_password_answer_alike() {
    let app = spawn_app().await;
    let wrong_password = app.login_raw(OWNER.0, "NotThePassword1").await;
    let unknown_login = app.login_raw("nobody@demo", "NotThePassword1").await;
    for body in [&wrong_password, &unknown_login] {
        assert_eq!(
            user_error(body, "login"),
            Some("WRONG_CREDENTIALS"),
            "{body}"
        );
        assert!(body["data"]["login"]["token"].is_null());
        assert!(body["data"]["login"]["user"].is_null());
    }
    assert_eq!(
        wrong_password["data"]["login"]["errors"][0]["message"],
        unknown_login["data"]["login"]["errors"][0]["message"]
    );
}

#[tokio::test]
async fn six_failures_lock_the_login_even_for_the_right_password() {
    let app = spawn_app().await;
    for _ in 0..5 {
        let body = app.login_raw(OPERATOR.0, "WrongPassword99").await;
        assert_eq!(user_error(&body, "login"), Some("WRONG_CREDENTIALS"));
    }
    let sixth = app.login_raw(OPERATOR.0, "WrongPassword99").await;
    assert_eq!(user_error(&sixth, "login"), Some("LOCKED"));
    let right = app.login_raw(OPERATOR.0, OPERATOR.1).await;
    assert_eq!(user_error(&right, "login"), Some("LOCKED"), "{right}");
    assert!(right["data"]["login"]["token"].is_null());
    // Other logins are not affected, and the lock ends after 30 minutes.
    app.login(VIEWER).await;
    app.clock.advance(Duration::from_secs(31 * 60));
    app.login(OPERATOR).await;
}

#[tokio::test]
async fn failures_carried_as_aliases_count_one_by_one() {
    let app = spawn_app().await;
    let aliases: String = (0..6)
        .map(|i| format!("a{i}: login(login: \"viewer@demo\", password: \"WrongPassword9{i}\") {{ errors {{ code }} }} "))
        .collect();
    let body = app
        .gql(None, &format!("mutation {{ {aliases} }}"), json!({}))
        .await;
    assert_eq!(body["data"]["a0"]["errors"][0]["code"], "WRONG_CREDENTIALS");
    assert_eq!(body["data"]["a5"]["errors"][0]["code"], "LOCKED");
    let right = app.login_raw(VIEWER.0, VIEWER.1).await;
    assert_eq!(user_error(&right, "login"), Some("LOCKED"));
}

#[tokio::test]
async fn a_success_resets_the_failure_count() {
    let app = spawn_app().await;
    for _ in 0..5 {
        app.login_raw(VIEWER.0, "WrongPassword99").await;
    }
    app.login(VIEWER).await;
    for _ in 0..5 {
        let body = app.login_raw(VIEWER.0, "WrongPassword99").await;
        assert_eq!(user_error(&body, "login"), Some("WRONG_CREDENTIALS"));
    }
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    let token = app.login(OWNER).await;
    let other = app.login(OWNER).await;
    let body = app
        .gql(Some(&token), "mutation { logout }", json!({}))
        .await;
    assert_eq!(body["data"]["logout"], true);
    let body = app.gql(Some(&token), "{ me { login } }", json!({})).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    // Only that session ended.
    let body = app.gql(Some(&other), "{ me { login } }", json!({})).await;
    assert_eq!(body["data"]["me"]["login"], "owner@demo");
}

#[tokio::test]
async fn an_idle_session_expires_and_activity_keeps_it_alive() {
    let app = spawn_app().await;
    let idle = app.login(OWNER).await;
    let busy = app.login(OPERATOR).await;
    for _ in 0..3 {
        app.clock.advance(Duration::from_secs(10 * 60));
        let body = app.gql(Some(&busy), "{ me { login } }", json!({})).await;
        assert_eq!(body["data"]["me"]["login"], "operator@demo", "{body}");
    }
    let body = app.gql(Some(&idle), "{ me { login } }", json!({})).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_limit_however_busy() {
    let app = spawn_app().await;
    let token = app.login(OWNER).await;
    for _ in 0..(12 * 6 - 1) {
        app.clock.advance(Duration::from_secs(10 * 60));
        let body = app.gql(Some(&token), "{ me { login } }", json!({})).await;
        assert!(body["data"]["me"]["login"].is_string(), "{body}");
    }
    app.clock.advance(Duration::from_secs(10 * 60));
    let body = app.gql(Some(&token), "{ me { login } }", json!({})).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn no_credential_or_a_bad_one_is_unauthenticated() {
    let app = spawn_app().await;
    for token in [
        None,
        Some("kss_forged"),
        Some("kak_forged"),
        Some("garbage"),
    ] {
        let body = app.gql(token, "{ merchant { name } }", json!({})).await;
        assert_eq!(
            error_code(&body),
            Some("UNAUTHENTICATED"),
            "{token:?}: {body}"
        );
        assert!(body["data"].is_null());
    }
}

#[tokio::test]
async fn password_changes_refuse_weak_and_reused_passwords_and_end_other_sessions() {
    let app = spawn_app().await;
    let token = app.login(VIEWER).await;
    let elsewhere = app.login(VIEWER).await;
    let change = |old: &'static str, new: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            app.gql(
                Some(&token),
                "mutation($o: String!, $n: String!) { changePassword(oldPassword: $o, newPassword: $n) { ok errors { code field } } }",
                json!({ "o": old, "n": new }),
            )
            .await
        }
    };
    let body = change("WrongOld12345", "BrandNew2027xy").await;
    assert_eq!(user_error(&body, "changePassword"), Some("WRONG_PASSWORD"));
    assert_eq!(
        body["data"]["changePassword"]["errors"][0]["field"],
        json!(["oldPassword"])
    );
    for weak in [
        "short1",
        "nodigitsatallhere",
        "Password1234",
        "viewer@demo12345",
    ] {
        let body = app
            .gql(
                Some(&token),
                "mutation($n: String!) { changePassword(oldPassword: \"DemoViewer2026\", newPassword: $n) { ok errors { code field } } }",
                json!({ "n": weak }),
            )
            .await;
        assert_eq!(
            user_error(&body, "changePassword"),
            Some("WEAK_PASSWORD"),
            "{weak}"
        );
        assert_eq!(
            body["data"]["changePassword"]["errors"][0]["field"],
            json!(["newPassword"])
        );
    }
    // The current password counts as used.
    let body = change(VIEWER.1, VIEWER.1).await;
    assert_eq!(user_error(&body, "changePassword"), Some("WEAK_PASSWORD"));

    let body = change(VIEWER.1, "Rotation1Viewer").await;
    assert_eq!(body["data"]["changePassword"]["ok"], true, "{body}");
    // The other session ended; this one goes on.
    let gone = app
        .gql(Some(&elsewhere), "{ me { login } }", json!({}))
        .await;
    assert_eq!(error_code(&gone), Some("UNAUTHENTICATED"));
    let kept = app.gql(Some(&token), "{ me { login } }", json!({})).await;
    assert_eq!(kept["data"]["me"]["login"], "viewer@demo");

    // Walk through three more; the first one is still among the last four.
    change("Rotation1Viewer", "Rotation2Viewer").await;
    change("Rotation2Viewer", "Rotation3Viewer").await;
    let back = change("Rotation3Viewer", VIEWER.1).await;
    assert_eq!(
        user_error(&back, "changePassword"),
        Some("WEAK_PASSWORD"),
        "{back}"
    );
    let body = change("Rotation3Viewer", "Rotation4Viewer").await;
    assert_eq!(body["data"]["changePassword"]["ok"], true);
    // Now the original is five passwords back and may return.
    let body = change("Rotation4Viewer", VIEWER.1).await;
    assert_eq!(body["data"]["changePassword"]["ok"], true, "{body}");
    assert_eq!(
        user_error(&app.login_raw(VIEWER.0, "Rotation4Viewer").await, "login"),
        Some("WRONG_CREDENTIALS")
    );
    app.login(VIEWER).await;
}

#[tokio::test]
async fn api_keys_act_within_their_scope() {
    let app = spawn_app().await;
    let (merchant_key, ingest_key, platform_key) = (
        app.keys.merchant.as_str(),
        app.keys.ingest.as_str(),
        app.keys.platform.as_str(),
    );
    let body = app
        .gql(
            Some(merchant_key),
            "{ merchant { name } wallets { identifier } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["merchant"]["name"], "Demo Shop", "{body}");
    // A key is not a user.
    let body = app
        .gql(Some(merchant_key), "{ me { login } }", json!({}))
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
    for key in [ingest_key, platform_key] {
        let body = app
            .gql(Some(key), "{ wallets { identifier } }", json!({}))
            .await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
        let body = app
            .gql(Some(key), "{ paymentSystems { code } }", json!({}))
            .await;
        assert!(body["errors"].is_null());
    }
}

#[tokio::test]
async fn login_is_rate_limited_per_client() {
    let app = spawn_app_with(&[("KASSA_LOGIN_RATE", "3")]).await;
    for _ in 0..3 {
        let body = app.login_raw("someone@demo", "Whatever12345").await;
        assert_eq!(user_error(&body, "login"), Some("WRONG_CREDENTIALS"));
    }
    let body = app.login_raw(OWNER.0, OWNER.1).await;
    assert_eq!(error_code(&body), Some("RATE_LIMITED"), "{body}");
}

#[tokio::test]
async fn a_busy_client_is_verified_from_memory_and_ended_sessions_stop_at_once() {
    use std::sync::atomic::Ordering::Relaxed;
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let viewer = app.login(VIEWER).await;
    let ask = async |token: &str| app.gql(Some(token), "{ __typename }", json!({})).await;
    assert!(ask(&viewer).await["errors"].is_null());
    // Within a few seconds, the same credential costs no database statement.
    let before = app.deps.statements.load(Relaxed);
    for _ in 0..20 {
        assert_eq!(ask(&viewer).await["data"]["__typename"], "Query");
    }
    assert_eq!(
        app.deps.statements.load(Relaxed) - before,
        0,
        "a cached session is not looked up again"
    );
    // ... and past them it is looked up (and touched) again.
    app.clock.advance(Duration::from_secs(6));
    let before = app.deps.statements.load(Relaxed);
    assert!(ask(&viewer).await["errors"].is_null());
    assert!(app.deps.statements.load(Relaxed) > before);

    // Disabling the user ends its sessions at once, cached or not.
    let id = app.gql(Some(&viewer), "{ me { id } }", json!({})).await["data"]["me"]["id"].clone();
    let body = app
        .gql(
            Some(&owner),
            "mutation($id: ID!) { setUserDisabled(id: $id, disabled: true) { errors { code } } }",
            json!({ "id": id }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let me = async |token: &str| app.gql(Some(token), "{ me { login } }", json!({})).await;
    assert_eq!(error_code(&me(&viewer).await), Some("UNAUTHENTICATED"));
    // So does signing out.
    assert!(me(&owner).await["errors"].is_null());
    app.gql(Some(&owner), "mutation { logout }", json!({}))
        .await;
    assert_eq!(error_code(&me(&owner).await), Some("UNAUTHENTICATED"));
}

const CREATE_KEY: &str = "mutation($n: String!) { createApiKey(input: { name: $n }) { key apiKey { id name scope prefix createdAt createdBy { login } lastUsedAt revokedAt } errors { code field message } } }";
const KEYS: &str = "{ apiKeys { id name prefix lastUsedAt revokedAt } }";
const REVOKE_KEY: &str = "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id revokedAt } errors { code field } } }";
const AS_KEY: &str = "{ transactions(first: 1) { totalCount } }";

fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[tokio::test]
async fn an_owner_makes_uses_lists_and_revokes_an_api_key() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let made = app
        .gql(Some(&owner), CREATE_KEY, json!({ "n": "  shop backend " }))
        .await;
    let payload = &made["data"]["createApiKey"];
    assert_eq!(payload["errors"], json!([]), "{made}");
    let key = payload["key"].as_str().unwrap().to_string();
    let record = &payload["apiKey"];
    assert!(key.starts_with("kak_"), "{key}");
    assert_eq!(record["name"], "shop backend");
    assert_eq!(record["scope"], "MERCHANT");
    assert_eq!(record["prefix"].as_str().unwrap(), &key[..10]);
    assert_eq!(record["createdBy"]["login"], OWNER.0);
    assert!(record["lastUsedAt"].is_null());
    let id = record["id"].as_str().unwrap().to_string();

    // Used: it reads the merchant's data, and the list shows when.
    let used = app.gql(Some(&key), AS_KEY, json!({})).await;
    assert!(used["errors"].is_null(), "{used}");
    let first_use = app.clock.now();
    let listed = app.gql(Some(&owner), KEYS, json!({})).await;
    let mine = listed["data"]["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{listed}"))
        .clone();
    assert_eq!(mine["lastUsedAt"], stamp(first_use));
    assert!(
        !listed.to_string().contains(&key[10..]),
        "the list never shows the key"
    );

    // Used again within the minute: not written again; after it: written.
    app.clock.advance(std::time::Duration::from_secs(30));
    app.gql(Some(&key), AS_KEY, json!({})).await;
    let listed = app.gql(Some(&owner), KEYS, json!({})).await;
    assert!(listed.to_string().contains(&stamp(first_use)), "{listed}");
    app.clock.advance(std::time::Duration::from_secs(31));
    app.gql(Some(&key), AS_KEY, json!({})).await;
    let later = app.clock.now();
    let listed = app.gql(Some(&owner), KEYS, json!({})).await;
    assert!(listed.to_string().contains(&stamp(later)), "{listed}");

    // Revoked: its next request is UNAUTHENTICATED, and the list says when.
    let revoked = app.gql(Some(&owner), REVOKE_KEY, json!({ "id": id })).await;
    assert_eq!(
        revoked["data"]["revokeApiKey"]["errors"],
        json!([]),
        "{revoked}"
    );
    assert!(revoked["data"]["revokeApiKey"]["apiKey"]["revokedAt"].is_string());
    let refused = app.gql(Some(&key), AS_KEY, json!({})).await;
    assert_eq!(error_code(&refused), Some("UNAUTHENTICATED"), "{refused}");
    let listed = app.gql(Some(&owner), KEYS, json!({})).await;
    assert!(
        listed.to_string().contains("revokedAt\":\"2026"),
        "{listed}"
    );
    // Revoking again changes nothing.
    let again = app.gql(Some(&owner), REVOKE_KEY, json!({ "id": id })).await;
    assert_eq!(
        again["data"]["revokeApiKey"]["errors"],
        json!([]),
        "{again}"
    );

    // Audited, both.
    let audit = app
        .gql(
            Some(&owner),
            "{ auditLog(first: 50) { edges { node { action } } } }",
            json!({}),
        )
        .await
        .to_string();
    assert!(
        audit.contains("api_key.create") && audit.contains("api_key.revoke"),
        "{audit}"
    );
}

#[tokio::test]
async fn api_keys_are_the_owners_alone_and_stay_in_their_merchant() {
    let app = spawn_app().await;
    for (who, name) in [(OPERATOR, "operator"), (VIEWER, "viewer")] {
        let token = app.login(who).await;
        for (q, vars) in [
            (CREATE_KEY, json!({ "n": name })),
            (KEYS, json!({})),
            (REVOKE_KEY, json!({ "id": "1" })),
        ] {
            let body = app.gql(Some(&token), q, vars).await;
            assert_eq!(error_code(&body), Some("FORBIDDEN"), "{name}: {body}");
        }
    }
    // A MERCHANT key cannot make more keys.
    let body = app
        .gql(
            Some(app.keys.merchant.as_str()),
            CREATE_KEY,
            json!({ "n": "sneaky" }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    assert_eq!(
        error_code(&app.gql(None, KEYS, json!({})).await),
        Some("UNAUTHENTICATED")
    );

    // Another merchant's key: NOT_FOUND, and it keeps working.
    let other = app.login(OTHER_OWNER).await;
    let theirs = app
        .gql(Some(&other), CREATE_KEY, json!({ "n": "theirs" }))
        .await;
    let their_key = theirs["data"]["createApiKey"]["key"]
        .as_str()
        .unwrap()
        .to_string();
    let their_id = theirs["data"]["createApiKey"]["apiKey"]["id"].clone();
    let owner = app.login(OWNER).await;
    let body = app
        .gql(Some(&owner), REVOKE_KEY, json!({ "id": their_id }))
        .await;
    assert_eq!(
        body["data"]["revokeApiKey"]["errors"][0]["code"], "NOT_FOUND",
        "{body}"
    );
    assert!(body["data"]["revokeApiKey"]["apiKey"].is_null());
    let listed = app.gql(Some(&owner), KEYS, json!({})).await.to_string();
    assert!(!listed.contains("theirs"), "{listed}");
    let works = app.gql(Some(&their_key), AS_KEY, json!({})).await;
    assert!(works["errors"].is_null(), "{works}");
    // Nor the platform's keys, by id.
    for bad in ["not-a-number", "999999"] {
        let body = app
            .gql(Some(&owner), REVOKE_KEY, json!({ "id": bad }))
            .await;
        assert_eq!(
            body["data"]["revokeApiKey"]["errors"][0]["code"], "NOT_FOUND",
            "{body}"
        );
    }

    // Bad names: refused, nothing made.
    let before = app.gql(Some(&owner), KEYS, json!({})).await["data"]["apiKeys"]
        .as_array()
        .unwrap()
        .len();
    for name in ["   ".to_string(), "x".repeat(101)] {
        let body = app
            .gql(Some(&owner), CREATE_KEY, json!({ "n": name }))
            .await;
        assert_eq!(
            body["data"]["createApiKey"]["errors"][0]["code"], "INVALID",
            "{body}"
        );
        assert!(body["data"]["createApiKey"]["key"].is_null());
    }
    let after = app.gql(Some(&owner), KEYS, json!({})).await["data"]["apiKeys"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after);
}

#[tokio::test]
async fn a_key_revoked_on_another_instance_stops_here_at_once() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let made = app
        .gql(Some(&owner), CREATE_KEY, json!({ "n": "elsewhere" }))
        .await;
    let key = made["data"]["createApiKey"]["key"]
        .as_str()
        .unwrap()
        .to_string();
    let id: i64 = made["data"]["createApiKey"]["apiKey"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // Verified once: trusted from memory for the next seconds.
    assert!(app.gql(Some(&key), AS_KEY, json!({})).await["errors"].is_null());
    // Another instance revokes it: its write, and its event on the bus
    // (through Redis when the suite runs with it).
    entity::api_key::Entity::update_many()
        .col_expr(
            entity::api_key::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(Some(chrono::Utc::now())),
        )
        .filter(entity::api_key::Column::Id.eq(id))
        .exec(&app.deps.db)
        .await
        .unwrap();
    app.deps
        .bus
        .publish(vec![kassa::events::Event::KeysRevoked {
            key_ids: vec![id],
        }])
        .await;
    // No clock moves: only the event can make this instance forget the key.
    let mut refused = false;
    for _ in 0..50 {
        if error_code(&app.gql(Some(&key), AS_KEY, json!({})).await) == Some("UNAUTHENTICATED") {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "the revoked key was still trusted from memory");
}

const LOGIN_TOTP: &str = "mutation($l: String!, $p: String!, $t: String) { login(login: $l, password: $p, totp: $t) { token user { login totpEnabled } errors { code field message } } }";

/// The code an authenticator shows for `secret` at `at` (computed here, as a phone would).
fn code_at(secret: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_string())
        .to_bytes()
        .unwrap();
    let totp =
        totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, "x".into()).unwrap();
    totp.generate(at.timestamp() as u64)
}

#[tokio::test]
async fn two_factor_sign_in_enrols_confirms_and_guards_every_sign_in() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let login = async |t: Option<&str>| {
        app.gql(
            None,
            LOGIN_TOTP,
            json!({ "l": OWNER.0, "p": OWNER.1, "t": t }),
        )
        .await["data"]["login"]
            .clone()
    };
    // Enrol: a secret and its otpauth URI, shown once; not on yet.
    let enrolled = app
        .gql(
            Some(&owner),
            "mutation { enrollTotp { secret otpauthUri errors { code } } }",
            json!({}),
        )
        .await;
    let secret = enrolled["data"]["enrollTotp"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let uri = enrolled["data"]["enrollTotp"]["otpauthUri"]
        .as_str()
        .unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Kassa:owner%40demo?") && uri.contains(&secret),
        "{uri}"
    );
    assert!(
        login(None).await["token"].is_string(),
        "not on before confirmTotp"
    );

    // Confirm: a wrong code is refused, the current one turns it on.
    let confirm = "mutation($c: String!) { confirmTotp(code: $c) { user { totpEnabled } recoveryCodes errors { code field } } }";
    let wrong = app
        .gql(Some(&owner), confirm, json!({ "c": "000000" }))
        .await;
    assert_eq!(
        wrong["data"]["confirmTotp"]["errors"][0]["code"], "INVALID",
        "{wrong}"
    );
    let now = app.clock.now();
    let on = app
        .gql(Some(&owner), confirm, json!({ "c": code_at(&secret, now) }))
        .await;
    let on = &on["data"]["confirmTotp"];
    assert_eq!(on["user"]["totpEnabled"], true, "{on}");
    let recovery: Vec<String> = on["recoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(recovery.len(), 10);
    // The secret is never readable back, and enrolling again is refused.
    let again = app
        .gql(
            Some(&owner),
            "mutation { enrollTotp { secret errors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        again["data"]["enrollTotp"]["errors"][0]["code"],
        "INVALID_TRANSITION"
    );
    assert!(again["data"]["enrollTotp"]["secret"].is_null());
    let me = app
        .gql(Some(&owner), "{ me { totpEnabled } }", json!({}))
        .await;
    assert_eq!(me["data"]["me"]["totpEnabled"], true);
    assert!(!me.to_string().contains(&secret));

    // Sign-in without a code: TOTP_REQUIRED and no token.
    let no_code = login(None).await;
    assert_eq!(no_code["errors"][0]["code"], "TOTP_REQUIRED", "{no_code}");
    assert!(no_code["token"].is_null());
    // The code confirmTotp used is spent; the next step's code signs in, once.
    assert!(login(Some(&code_at(&secret, now))).await["token"].is_null());
    app.clock.advance(Duration::from_secs(30));
    let code = code_at(&secret, app.clock.now());
    let signed = login(Some(&code)).await;
    assert!(signed["token"].is_string(), "{signed}");
    let replay = login(Some(&code)).await;
    assert!(
        replay["token"].is_null(),
        "a code is accepted once: {replay}"
    );
    // A recovery code works once, however it is typed.
    let typed = recovery[0].to_uppercase().replace('-', " ");
    assert!(login(Some(&typed)).await["token"].is_string());
    assert!(login(Some(&recovery[0])).await["token"].is_null());
    // Wrong codes count toward the lockout like wrong passwords.
    let mut locked_after = None;
    for i in 1..=8 {
        let body = login(Some("123456")).await;
        assert!(body["token"].is_null());
        if body["errors"][0]["code"] == "LOCKED" {
            locked_after = Some(i);
            break;
        }
    }
    assert!(
        locked_after.is_some_and(|n| n <= 7),
        "locked after {locked_after:?}"
    );
    app.clock.advance(Duration::from_secs(30));
    let right = login(Some(&code_at(&secret, app.clock.now()))).await;
    assert_eq!(
        right["errors"][0]["code"], "LOCKED",
        "locked, even with a right code: {right}"
    );
}

#[tokio::test]
async fn two_factor_sign_in_turns_off_with_the_password_or_from_the_command_line() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let enrol = async |token: &str| {
        let secret = app
            .gql(Some(token), "mutation { enrollTotp { secret } }", json!({}))
            .await["data"]["enrollTotp"]["secret"]
            .as_str()
            .unwrap()
            .to_string();
        let code = code_at(&secret, app.clock.now());
        let on = app
            .gql(
                Some(token),
                "mutation($c: String!) { confirmTotp(code: $c) { errors { code } } }",
                json!({ "c": code }),
            )
            .await;
        assert_eq!(on["data"]["confirmTotp"]["errors"], json!([]), "{on}");
    };
    enrol(&owner).await;
    let off = "mutation($p: String!) { disableTotp(password: $p) { user { totpEnabled } errors { code field } } }";
    let wrong = app
        .gql(Some(&owner), off, json!({ "p": "Not-the-password-1" }))
        .await;
    assert_eq!(
        wrong["data"]["disableTotp"]["errors"][0]["code"], "WRONG_PASSWORD",
        "{wrong}"
    );
    assert_eq!(
        app.gql(None, LOGIN_TOTP, json!({ "l": OWNER.0, "p": OWNER.1 }))
            .await["data"]["login"]["errors"][0]["code"],
        "TOTP_REQUIRED"
    );
    let done = app.gql(Some(&owner), off, json!({ "p": OWNER.1 })).await;
    assert_eq!(
        done["data"]["disableTotp"]["user"]["totpEnabled"], false,
        "{done}"
    );
    assert!(app
        .gql(None, LOGIN_TOTP, json!({ "l": OWNER.0, "p": OWNER.1 }))
        .await["data"]["login"]["token"]
        .is_string());

    // On again, then an administrator turns it off for the locked-out owner.
    enrol(&owner).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kassa"))
        .args(["admin", "disable-totp", "--login", "Owner@Demo"])
        .env("DATABASE_URL", &app.database_url)
        .env_remove("REDIS_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"{"disabled":true}"#
    );
    assert!(app
        .gql(None, LOGIN_TOTP, json!({ "l": OWNER.0, "p": OWNER.1 }))
        .await["data"]["login"]["token"]
        .is_string());
    let audit = app
        .gql(
            Some(&app.login(OWNER).await),
            "{ auditLog(first: 50) { nodes { action } } }",
            json!({}),
        )
        .await
        .to_string();
    for action in ["user.totp_enroll", "user.totp_enable", "user.totp_disable"] {
        assert!(audit.contains(action), "{action}: {audit}");
    }
}

#[tokio::test]
async fn turning_two_factor_off_is_no_password_oracle() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let off = "mutation($p: String!) { disableTotp(password: $p) { errors { code } } }";
    let mut locked_after = None;
    for i in 1..=8 {
        let body = app
            .gql(
                Some(&owner),
                off,
                json!({ "p": format!("Guess-number-{i}") }),
            )
            .await;
        let code = body["data"]["disableTotp"]["errors"][0]["code"].clone();
        if code == "LOCKED" {
            locked_after = Some(i);
            break;
        }
        assert_eq!(code, "WRONG_PASSWORD", "{body}");
    }
    assert!(
        locked_after.is_some_and(|n| n <= 7),
        "locked after {locked_after:?}"
    );
    // locked: even the right password is refused, here and at sign-in
    let body = app.gql(Some(&owner), off, json!({ "p": OWNER.1 })).await;
    assert_eq!(
        body["data"]["disableTotp"]["errors"][0]["code"], "LOCKED",
        "{body}"
    );
    assert_eq!(
        app.login_raw(OWNER.0, OWNER.1).await["data"]["login"]["errors"][0]["code"],
        "LOCKED"
    );
}
