//! Identity and access over HTTP, on SQLite and on PostgreSQL: logins for each user type,
//! DIGIT's login errors and lockout, refresh (rotation when set; DIGIT's reuse is in
//! identity_conformance.rs) and logout, user search and creation, SYSTEM
//! users bound to their allowed addresses, and the gateway's 401/403.

use kosh_blackbox::{
    ADMIN, ADMIN_PASSWORD, BASIC_CLIENT, Backend, Kosh, assert_digit_error, on_both_databases, read,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    forwarded_addresses_count_only_as_the_proxy_says,
    each_user_type_logs_in_with_digits_answer,
    login_errors_use_digits_messages,
    five_failures_lock_and_the_lock_lifts_after_an_hour,
    rotation_spends_the_refresh_token_and_logout_revokes,
    a_remembered_token_follows_refresh_and_user_changes_at_once,
    details_describe_the_token_user,
    search_filters_and_rejects_empty_criteria,
    only_a_superuser_creates_users,
    create_validates_like_digit,
    system_user_is_bound_to_its_addresses,
    forged_user_info_is_ignored,
    password_update_checks_and_revokes,
    gateway_answers_401_and_403,
);

const PASSWORD: &str = "Secret@123";

fn citizen(mobile: &str) -> Value {
    json!({"userName": mobile, "name": "Asha Rani", "mobileNumber": mobile, "type": "CITIZEN", "active": true,
           "password": PASSWORD, "tenantId": "pb.amritsar", "gender": "FEMALE", "dob": "21/04/1990",
           "roles": [{"code": "CITIZEN", "tenantId": "pb"}]})
}

fn employee(user_name: &str, roles: &[&str]) -> Value {
    json!({"userName": user_name, "name": "Ravi Kumar", "mobileNumber": "9812345678", "type": "EMPLOYEE", "active": true,
           "password": PASSWORD, "tenantId": "pb.amritsar",
           "roles": roles.iter().map(|r| json!({"code": r, "tenantId": "pb.amritsar"})).collect::<Vec<_>>()})
}

fn system_user(user_name: &str, allowed: &[&str]) -> Value {
    json!({"userName": user_name, "name": "Bank of Punjab BBPS", "type": "SYSTEM", "active": true,
           "password": PASSWORD, "tenantId": "pb", "allowedIps": allowed,
           "roles": [{"code": "BBPS", "tenantId": "pb"}, {"code": "EMPLOYEE", "tenantId": "pb"}]})
}

fn idgen_body() -> Value {
    json!({"RequestInfo": {}, "idRequests": [{"idName": "pt.receipt.id", "tenantId": "pb.amritsar"}]})
}

async fn each_user_type_logs_in_with_digits_answer(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let created = kosh.create_user(citizen("9876543210")).await;
    assert_eq!(
        created["tenantId"], "pb",
        "a citizen lives at the state tenant"
    );
    assert_eq!(
        created["password"],
        Value::Null,
        "the password is never returned"
    );
    assert_eq!(created["dob"], "21/04/1990");
    kosh.create_user(employee("ravi", &["EMPLOYEE"])).await;
    kosh.create_user(system_user("bbps-bank", &["127.0.0.1"]))
        .await;

    // The web UI sends userType in lower case.
    let (status, body) = kosh
        .login("9876543210", PASSWORD, "pb.amritsar", "citizen")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for key in [
        "access_token",
        "refresh_token",
        "expires_in",
        "scope",
        "ResponseInfo",
        "UserRequest",
    ] {
        assert!(body.get(key).is_some(), "{key} missing from {body}");
    }
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["scope"], "read");
    assert_eq!(
        body["ResponseInfo"]["status"],
        "Access Token generated successfully"
    );
    assert_eq!(body["UserRequest"]["type"], "CITIZEN");
    assert_eq!(body["UserRequest"]["roles"][0]["code"], "CITIZEN");
    assert_eq!(body["UserRequest"]["roles"][0]["name"], "Citizen");
    assert!(body["expires_in"].as_i64().unwrap() > 0);

    let (status, body) = kosh
        .login("ravi", PASSWORD, "pb.amritsar", "EMPLOYEE")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["UserRequest"]["userName"], "ravi");
    let (status, body) = kosh.login("bbps-bank", PASSWORD, "pb", "SYSTEM").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["UserRequest"]["type"], "SYSTEM");
    // The same name as another type is a different user.
    let (status, _) = kosh.login("ravi", PASSWORD, "pb.amritsar", "CITIZEN").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    kosh.stop().await;
}

