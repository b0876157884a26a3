//! Tenancy of roles and users, on SQLite and on PostgreSQL (issue 15 item 1, and identity's
//! part of item 2): a role is granted only within the granter's reach (a role at the tenant
//! or at one of its ancestors), a city account neither sees nor changes a state user, and
//! citizens and plain SYSTEM users find only themselves in a user search. Each test plays an
//! attack from the issue, then the state administrator's positive control.

use kosh_blackbox::{ADMIN, ADMIN_PASSWORD, Backend, Kosh, assert_digit_error, on_both_databases};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    a_city_superuser_grants_roles_at_its_city_never_the_state,
    a_city_account_cannot_deactivate_or_rewrite_a_state_administrator,
    a_city_account_finds_no_state_or_other_city_users,
    passwords_change_only_within_reach,
    a_citizen_finds_only_itself_whatever_the_criteria,
    a_system_user_finds_only_itself_unless_it_administers_users,
);

const PASSWORD: &str = "Secret@123";
const CITY: &str = "pb.amritsar";

fn employee(user_name: &str, tenant: &str, roles: &[&str]) -> Value {
    json!({"userName": user_name, "name": "Ravi Kumar", "mobileNumber": "9812345678", "type": "EMPLOYEE",
           "active": true, "password": PASSWORD, "tenantId": tenant, "emailId": "ravi@example.org",
           "roles": roles.iter().map(|r| json!({"code": r, "tenantId": tenant})).collect::<Vec<_>>()})
}

fn citizen(mobile: &str) -> Value {
    json!({"userName": mobile, "name": "Asha Rani", "mobileNumber": mobile, "type": "CITIZEN", "active": true,
           "password": PASSWORD, "tenantId": CITY, "emailId": format!("{mobile}@example.org"),
           "pan": "ABCDE1234F", "aadhaarNumber": "123456789012",
           "roles": [{"code": "CITIZEN", "tenantId": "pb"}]})
}

/// A SUPERUSER of Amritsar (roles at `pb.amritsar` only) and its token.
async fn city_admin(kosh: &Kosh) -> (Value, String) {
    let user = kosh
        .create_user(employee("amritsar-admin", CITY, &["SUPERUSER", "EMPLOYEE"]))
        .await;
    let token = kosh
        .token("amritsar-admin", PASSWORD, CITY, "EMPLOYEE")
        .await;
    (user, token)
}

