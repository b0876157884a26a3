//! The authorization matrix: every route kosh serves, called with no token and as a user of
//! each shipped role, against what the shipped MDMS role-actions allow. The expectation is
//! computed here from the data files, independently of kosh's own access index; and the
//! grants kosh deliberately does not ship (citizens writing demands).

use std::collections::{BTreeMap, BTreeSet};

use kosh_blackbox::{Backend, Kosh, on_both_databases};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(every_route_with_every_role_matches_the_role_actions);

fn data(path: &str) -> Value {
    let file = format!("{}/../../data/mdms/pb/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}")))
        .unwrap()
}

/// role code → the action urls the shipped data maps to it.
fn role_urls() -> BTreeMap<String, BTreeSet<String>> {
    let actions = data("ACCESSCONTROL-ACTIONS-TEST/actions-test.revenue-subset.json");
    let url_of: BTreeMap<i64, String> = actions["actions-test"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_i64().unwrap(),
                a["url"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mappings = data("ACCESSCONTROL-ROLEACTIONS/roleactions.revenue-subset.json");
    for mapping in mappings["roleactions"].as_array().unwrap() {
        let role = mapping["rolecode"].as_str().unwrap_or_default();
        if let Some(url) = mapping["actionid"].as_i64().and_then(|id| url_of.get(&id)) {
            out.entry(role.to_string()).or_default().insert(url.clone());
        }
    }
    out
}

/// kosh's shipped role-actions are stricter than DIGIT's sample data, which lets CITIZEN
/// `demand/_create` (a citizen could then put a negative demand on anyone's consumer code):
/// citizens may read their demands and bills, never write demands. The matrix below
/// expects the 403s from the same data.
#[test]
fn citizens_are_not_mapped_to_demand_writes() {
    let urls = role_urls();
    let citizen = urls.get("CITIZEN").expect("CITIZEN has actions");
    for url in [
        "/billing-service/demand/_create",
        "/billing-service/demand/_update",
    ] {
        assert!(!citizen.contains(url), "CITIZEN is mapped to {url}");
    }
    for url in [
        "/billing-service/demand/_search",
        "/billing-service/bill/v2/_fetchbill",
    ] {
        assert!(citizen.contains(url), "CITIZEN lost {url}");
    }
    for role in ["SUPERUSER", "UC_EMP"] {
        assert!(
            urls[role].contains("/billing-service/demand/_create")
                && urls[role].contains("/billing-service/demand/_update"),
            "{role} can no longer write demands"
        );
    }
}

/// DIGIT's url match: equal, or equal with each `{param}` standing for one path segment.
fn url_matches(action: &str, path: &str) -> bool {
    if action == path {
        return true;
    }
    let (a, p): (Vec<&str>, Vec<&str>) = (action.split('/').collect(), path.split('/').collect());
    a.len() == p.len()
        && a.iter()
            .zip(&p)
            .all(|(x, y)| x == y || (x.starts_with('{') && x.ends_with('}') && !y.is_empty()))
}

/// Calls `path` with the route's own method (a GET-only route answers 405 to a POST before any
/// authorization), the token in `RequestInfo.authToken` and in the `auth-token` header.
async fn call(
    kosh: &Kosh,
    method: &str,
    token: Option<&str>,
    path: &str,
    mut body: Value,
) -> (StatusCode, Value) {
    let mut request = kosh.client.request(method.parse().unwrap(), kosh.url(path));
    if let Some(token) = token {
        body["RequestInfo"]["authToken"] = json!(token);
        request = request.header("auth-token", token);
    }
    kosh_blackbox::read(request.json(&body).send().await.unwrap()).await
}

async fn every_route_with_every_role_matches_the_role_actions(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let (_, doc) = kosh.get("/openapi.json").await;
    let mut routes: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.push((method.to_uppercase(), path.clone()));
        }
    }
    assert!(routes.len() >= 15, "{routes:?}");
    let (open, protected): (Vec<_>, Vec<_>) = routes
        .into_iter()
        .partition(|(_, p)| kosh_server::gateway::is_open(p));

    // Open routes answer without a token; protected ones refuse with 401.
    for (method, path) in &open {
        let request = kosh
            .client
            .request(method.parse().unwrap(), kosh.url(path))
            .json(&json!({"RequestInfo": {}}));
        let (status, body) = kosh_blackbox::read(request.send().await.unwrap()).await;
        let gateway_refusal = body["Errors"][0]["code"] == "CustomException";
        assert!(
            !gateway_refusal && status != StatusCode::FORBIDDEN,
            "{method} {path}: {status} {body}"
        );
    }
    for (method, path) in &protected {
        let (status, body) = call(&kosh, method, None, path, json!({"RequestInfo": {}})).await;
        if kosh_server::gateway::is_mixed(path) {
            // A token is optional there (gateway callbacks); with one, roles apply below.
            assert!(
                status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                "{path} without a token: {status} {body}"
            );
            continue;
        }
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{path} without a token: {body}"
        );
    }

    let role_urls = role_urls();
    let roles = data("ACCESSCONTROL-ROLES/roles.json");
    let codes: Vec<String> = roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_string())
        .collect();
    assert!(codes.len() > 100);
    let mut checked = 0;
    for chunk in codes.chunks(8) {
        let checks = chunk.iter().enumerate().map(|(i, code)| {
            let kosh = &kosh;
            let protected = &protected;
            let role_urls = &role_urls;
            async move {
                let user_name = format!("matrix-{i}-{}", code.to_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "-"));
                // The BBPS role is an operating unit's: a SYSTEM user (the BBPS routes answer
                // no one else), bound to the test's address.
                let user_type = if code == "BBPS" { "SYSTEM" } else { "EMPLOYEE" };
                kosh.create_user(json!({"userName": user_name, "name": "Matrix", "type": user_type, "active": true,
                    "password": "Matrix@123", "tenantId": "pb.amritsar", "roles": [{"code": code, "tenantId": "pb"}],
                    "allowedIps": ["127.0.0.1"]}))
                    .await;
                let token = kosh.token(&user_name, "Matrix@123", "pb.amritsar", user_type).await;
                let allowed = role_urls.get(code).cloned().unwrap_or_default();
                for (method, path) in protected {
                    let expected_allowed = allowed.iter().any(|url| url_matches(url, path));
                    let (status, body) = call(kosh, method, Some(&token), &format!("{path}?tenantId=pb.amritsar"), json!({})).await;
                    if expected_allowed {
                        assert!(
                            status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                            "role {code} is mapped to {path} but got {status}: {body}"
                        );
                    } else {
                        assert_eq!(status, StatusCode::FORBIDDEN, "role {code} is not mapped to {path}: {body}");
                    }
                    assert!(!status.is_server_error(), "{code} {path}: {status} {body}");
                }
            }
        });
        futures::future::join_all(checks).await;
        checked += chunk.len();
    }
    assert_eq!(checked, codes.len());
    kosh.stop().await;
}