fn assert_oauth_error(status: StatusCode, body: &Value, description: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_request", "{body}");
    assert_eq!(body["error_description"], description, "{body}");
}

async fn login_errors_use_digits_messages(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    kosh.create_user(employee("ravi", &["EMPLOYEE"])).await;
    let (status, body) = kosh
        .login("ravi", "Wrong@123", "pb.amritsar", "EMPLOYEE")
        .await;
    assert_oauth_error(status, &body, "Invalid login credentials");
    let (status, body) = kosh
        .login("nobody", PASSWORD, "pb.amritsar", "EMPLOYEE")
        .await;
    assert_oauth_error(status, &body, "Invalid login credentials");
    let (status, body) = kosh.login("ravi", PASSWORD, "", "EMPLOYEE").await;
    assert_oauth_error(status, &body, "TenantId is mandatory");
    let (status, body) = kosh.login("ravi", PASSWORD, "pb.amritsar", "ALIEN").await;
    assert_oauth_error(
        status,
        &body,
        "User Type is mandatory and has to be a valid type",
    );

    // An inactive account.
    let mut inactive = employee("sleepy", &["EMPLOYEE"]);
    inactive["active"] = json!(false);
    kosh.create_user(inactive).await;
    let (status, body) = kosh
        .login("sleepy", PASSWORD, "pb.amritsar", "EMPLOYEE")
        .await;
    assert_oauth_error(status, &body, "Please activate your account");

    // Without DIGIT's client header.
    let response = kosh
        .client
        .post(kosh.url("/user/oauth/token"))
        .form(&[
            ("username", "ravi"),
            ("password", PASSWORD),
            ("grant_type", "password"),
            ("tenantId", "pb.amritsar"),
            ("userType", "EMPLOYEE"),
        ])
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "unauthorized");
    let response = kosh
        .client
        .post(kosh.url("/user/oauth/token"))
        .header("authorization", BASIC_CLIENT)
        .form(&[("grant_type", "magic")])
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unsupported_grant_type");
    kosh.stop().await;
}

async fn five_failures_lock_and_the_lock_lifts_after_an_hour(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    kosh.create_user(employee("ravi", &["EMPLOYEE"])).await;
    // Four failures, then half an hour passes: they no longer count.
    for _ in 0..4 {
        let (status, body) = kosh
            .login("ravi", "Wrong@123", "pb.amritsar", "EMPLOYEE")
            .await;
        assert_oauth_error(status, &body, "Invalid login credentials");
    }
    kosh.advance_clock(31 * 60 * 1000).await;
    let (status, body) = kosh
        .login("ravi", "Wrong@123", "pb.amritsar", "EMPLOYEE")
        .await;
    assert_oauth_error(status, &body, "Invalid login credentials");
    // Four more within the window make five: the fifth locks.
    for _ in 0..3 {
        let (status, body) = kosh
            .login("ravi", "Wrong@123", "pb.amritsar", "EMPLOYEE")
            .await;
        assert_oauth_error(status, &body, "Invalid login credentials");
    }
    let (status, body) = kosh
        .login("ravi", "Wrong@123", "pb.amritsar", "EMPLOYEE")
        .await;
    assert_oauth_error(status, &body, "Account locked");
    // Locked: even the right password is refused.
    let (status, body) = kosh
        .login("ravi", PASSWORD, "pb.amritsar", "EMPLOYEE")
        .await;
    assert_oauth_error(status, &body, "Account locked");
    kosh.advance_clock(59 * 60 * 1000).await;
    let (status, body) = kosh
        .login("ravi", PASSWORD, "pb.amritsar", "EMPLOYEE")
        .await;
    assert_oauth_error(status, &body, "Account locked");
    kosh.advance_clock(2 * 60 * 1000).await;
    let (status, body) = kosh
        .login("ravi", PASSWORD, "pb.amritsar", "EMPLOYEE")
        .await;
    assert_eq!(status, StatusCode::OK, "unlocked after 60 minutes: {body}");
    // Unlocking cleared the old failures: one more failure does not lock again.
    let (status, body) = kosh
        .login("ravi", "Wrong@123", "pb.amritsar", "EMPLOYEE")
        .await;
    assert_oauth_error(status, &body, "Invalid login credentials");
    let (_, metrics) = kosh.get_text("/metrics").await;
    assert!(
        metrics.contains("kosh_login_failures_total"),
        "failed logins are counted"
    );
    kosh.stop().await;
}