/// The state administrator as a state SUPERUSER finds it.
async fn state_admin(kosh: &Kosh) -> Value {
    let (status, body) = kosh
        .post(
            "/user/v1/_search",
            json!({"userName": ADMIN, "tenantId": "pb"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"].as_array().map(Vec::len), Some(1), "{body}");
    body["user"][0].clone()
}

fn role_tenants(user: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = user["roles"]
        .as_array()
        .unwrap_or_else(|| panic!("no roles in {user}"))
        .iter()
        .map(|r| {
            (
                r["code"].as_str().unwrap_or_default().to_string(),
                r["tenantId"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The uuids a user search found (uuids: names and contacts may come back masked).
fn found(body: &Value) -> Vec<String> {
    body["user"]
        .as_array()
        .unwrap_or_else(|| panic!("no user list in {body}"))
        .iter()
        .map(|u| u["uuid"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn uuid(user: &Value) -> String {
    user["uuid"].as_str().unwrap_or_default().to_string()
}

fn pair(code: &str, tenant: &str) -> (String, String) {
    (code.to_string(), tenant.to_string())
}

async fn a_city_superuser_grants_roles_at_its_city_never_the_state(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let (_, city) = city_admin(&kosh).await;

    // The attack: a citizen at the city with SUPERUSER and no role tenant. The citizen lives
    // at the state (DIGIT), but the role lands at the city, never at `pb`.
    let mut mallory = citizen("9800000001");
    mallory["roles"] = json!([{"code": "SUPERUSER"}, {"code": "CITIZEN"}]);
    let (status, body) = kosh
        .post_as(
            &city,
            "/user/users/_createnovalidate",
            json!({"user": mallory}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let created = &body["user"][0];
    assert_eq!(created["tenantId"], "pb", "citizens live at the state");
    assert_eq!(
        role_tenants(created),
        vec![pair("CITIZEN", "pb"), pair("SUPERUSER", CITY)],
        "SUPERUSER lands at the city: {body}"
    );
    // Signed in, the citizen administers nothing beyond Amritsar.
    let mallory_token = kosh.token("9800000001", PASSWORD, "pb", "CITIZEN").await;
    let (status, body) = kosh
        .post_as(
            &mallory_token,
            "/user/users/_createnovalidate",
            json!({"user": employee("state-boss", "pb", &["SUPERUSER"])}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = kosh
        .post_as(
            &mallory_token,
            "/user/_search",
            json!({"roleCodes": ["EMPLOYEE"], "tenantId": "pb.jalandhar"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // An employee's role without a tenant takes the employee's city.
    let mut clerk = employee("clerk", CITY, &[]);
    clerk["roles"] = json!([{"code": "EMPLOYEE"}, {"code": "SUPERUSER"}]);
    let (status, body) = kosh
        .post_as(
            &city,
            "/user/users/_createnovalidate",
            json!({"user": clerk}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        role_tenants(&body["user"][0]),
        vec![pair("EMPLOYEE", CITY), pair("SUPERUSER", CITY)]
    );

    // A role at the state, or at another city, is refused, and nothing is created.
    for (user_name, tenant) in [("boss-pb", "pb"), ("boss-jal", "pb.jalandhar")] {
        let mut boss = employee(user_name, CITY, &["EMPLOYEE"]);
        boss["roles"] = json!([{"code": "EMPLOYEE", "tenantId": CITY}, {"code": "SUPERUSER", "tenantId": tenant}]);
        let (status, body) = kosh
            .post_as(
                &city,
                "/user/users/_createnovalidate",
                json!({"user": boss}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{tenant}: {body}");
        assert!(body["Errors"].is_array(), "DIGIT's error format: {body}");
        let (_, body) = kosh
            .post(
                "/user/v1/_search",
                json!({"userName": user_name, "tenantId": CITY}),
            )
            .await;
        assert_eq!(found(&body), Vec::<String>::new(), "{body}");
    }
    // A user at another city, with its roles there, is beyond reach too.
    let (status, body) = kosh
        .post_as(
            &city,
            "/user/users/_createnovalidate",
            json!({"user": employee("jal-clerk", "pb.jalandhar", &["EMPLOYEE"])}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // Updates obey the same rule: roles replaced on a city employee stay in the city.
    let clerk_uuid = kosh
        .post(
            "/user/v1/_search",
            json!({"userName": "clerk", "tenantId": CITY}),
        )
        .await
        .1["user"][0]["uuid"]
        .clone();
    let (status, body) = kosh
        .post_as(
            &city,
            "/user/users/_updatenovalidate",
            json!({"user": {"uuid": clerk_uuid, "roles": [{"code": "SUPERUSER", "tenantId": "pb"}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = kosh
        .post_as(
            &city,
            "/user/users/_updatenovalidate",
            json!({"user": {"uuid": clerk_uuid, "roles": [{"code": "SUPERUSER"}, {"code": "EMPLOYEE"}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        role_tenants(&body["user"][0]),
        vec![pair("EMPLOYEE", CITY), pair("SUPERUSER", CITY)]
    );

    // The positive control: the state administrator grants at the state, and a role without
    // a tenant takes the user's tenant as in DIGIT (the state, for a citizen).
    let mut deputy = citizen("9800000002");
    deputy["roles"] = json!([{"code": "SUPERUSER"}, {"code": "CITIZEN"}]);
    let created = kosh.create_user(deputy).await;
    assert_eq!(
        role_tenants(&created),
        vec![pair("CITIZEN", "pb"), pair("SUPERUSER", "pb")]
    );
    let mut state_boss = employee("state-boss", "pb", &["EMPLOYEE"]);
    state_boss["roles"] = json!([{"code": "SUPERUSER", "tenantId": "pb"}, {"code": "EMPLOYEE", "tenantId": "pb.jalandhar"}]);
    let created = kosh.create_user(state_boss).await;
    assert_eq!(
        role_tenants(&created),
        vec![pair("EMPLOYEE", "pb.jalandhar"), pair("SUPERUSER", "pb")]
    );
    kosh.stop().await;
}

async fn a_city_account_cannot_deactivate_or_rewrite_a_state_administrator(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let (_, city) = city_admin(&kosh).await;
    let admin = state_admin(&kosh).await;
    let jalandhar = kosh
        .create_user(employee("jal-clerk", "pb.jalandhar", &["EMPLOYEE"]))
        .await;

    // The attack (by uuid, which is how an update finds its user; an id alone finds none):
    // deactivate the state administrator, rewrite its mobile number and email, give it a new
    // password.
    let attempts = [
        json!({"uuid": admin["uuid"], "active": false}),
        json!({"uuid": admin["uuid"], "mobileNumber": "9000000009", "emailId": "mallory@example.org"}),
        json!({"uuid": admin["uuid"], "password": "Hacked@1234"}),
        json!({"uuid": jalandhar["uuid"], "active": false}),
    ];
    for user in attempts {
        let (status, body) = kosh
            .post_as(
                &city,
                "/user/users/_updatenovalidate",
                json!({"user": user}),
            )
            .await;
        assert_digit_error(
            status,
            &body,
            StatusCode::FORBIDDEN,
            "USER_OUT_OF_REACH",
            Some("The user is outside the tenants this account may act on"),
        );
    }
    let after = state_admin(&kosh).await;
    assert_eq!(after["active"], true, "{after}");
    assert_eq!(after["mobileNumber"], admin["mobileNumber"]);
    assert_eq!(after["emailId"], admin["emailId"]);
    assert_eq!(after["lastModifiedDate"], admin["lastModifiedDate"]);
    let (status, body) = kosh.login(ADMIN, ADMIN_PASSWORD, "pb", "EMPLOYEE").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the administrator still signs in: {body}"
    );
    let (_, body) = kosh
        .post(
            "/user/v1/_search",
            json!({"userName": "jal-clerk", "tenantId": "pb.jalandhar"}),
        )
        .await;
    assert_eq!(body["user"][0]["active"], true, "{body}");

    // Within its city the account works as before.
    let clerk = kosh
        .create_user(employee("clerk", CITY, &["EMPLOYEE"]))
        .await;
    let (status, body) = kosh
        .post_as(
            &city,
            "/user/users/_updatenovalidate",
            json!({"user": {"uuid": clerk["uuid"], "active": false, "mobileNumber": "9000000001"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"][0]["active"], false);

    // The positive control: the state administrator changes users anywhere in its state.
    for uuid in [&jalandhar["uuid"], &clerk["uuid"]] {
        let (status, body) = kosh
            .post(
                "/user/users/_updatenovalidate",
                json!({"user": {"uuid": uuid, "active": true, "emailId": "fixed@example.org"}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["user"][0]["emailId"], "fixed@example.org");
    }
    kosh.stop().await;
}

async fn a_city_account_finds_no_state_or_other_city_users(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let (me, city) = city_admin(&kosh).await;
    let admin = state_admin(&kosh).await;
    let jalandhar = kosh
        .create_user(employee("jal-clerk", "pb.jalandhar", &["EMPLOYEE"]))
        .await;
    let clerk = kosh
        .create_user(employee("clerk", CITY, &["EMPLOYEE"]))
        .await;
    let asha = kosh.create_user(citizen("9876543210")).await;
    // A citizen promoted at the state: not a citizen the city may see.
    let mut promoted = citizen("9876543211");
    promoted["roles"] =
        json!([{"code": "CITIZEN", "tenantId": "pb"}, {"code": "SUPERUSER", "tenantId": "pb"}]);
    let promoted = kosh.create_user(promoted).await;

    let searches = [
        // (id and roleCodes narrow a search with a key; alone they are refused.)
        json!({"id": [admin["id"], jalandhar["id"], promoted["id"]], "emailId": "ravi@example.org"}),
        json!({"uuid": [admin["uuid"], jalandhar["uuid"], promoted["uuid"]]}),
        json!({"roleCodes": ["SUPERUSER"], "uuid": [admin["uuid"], promoted["uuid"], me["uuid"]]}),
        json!({"emailId": "ravi@example.org"}),
    ];
    for path in ["/user/_search", "/user/v1/_search"] {
        for criteria in &searches {
            let (status, body) = kosh.post_as(&city, path, criteria.clone()).await;
            assert_eq!(status, StatusCode::OK, "{path} {criteria}: {body}");
            for found in found(&body) {
                assert!(
                    found == uuid(&me) || found == uuid(&clerk),
                    "{path} {criteria} shows {found} to a city account: {body}"
                );
            }
        }
    }
    // Naming the state or another city is refused at the gateway.
    for tenant in ["pb", "pb.jalandhar"] {
        let (status, body) = kosh
            .post_as(
                &city,
                "/user/v1/_search",
                json!({"userName": ADMIN, "tenantId": tenant}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{tenant}: {body}");
    }
    // Its own city's users, and the state's citizens, it still finds.
    let (_, body) = kosh
        .post_as(
            &city,
            "/user/v1/_search",
            json!({"uuid": [me["uuid"], clerk["uuid"], asha["uuid"]]}),
        )
        .await;
    let mut seen = found(&body);
    seen.sort();
    let mut expected = vec![uuid(&me), uuid(&clerk), uuid(&asha)];
    expected.sort();
    assert_eq!(seen, expected, "{body}");

    // The positive control: the state administrator finds them all.
    let (_, body) = kosh.post("/user/v1/_search", searches[1].clone()).await;
    assert_eq!(found(&body).len(), 3, "{body}");
    kosh.stop().await;
}

async fn passwords_change_only_within_reach(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let (_, city) = city_admin(&kosh).await;
    let admin = state_admin(&kosh).await;
    // At the state administrator's tenant, with its identity written into userInfo.
    let forged = json!({"RequestInfo": {"userInfo": {"id": admin["id"], "uuid": admin["uuid"], "userName": ADMIN,
            "type": "EMPLOYEE", "tenantId": "pb", "roles": [{"code": "SUPERUSER", "tenantId": "pb"}]}},
        "existingPassword": ADMIN_PASSWORD, "newPassword": "Hacked@1234", "tenantId": "pb", "type": "EMPLOYEE"});
    let (status, body) = kosh.post_as(&city, "/user/password/_update", forged).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // Through the update route.
    let (status, body) = kosh
        .post_as(
            &city,
            "/user/users/_updatenovalidate",
            json!({"user": {"uuid": admin["uuid"], "password": "Hacked@1234"}}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = kosh.login(ADMIN, "Hacked@1234", "pb", "EMPLOYEE").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = kosh.login(ADMIN, ADMIN_PASSWORD, "pb", "EMPLOYEE").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Its own password the city account changes as before.
    let own = json!({"existingPassword": PASSWORD, "newPassword": "Changed@123", "tenantId": CITY, "type": "EMPLOYEE"});
    let (status, body) = kosh.post_as(&city, "/user/password/_update", own).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = kosh
        .login("amritsar-admin", "Changed@123", CITY, "EMPLOYEE")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    kosh.stop().await;
}

async fn a_citizen_finds_only_itself_whatever_the_criteria(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let asha = kosh.create_user(citizen("9876543210")).await;
    let other = kosh.create_user(citizen("9876543211")).await;
    let admin = state_admin(&kosh).await;
    kosh.create_user(employee("clerk", CITY, &["EMPLOYEE"]))
        .await;
    let token = kosh.token("9876543210", PASSWORD, "pb", "CITIZEN").await;

    let others = [
        json!({"uuid": [other["uuid"]]}),
        json!({"mobileNumber": "9876543211", "tenantId": "pb"}),
        json!({"mobileNumber": "9876543211", "tenantId": CITY}),
        json!({"id": [other["id"], admin["id"]], "mobileNumber": "9876543211", "tenantId": "pb"}),
        json!({"roleCodes": ["SUPERUSER"], "uuid": [admin["uuid"]]}),
        json!({"roleCodes": ["EMPLOYEE"], "userName": "clerk", "tenantId": CITY}),
        json!({"userName": ADMIN, "tenantId": "pb"}),
        json!({"emailId": "9876543211@example.org"}),
    ];
    for path in ["/user/_search", "/user/v1/_search"] {
        for criteria in &others {
            let (status, body) = kosh.post_as(&token, path, criteria.clone()).await;
            if status == StatusCode::FORBIDDEN {
                continue; // the route is not a citizen's (MDMS role-actions): nothing shown
            }
            assert_eq!(status, StatusCode::OK, "{path} {criteria}: {body}");
            assert_eq!(
                found(&body),
                Vec::<String>::new(),
                "{path} {criteria} shows another user to a citizen: {body}"
            );
        }
        // Its own record, found any way, and only it.
        for criteria in [
            json!({"uuid": [asha["uuid"], other["uuid"]]}),
            json!({"roleCodes": ["CITIZEN"], "name": "Asha Rani", "tenantId": "pb"}),
            json!({"mobileNumber": "9876543210", "tenantId": "pb"}),
        ] {
            let (status, body) = kosh.post_as(&token, path, criteria.clone()).await;
            if status == StatusCode::FORBIDDEN {
                continue;
            }
            assert_eq!(found(&body), vec![uuid(&asha)], "{path} {criteria}: {body}");
        }
    }
    let (status, body) = kosh
        .post_as(&token, "/user/v1/_search", json!({"uuid": [asha["uuid"]]}))
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a citizen may search itself: {body}"
    );
    assert_eq!(found(&body), vec![uuid(&asha)], "{body}");

    // The positive control: the state administrator finds both citizens.
    let (_, body) = kosh
        .post(
            "/user/v1/_search",
            json!({"roleCodes": ["CITIZEN"], "name": "Asha Rani", "tenantId": "pb"}),
        )
        .await;
    assert_eq!(found(&body).len(), 2, "{body}");
    kosh.stop().await;
}

async fn a_system_user_finds_only_itself_unless_it_administers_users(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let asha = kosh.create_user(citizen("9876543210")).await;
    let admin = state_admin(&kosh).await;
    let mut unit_user = Value::Null;
    for (user_name, roles) in [
        (
            "bbps-bank",
            json!([{"code": "BBPS", "tenantId": "pb"}, {"code": "EMPLOYEE", "tenantId": "pb"}]),
        ),
        ("hr-sync", json!([{"code": "SUPERUSER", "tenantId": "pb"}])),
    ] {
        let created = kosh.create_user(json!({"userName": user_name, "name": "Integrator", "type": "SYSTEM", "active": true,
            "password": PASSWORD, "tenantId": "pb", "allowedIps": ["127.0.0.1"], "roles": roles}))
            .await;
        if user_name == "bbps-bank" {
            unit_user = created;
        }
    }
    let unit = kosh.token("bbps-bank", PASSWORD, "pb", "SYSTEM").await;
    for criteria in [
        json!({"mobileNumber": "9876543210", "tenantId": "pb"}),
        json!({"uuid": [asha["uuid"], admin["uuid"]]}),
        json!({"roleCodes": ["CITIZEN", "SUPERUSER"], "uuid": [asha["uuid"], admin["uuid"]]}),
    ] {
        let (status, body) = kosh.post_as(&unit, "/user/_search", criteria.clone()).await;
        assert_eq!(status, StatusCode::OK, "{criteria}: {body}");
        assert_eq!(found(&body), Vec::<String>::new(), "{criteria}: {body}");
    }
    let (_, body) = kosh
        .post_as(
            &unit,
            "/user/_search",
            json!({"userName": "bbps-bank", "tenantId": "pb"}),
        )
        .await;
    assert_eq!(found(&body), vec![uuid(&unit_user)], "{body}");

    // A SYSTEM user with a user-administration role searches as an employee does.
    let hr = kosh.token("hr-sync", PASSWORD, "pb", "SYSTEM").await;
    let (_, body) = kosh
        .post_as(
            &hr,
            "/user/_search",
            json!({"uuid": [asha["uuid"], admin["uuid"]]}),
        )
        .await;
    assert_eq!(found(&body).len(), 2, "{body}");
    kosh.stop().await;
}