async fn refresh(kosh: &Kosh, refresh_token: &str) -> (StatusCode, Value) {
    let response = kosh
        .client
        .post(kosh.url("/user/oauth/token"))
        .header("authorization", BASIC_CLIENT)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .unwrap();
    read(response).await
}

/// kosh remembers a token's user for a few seconds (KOSH_TOKEN_CACHE_SECONDS); a refresh,
/// a deactivation and a role change on this instance apply to a token already remembered
/// at once, with the test clock standing still.
async fn a_remembered_token_follows_refresh_and_user_changes_at_once(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let created = kosh.create_user(employee("ravi", &["EMPLOYEE"])).await;
    let (_, first) = kosh
        .login("ravi", PASSWORD, "pb.amritsar", "EMPLOYEE")
        .await;
    let first_token = first["access_token"].as_str().unwrap();
    // Used twice, so it is remembered.
    for _ in 0..2 {
        let (status, body) = kosh
            .post_as(first_token, "/egov-idgen/id/_generate", idgen_body())
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, second) = refresh(&kosh, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let (status, _) = kosh
        .post_as(first_token, "/egov-idgen/id/_generate", idgen_body())
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a refresh revokes the access token issued before it"
    );

    let token = second["access_token"].as_str().unwrap();
    let (status, body) = kosh
        .post_as(token, "/egov-idgen/id/_generate", idgen_body())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let update = |user: Value| {
        let kosh = &kosh;
        async move {
            let (status, body) = kosh
                .post("/user/users/_updatenovalidate", json!({"user": user}))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    };
    update(json!({"uuid": created["uuid"], "active": false})).await;
    let (status, _) = kosh
        .post_as(token, "/egov-idgen/id/_generate", idgen_body())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "deactivated");
    update(json!({"uuid": created["uuid"], "active": true})).await;
    let (status, body) = kosh
        .post_as(token, "/egov-idgen/id/_generate", idgen_body())
        .await;
    assert_eq!(status, StatusCode::OK, "active again: {body}");

    // The user at another city now: the remembered roles at pb.amritsar are gone.
    update(json!({"uuid": created["uuid"],
        "roles": [{"code": "EMPLOYEE", "tenantId": "pb.jalandhar"}]}))
    .await;
    let (status, _) = kosh
        .post_as(token, "/egov-idgen/id/_generate", idgen_body())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "roles changed");
    kosh.stop().await;
}

/// With KOSH_ROTATE_REFRESH_TOKENS (not DIGIT's default, which reuses the refresh token) a
/// refresh spends its refresh token and answers a new pair.
async fn rotation_spends_the_refresh_token_and_logout_revokes(backend: Backend) {
    let kosh = Kosh::start_with(backend, |s| s.rotate_refresh_tokens = true).await;
    kosh.create_user(employee("ravi", &["EMPLOYEE"])).await;
    let (_, first) = kosh
        .login("ravi", PASSWORD, "pb.amritsar", "EMPLOYEE")
        .await;
    let (status, second) = refresh(&kosh, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(second["access_token"], first["access_token"]);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    // The used refresh token, and the access token issued with it, are spent.
    let (status, body) = refresh(&kosh, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    let (status, _) = kosh
        .post_as(
            first["access_token"].as_str().unwrap(),
            "/egov-idgen/id/_generate",
            idgen_body(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let token = second["access_token"].as_str().unwrap();
    let (status, body) = kosh
        .post_as(token, "/egov-idgen/id/_generate", idgen_body())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = kosh
        .post_anonymous("/user/_logout", json!({"access_token": token}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "Logout successfully");
    let (status, body) = kosh
        .post_as(token, "/egov-idgen/id/_generate", idgen_body())
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "CustomException",
        Some("You are not authorized to access this resource"),
    );
    let (status, body) = kosh
        .post_anonymous(&format!("/user/_details?access_token={token}"), json!({}))
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "InvalidAccessTokenException",
        None,
    );
    // The refresh token went with it.
    let (status, _) = refresh(&kosh, second["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = kosh
        .post_anonymous("/user/_logout", json!({"access_token": token}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["responseInfo"]["status"], "Logout failed");

    // Tokens expire: 12 hours by default.
    let fresh = kosh
        .token("ravi", PASSWORD, "pb.amritsar", "EMPLOYEE")
        .await;
    kosh.advance_clock(12 * 60 * 60 * 1000 + 1000).await;
    let (status, _) = kosh
        .post_as(&fresh, "/egov-idgen/id/_generate", idgen_body())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    kosh.stop().await;
}

async fn details_describe_the_token_user(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let (status, body) = kosh
        .post_anonymous(
            &format!("/user/_details?access_token={}", kosh.admin_token),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["userName"], ADMIN);
    assert_eq!(body["type"], "EMPLOYEE");
    assert_eq!(body["tenantId"], "pb");
    assert_eq!(body["actions"], Value::Null);
    let codes: Vec<&str> = body["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"SUPERUSER") && codes.contains(&"EMPLOYEE"),
        "{body}"
    );
    let (status, body) = kosh.post_anonymous("/user/_details", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["Errors"][0]["params"], json!(["access_token"]));
    kosh.stop().await;
}

async fn search_filters_and_rejects_empty_criteria(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let asha = kosh.create_user(citizen("9876543210")).await;
    kosh.create_user(citizen("9876543211")).await;
    kosh.create_user(employee("ravi", &["EMPLOYEE"])).await;

    let (status, body) = kosh
        .post(
            "/user/_search",
            json!({"userName": "ravi", "tenantId": "pb.amritsar"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["responseInfo"]["status"], "200");
    let found = body["user"].as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["userName"], "ravi");
    assert!(
        found[0].get("password").is_none(),
        "search answers carry no password field"
    );
    assert!(found[0]["createdDate"].as_str().unwrap().contains('-'));

    // Citizens at the state are found from a city.
    let (_, body) = kosh
        .post(
            "/user/_search",
            json!({"mobileNumber": "9876543210", "tenantId": "pb.amritsar"}),
        )
        .await;
    assert_eq!(body["user"].as_array().unwrap().len(), 1);
    assert_eq!(body["user"][0]["dob"], "1990-04-21");
    let (_, body) = kosh
        .post("/user/v1/_search", json!({"uuid": [asha["uuid"]]}))
        .await;
    assert_eq!(body["user"][0]["uuid"], asha["uuid"]);
    let (_, body) = kosh.post("/user/_search", json!({"userType": "CITIZEN", "name": "Asha Rani", "roleCodes": ["CITIZEN"], "tenantId": "pb", "pageSize": "1"})).await;
    assert_eq!(
        body["user"].as_array().unwrap().len(),
        1,
        "numeric strings are read as numbers: {body}"
    );
    // A page number too large to turn into an offset is a page past the data, not a 500.
    let (status, body) = kosh.post("/user/v1/_search", json!({"tenantId": "pb", "name": "Asha Rani", "roleCodes": ["CITIZEN"], "pageSize": 50, "pageNumber": i64::MAX})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"], json!([]), "{body}");

    let (status, body) = kosh.post("/user/_search", json!({"tenantId": "pb"})).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "InvalidUserSearchCriteriaException",
        None,
    );
    let (status, body) = kosh
        .post("/user/_search", json!({"userName": "ravi"}))
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "InvalidUserSearchCriteriaException",
        None,
    );
    kosh.stop().await;
}

async fn only_a_superuser_creates_users(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    kosh.create_user(employee("ravi", &["EMPLOYEE", "CSR"]))
        .await;
    let token = kosh
        .token("ravi", PASSWORD, "pb.amritsar", "EMPLOYEE")
        .await;
    let (status, body) = kosh
        .post_as(
            &token,
            "/user/users/_createnovalidate",
            json!({"user": employee("other", &["EMPLOYEE"])}),
        )
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "CustomException",
        Some("Not authorized to access this resource"),
    );
    let (status, _) = kosh
        .post_as(
            &token,
            "/user/users/_updatenovalidate",
            json!({"user": {"userName": "ravi", "active": false}}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = kosh
        .post_anonymous(
            "/user/users/_createnovalidate",
            json!({"user": employee("other", &["EMPLOYEE"])}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    kosh.stop().await;
}

async fn create_validates_like_digit(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    kosh.create_user(employee("ravi", &["EMPLOYEE"])).await;
    let (status, body) = kosh.create_user_raw(employee("ravi", &["EMPLOYEE"])).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "DuplicateUserNameException",
        None,
    );
    let (status, body) = kosh
        .create_user_raw(employee("x1", &["NO_SUCH_ROLE"]))
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "INVALID_ROLE",
        Some("Unable to validate role from MDMS"),
    );
    let mut no_name = employee("x2", &["EMPLOYEE"]);
    no_name.as_object_mut().unwrap().remove("name");
    let (status, body) = kosh.create_user_raw(no_name).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "InvalidUserCreateException",
        None,
    );
    let mut weak = employee("x3", &["EMPLOYEE"]);
    weak["password"] = json!("short");
    let (status, body) = kosh.create_user_raw(weak).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "INVALID_PWD_LENGTH",
        Some("Password must be of minimum: 8 and maximum: 15 characters."),
    );
    let mut bad_name = employee("x4", &["EMPLOYEE"]);
    bad_name["name"] = json!("Robert'); DROP TABLE eg_user;--");
    let (status, body) = kosh.create_user_raw(bad_name).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "Pattern.createUserRequest.user.name",
        None,
    );
    let mut bad_mobile = employee("x5", &["EMPLOYEE"]);
    bad_mobile["mobileNumber"] = json!("12345");
    let (status, body) = kosh.create_user_raw(bad_mobile).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "INVALID_MOBILE_NUMBER",
        None,
    );
    let (status, body) = kosh.create_user_raw(system_user("no-list", &[])).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "INVALID_ALLOWED_IPS",
        None,
    );
    let (status, body) = kosh
        .create_user_raw(system_user("bad-list", &["not-an-ip"]))
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "INVALID_ALLOWED_IPS",
        None,
    );
    kosh.stop().await;
}

async fn system_user_is_bound_to_its_addresses(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let created = kosh
        .create_user(system_user("bbps-bank", &["127.0.0.1"]))
        .await;
    assert_eq!(created["allowedIps"], json!(["127.0.0.1"]));
    let elsewhere = Kosh::client_from("127.0.0.2");

    // From another address even the right password is told apart from nothing: the answer
    // is the one an unknown name or a wrong password gets, so names cannot be enumerated.
    let mut answers = Vec::new();
    for (name, password) in [
        ("bbps-bank", PASSWORD),
        ("bbps-bank", "Wrong@12345"),
        ("no-such-unit", PASSWORD),
    ] {
        let (status, body) = kosh
            .login_from(&elsewhere, name, password, "pb", "SYSTEM")
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        answers.push(body);
    }
    assert_eq!(answers[0]["error_description"], "Invalid login credentials");
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");

    let token = kosh.token("bbps-bank", PASSWORD, "pb", "SYSTEM").await;
    let (status, body) = kosh
        .post_as(&token, "/egov-idgen/id/_generate", idgen_body())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = kosh
        .post_as_from(&elsewhere, &token, "/egov-idgen/id/_generate", idgen_body())
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "IP_NOT_ALLOWED",
        None,
    );
    let response = elsewhere
        .post(kosh.url(&format!("/user/_details?access_token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "token details are refused from elsewhere too"
    );
    // A forwarded-for header from an untrusted peer changes nothing.
    let response = elsewhere
        .post(kosh.url("/egov-idgen/id/_generate"))
        .header("x-forwarded-for", "127.0.0.1")
        .header("x-real-ip", "127.0.0.1")
        .json(&json!({"RequestInfo": {"authToken": token}, "idRequests": [{"idName": "pt.receipt.id", "tenantId": "pb.amritsar"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // The superuser widens the list; the same token now works from there.
    let (status, body) = kosh
        .post(
            "/user/users/_updatenovalidate",
            json!({"user": {"uuid": created["uuid"], "allowedIps": ["127.0.0.1", "127.0.0.0/30"]}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = kosh
        .post_as_from(&elsewhere, &token, "/egov-idgen/id/_generate", idgen_body())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    kosh.stop().await;
}

async fn forged_user_info_is_ignored(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    kosh.create_user(employee("ravi", &["EMPLOYEE"])).await;
    let token = kosh
        .token("ravi", PASSWORD, "pb.amritsar", "EMPLOYEE")
        .await;
    let forged = json!({"RequestInfo": {"userInfo": {"id": 1, "userName": ADMIN, "type": "EMPLOYEE",
        "roles": [{"code": "SUPERUSER", "tenantId": "pb"}], "tenantId": "pb"}},
        "user": employee("mallory", &["SUPERUSER"])});
    let (status, _) = kosh
        .post_as(&token, "/user/users/_createnovalidate", forged)
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "roles come from the token, not from userInfo"
    );
    // The password change acts on the token's user, whatever userInfo says.
    let body = json!({"RequestInfo": {"userInfo": {"userName": ADMIN, "id": 1}}, "existingPassword": PASSWORD, "newPassword": "Changed@123", "tenantId": "pb.amritsar", "type": "EMPLOYEE"});
    let (status, body) = kosh.post_as(&token, "/user/password/_update", body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = kosh.login(ADMIN, ADMIN_PASSWORD, "pb", "EMPLOYEE").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the administrator's password is untouched"
    );
    let (status, _) = kosh
        .login("ravi", "Changed@123", "pb.amritsar", "EMPLOYEE")
        .await;
    assert_eq!(status, StatusCode::OK);
    kosh.stop().await;
}

async fn password_update_checks_and_revokes(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    kosh.create_user(employee("ravi", &["EMPLOYEE"])).await;
    let token = kosh
        .token("ravi", PASSWORD, "pb.amritsar", "EMPLOYEE")
        .await;
    let change = |existing: &str, new: &str| json!({"existingPassword": existing, "newPassword": new, "tenantId": "pb.amritsar", "type": "EMPLOYEE"});
    let (status, body) = kosh
        .post_as(
            &token,
            "/user/password/_update",
            change("Wrong@123", "Changed@123"),
        )
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "PasswordMismatchException",
        None,
    );
    assert_eq!(
        body["Errors"][0]["description"],
        "Invalid username or password"
    );
    let (status, body) = kosh
        .post_as(&token, "/user/password/_update", change(PASSWORD, "weak"))
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "INVALID_PWD_LENGTH",
        None,
    );
    let (status, body) = kosh
        .post_as(
            &token,
            "/user/password/_update",
            change(PASSWORD, "Changed@123"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = kosh
        .post_as(&token, "/egov-idgen/id/_generate", idgen_body())
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a password change revokes the tokens"
    );
    let (status, _) = kosh
        .login("ravi", PASSWORD, "pb.amritsar", "EMPLOYEE")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = kosh
        .login("ravi", "Changed@123", "pb.amritsar", "EMPLOYEE")
        .await;
    assert_eq!(status, StatusCode::OK);
    kosh.stop().await;
}

async fn gateway_answers_401_and_403(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let (status, body) = kosh
        .post_anonymous("/egov-idgen/id/_generate", idgen_body())
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "CustomException",
        Some("You are not authorized to access this resource"),
    );
    let (status, body) = kosh
        .post_as("not-a-token", "/egov-idgen/id/_generate", idgen_body())
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "CustomException",
        Some("You are not authorized to access this resource"),
    );
    // The token may also come in the auth-token header or as a bearer token.
    for (name, value) in [
        ("auth-token", kosh.admin_token.clone()),
        ("authorization", format!("Bearer {}", kosh.admin_token)),
    ] {
        let response = kosh
            .client
            .post(kosh.url("/egov-idgen/id/_generate"))
            .header(name, value)
            .json(&idgen_body())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    // A city role does not reach another city.
    kosh.create_user(employee("ravi", &["EMPLOYEE"])).await;
    let token = kosh
        .token("ravi", PASSWORD, "pb.amritsar", "EMPLOYEE")
        .await;
    let (status, _) = kosh
        .post_as(&token, "/egov-idgen/id/_generate", idgen_body())
        .await;
    assert_eq!(status, StatusCode::OK);
    let other_city = json!({"RequestInfo": {}, "idRequests": [{"idName": "pt.receipt.id", "tenantId": "pb.jalandhar"}]});
    let (status, body) = kosh
        .post_as(&token, "/egov-idgen/id/_generate", other_city)
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "CustomException",
        Some("Not authorized to access this resource"),
    );
    // Open routes need no token.
    let (status, _) = kosh.post_anonymous("/egov-mdms-service/v1/_search", json!({"RequestInfo": {}, "MdmsCriteria": {"tenantId": "pb", "moduleDetails": [{"moduleName": "tenant", "masterDetails": [{"name": "tenants"}]}]}})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, metrics) = kosh.get_text("/metrics").await;
    assert!(metrics.contains("kosh_auth_refusals_total"));
    kosh.stop().await;
}

/// Behind a trusted proxy (here the test client itself, 127.0.0.1), the configured header
/// names the client: a forged first X-Forwarded-For line (HAProxy adds its own after it),
/// or a forged X-Forwarded-For that the proxy's X-Real-IP contradicts (nginx), does not get
/// a SYSTEM user in from an address it may not use.
async fn forwarded_addresses_count_only_as_the_proxy_says(backend: Backend) {
    for header in ["x-forwarded-for", "x-real-ip"] {
        let kosh = Kosh::start_with(backend, |s| {
            s.trusted_proxies = vec!["127.0.0.1".into()];
            s.client_ip_header = header.into();
        })
        .await;
        kosh.create_user(system_user("bbps-proxy", &["10.9.9.9"]))
            .await;
        let login = |headers: Vec<(&'static str, &'static str)>| {
            let mut request = kosh
                .client
                .post(kosh.url("/user/oauth/token"))
                .header("authorization", kosh_blackbox::BASIC_CLIENT)
                .form(&[
                    ("grant_type", "password"),
                    ("scope", "read"),
                    ("username", "bbps-proxy"),
                    ("password", PASSWORD),
                    ("tenantId", "pb"),
                    ("userType", "SYSTEM"),
                ]);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            async move { request.send().await.unwrap().status() }
        };
        // The proxy names the allowed address: in.
        let allowed = if header == "x-forwarded-for" {
            vec![("x-forwarded-for", "10.9.9.9")]
        } else {
            vec![("x-real-ip", "10.9.9.9")]
        };
        assert_eq!(login(allowed).await, StatusCode::OK, "{header}");
        // HAProxy: the client's forged line first, the proxy's own line after it.
        assert_eq!(
            login(vec![
                ("x-forwarded-for", "10.9.9.9"),
                ("x-forwarded-for", "198.51.100.7")
            ])
            .await,
            StatusCode::BAD_REQUEST,
            "{header}"
        );
        // nginx: a forged X-Forwarded-For, the proxy's X-Real-IP says otherwise.
        assert_eq!(
            login(vec![
                ("x-forwarded-for", "10.9.9.9"),
                ("x-real-ip", "198.51.100.7")
            ])
            .await,
            StatusCode::BAD_REQUEST,
            "{header}"
        );
        // Two hops through trusted proxies still find the client.
        if header == "x-forwarded-for" {
            assert_eq!(
                login(vec![("x-forwarded-for", "10.9.9.9, 127.0.0.1")]).await,
                StatusCode::OK
            );
        }
        kosh.stop().await;
    }
}
