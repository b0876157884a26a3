//! Access control's read routes over HTTP, on SQLite and on PostgreSQL: `roles/_search` and
//! `actions/_get` (and `actions/mdms/_get`, which DIGIT's own API tests call) answer from the
//! shipped master data in egov-accesscontrol's shapes, with its errors, behind the gateway.

use std::collections::BTreeSet;

use kosh_blackbox::{Backend, Kosh, assert_digit_error, on_both_databases};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    roles_search_answers_the_master_roles,
    roles_search_fails_as_digit_does,
    actions_get_answers_the_actions_of_roles,
    actions_get_validation_is_the_controllers_array,
    the_routes_need_a_token_and_a_granted_role,
);

const PASSWORD: &str = "Secret@123";

fn data(path: &str) -> Value {
    let file = format!("{}/../../data/mdms/pb/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}")))
        .unwrap()
}

fn master_roles() -> Vec<Value> {
    data("ACCESSCONTROL-ROLES/roles.json")["roles"]
        .as_array()
        .unwrap()
        .clone()
}

/// The shipped actions of a role, in data order, read from the files.
fn master_actions_of(role: &str) -> Vec<Value> {
    let mappings = data("ACCESSCONTROL-ROLEACTIONS/roleactions.revenue-subset.json");
    let ids: BTreeSet<i64> = mappings["roleactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["rolecode"] == role)
        .filter_map(|m| m["actionid"].as_i64())
        .collect();
    data("ACCESSCONTROL-ACTIONS-TEST/actions-test.revenue-subset.json")["actions-test"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["id"].as_i64().is_some_and(|id| ids.contains(&id)))
        .cloned()
        .collect()
}

fn ids(actions: &Value) -> Vec<i64> {
    actions
        .as_array()
        .unwrap_or_else(|| panic!("no actions array: {actions}"))
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect()
}

fn role_codes(body: &Value) -> Vec<String> {
    body["roles"]
        .as_array()
        .unwrap_or_else(|| panic!("no roles array: {body}"))
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_string())
        .collect()
}

/// A user of `roles` at pb.amritsar, signed in; the token. A citizen's user name is its
/// mobile number, and it signs in at the state.
async fn user_with(kosh: &Kosh, user_name: &str, user_type: &str, roles: &[&str]) -> String {
    let citizen = user_type == "CITIZEN";
    let mobile = if citizen { user_name } else { "9812345678" };
    kosh.create_user(json!({"userName": user_name, "name": "Reader", "mobileNumber": mobile,
        "type": user_type, "active": true, "password": PASSWORD, "tenantId": "pb.amritsar",
        "roles": roles.iter().map(|r| json!({"code": r, "tenantId": "pb.amritsar"})).collect::<Vec<_>>()}))
        .await;
    let login_tenant = if citizen { "pb" } else { "pb.amritsar" };
    kosh.token(user_name, PASSWORD, login_tenant, user_type)
        .await
}

async fn roles_search_answers_the_master_roles(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let request_info = json!({"RequestInfo": {"apiId": "Rainmaker", "ver": "1.0", "ts": 1700000000000_i64, "msgId": "m-1"}});

    // Roles by code, in data order, DIGIT's RoleContract fields; DIGIT's RoleResponse
    // (camelCase `responseInfo`, built from the status alone).
    let (status, body) = kosh
        .post(
            "/access/v1/roles/_search?code=SUPERUSER,%20CITIZEN&tenantId=pb.amritsar",
            request_info.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({
            "responseInfo": {"apiId": null, "ver": null, "ts": null, "resMsgId": null, "msgId": null, "status": "200 OK"},
            "roles": [
                {"name": "Citizen", "code": "CITIZEN", "description": "Citizen who can raise complaint"},
                {"name": "Super User", "code": "SUPERUSER",
                 "description": "System Administrator. Can change all master data and has access to all the system screens."}
            ]
        })
    );

    // No code: every role of the state, as the master lists them.
    let (status, body) = kosh
        .post("/access/v1/roles/_search?tenantId=pb", request_info.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let expected: Vec<String> = master_roles()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_string())
        .collect();
    assert!(expected.len() > 100);
    assert_eq!(role_codes(&body), expected);
    // An empty code is no code.
    let (_, body) = kosh
        .post(
            "/access/v1/roles/_search?code=&tenantId=pb",
            request_info.clone(),
        )
        .await;
    assert_eq!(role_codes(&body).len(), expected.len());

    // A city's roles are its state's; repeated parameters join as Spring joins them.
    let (_, body) = kosh
        .post(
            "/access/v1/roles/_search?tenantId=pb.jalandhar&code=EMPLOYEE&code=BBPS",
            request_info.clone(),
        )
        .await;
    let in_data_order: Vec<String> = expected
        .iter()
        .filter(|c| *c == "EMPLOYEE" || *c == "BBPS")
        .cloned()
        .collect();
    assert_eq!(in_data_order.len(), 2);
    assert_eq!(role_codes(&body), in_data_order);

    // Codes match exactly: an unknown or differently cased code matches nothing (200, []).
    for code in ["NOBODY", "citizen", "CITIZEN%20X"] {
        let (status, body) = kosh
            .post(
                &format!("/access/v1/roles/_search?tenantId=pb&code={code}"),
                request_info.clone(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{code}: {body}");
        assert_eq!(body["roles"], json!([]), "{code}");
    }
    kosh.stop().await;
}

async fn roles_search_fails_as_digit_does(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let request_info = json!({"RequestInfo": {"apiId": "Rainmaker"}});

    // DIGIT's repository reads tenantId.contains("."): without one, a NullPointerException
    // through its tracer (400).
    let (status, body) = kosh
        .post(
            "/access/v1/roles/_search?code=CITIZEN",
            request_info.clone(),
        )
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "NullPointerException",
        Some("An unhandled exception occurred on the server"),
    );

    // @Size(max = 50) on the parameters.
    let codes = ["CITIZEN"; 8].join(",");
    let (status, body) = kosh
        .post(
            &format!("/access/v1/roles/_search?tenantId=pb&code={codes}"),
            request_info.clone(),
        )
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "ConstraintViolationException",
        None,
    );
    assert_eq!(
        body["Errors"][0]["description"],
        "getMDMSRoles.code: size must be between 0 and 50"
    );

    // A tenant no master data knows is refused by the gateway, as DIGIT's is.
    let (status, body) = kosh
        .post("/access/v1/roles/_search?tenantId=hr", request_info.clone())
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "CustomException",
        Some("Not authorized to access this resource"),
    );

    // The body is required.
    let (status, body) = kosh
        .post_raw("/access/v1/roles/_search?tenantId=pb", "")
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "MissingJsonException",
        None,
    );
    kosh.stop().await;
}

async fn actions_get_answers_the_actions_of_roles(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let request = |roles: Value| {
        json!({"RequestInfo": {"apiId": "Rainmaker", "ver": "1.0", "ts": 1700000000000_i64, "msgId": "m-2"},
               "roleCodes": roles, "tenantId": "pb.amritsar"})
    };

    // EMPLOYEE's actions of the shipped role-actions, by id (DIGIT's query orders by id).
    let (status, body) = kosh
        .post("/access/v1/actions/_get", request(json!(["EMPLOYEE"])))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["responseInfo"],
        json!({"apiId": "org.egov.accesscontrol", "ver": "1.0", "ts": 1700000000000_i64,
               "resMsgId": "uief87324", "msgId": "m-2", "status": "200 OK"})
    );
    assert_eq!(body["modules"], Value::Null);
    let employee = master_actions_of("EMPLOYEE");
    assert!(employee.len() > 5, "{employee:?}");
    let mut expected: Vec<i64> = employee.iter().map(|a| a["id"].as_i64().unwrap()).collect();
    expected.sort();
    assert_eq!(ids(&body["actions"]), expected);
    let get = body["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["url"] == "/access/v1/actions/_get")
        .expect("EMPLOYEE is given actions/_get")
        .clone();
    // DIGIT's Action model: every field, missing text as "", the request's tenant.
    assert_eq!(
        get,
        json!({"id": 594, "name": "Get All Actions", "url": "/access/v1/actions/_get",
               "displayName": "Get All Actions", "orderNumber": 1, "queryParams": "",
               "parentModule": "", "enabled": false, "serviceCode": "AccessControl",
               "tenantId": "pb.amritsar", "createdDate": null, "createdBy": null,
               "lastModifiedDate": null, "lastModifiedBy": null,
               "path": "Access Control.Get All Actions", "navigationURL": "", "leftIcon": "",
               "rightIcon": ""})
    );

    // Several roles: the union, once each.
    let (_, both) = kosh
        .post(
            "/access/v1/actions/_get",
            request(json!(["EMPLOYEE", "SUPERUSER", "EMPLOYEE"])),
        )
        .await;
    let mut union: BTreeSet<i64> = expected.iter().copied().collect();
    union.extend(
        master_actions_of("SUPERUSER")
            .iter()
            .map(|a| a["id"].as_i64().unwrap()),
    );
    assert_eq!(ids(&both["actions"]), union.into_iter().collect::<Vec<_>>());

    // `enabled` keeps the actions whose flag is that value.
    let mut enabled = request(json!(["EMPLOYEE", "SUPERUSER"]));
    enabled["enabled"] = json!(false);
    let (_, disabled) = kosh.post("/access/v1/actions/_get", enabled.clone()).await;
    assert!(
        disabled["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["enabled"] == false)
    );
    enabled["enabled"] = json!(true);
    let (_, on) = kosh.post("/access/v1/actions/_get", enabled).await;
    assert!(
        on["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["enabled"] == true)
    );
    // (an action without the flag matches neither, as DIGIT's JsonPath filter does)
    let with_flag = |flag: bool| {
        let mut all = master_actions_of("EMPLOYEE");
        all.extend(master_actions_of("SUPERUSER"));
        let mut ids: Vec<i64> = all
            .iter()
            .filter(|a| a["enabled"] == flag)
            .map(|a| a["id"].as_i64().unwrap())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    assert_eq!(ids(&disabled["actions"]), with_flag(false));
    assert_eq!(ids(&on["actions"]), with_flag(true));

    // An unknown role has no actions (DIGIT's API test AC_search_invalidRoleCode_04).
    let (status, body) = kosh
        .post(
            "/access/v1/actions/_get",
            request(json!(["Invalid-rolecode-x"])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["actions"], json!([]));

    // mdms/_get, as DIGIT's API tests call it: the named master, in data order.
    let mut named = request(json!(["EMPLOYEE"]));
    named["actionMaster"] = json!("actions-test");
    let (status, body) = kosh
        .post("/access/v1/actions/mdms/_get", named.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["responseInfo"]["status"], "200 OK");
    assert_eq!(
        ids(&body["actions"]),
        employee
            .iter()
            .map(|a| a["id"].as_i64().unwrap())
            .collect::<Vec<_>>()
    );
    // An unknown master is JsonPath's PathNotFoundException (AC_search_invalidActionMaster_05),
    // a blank one its InvalidPathException (AC_search_BlankActionMaster_06).
    named["actionMaster"] = json!("Invalid-actionMaster-x");
    let (status, body) = kosh
        .post("/access/v1/actions/mdms/_get", named.clone())
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "PathNotFoundException",
        None,
    );
    assert!(
        body["Errors"][0]["description"]
            .as_str()
            .unwrap()
            .starts_with("No results for path: "),
        "{body}"
    );
    named["actionMaster"] = json!(" ");
    let (_, body) = kosh
        .post("/access/v1/actions/mdms/_get", named.clone())
        .await;
    assert_eq!(
        body["Errors"][0]["description"],
        "Path must not end with a '.' or '..'"
    );
    // A non-Boolean `enabled` does not bind (AC_search_enabled_07).
    named["actionMaster"] = json!("actions-test");
    named["enabled"] = json!("Invalid-enabled-x");
    let (status, body) = kosh.post("/access/v1/actions/mdms/_get", named).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "JsonMappingException",
        Some("Failed to deserialize certain JSON fields"),
    );
    kosh.stop().await;
}

async fn actions_get_validation_is_the_controllers_array(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let invalid = |fields: Value| {
        json!([{"responseInfo": null, "error": {"code": 400, "message": "Action is invalid",
            "description": null, "errorFields": fields, "fields": {}}}])
    };
    let tenant = json!({"code": "accesscontrol.0001", "message": "Tenant Id is required", "field": "tenantId"});
    let role = json!({"code": "accesscontrol.0012", "message": "Atleast One Role is Required", "field": "role"});
    for path in ["/access/v1/actions/_get", "/access/v1/actions/mdms/_get"] {
        let (status, body) = kosh.post(path, json!({"RequestInfo": {}})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body, invalid(json!([tenant, role])), "{path}");
        let (status, body) = kosh
            .post(
                path,
                json!({"RequestInfo": {}, "roleCodes": [], "tenantId": "pb.amritsar"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body, invalid(json!([role])), "{path}");
        let (status, body) = kosh
            .post(
                path,
                json!({"RequestInfo": {}, "roleCodes": ["EMPLOYEE"], "tenantId": ""}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body, invalid(json!([tenant])), "{path}");
    }
    kosh.stop().await;
}

async fn the_routes_need_a_token_and_a_granted_role(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let roles_search = "/access/v1/roles/_search?tenantId=pb.amritsar";
    let actions_body = json!({"RequestInfo": {}, "roleCodes": ["CITIZEN"], "tenantId": "pb.amritsar",
                              "actionMaster": "actions-test"});

    // No token: the gateway's 401.
    for (path, body) in [
        (roles_search, json!({"RequestInfo": {}})),
        ("/access/v1/actions/_get", actions_body.clone()),
        ("/access/v1/actions/mdms/_get", actions_body.clone()),
    ] {
        let (status, answer) = kosh.post_anonymous(path, body).await;
        assert_digit_error(
            status,
            &answer,
            StatusCode::UNAUTHORIZED,
            "CustomException",
            Some("You are not authorized to access this resource"),
        );
    }

    // The shipped role-actions: roles/_search is SUPERUSER's, actions/_get EMPLOYEE's and
    // SUPERUSER's, actions/mdms/_get also CITIZEN's.
    let employee = user_with(&kosh, "reader-employee", "EMPLOYEE", &["EMPLOYEE"]).await;
    let citizen = user_with(&kosh, "9800000001", "CITIZEN", &["CITIZEN"]).await;
    let status_of = |answer: (StatusCode, Value)| answer.0;
    assert_eq!(
        status_of(kosh.post_as(&employee, roles_search, json!({})).await),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status_of(kosh.post_as(&citizen, roles_search, json!({})).await),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status_of(kosh.post(roles_search, json!({})).await),
        StatusCode::OK
    );
    let (status, body) = kosh
        .post_as(&employee, "/access/v1/actions/_get", actions_body.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        status_of(
            kosh.post_as(&citizen, "/access/v1/actions/_get", actions_body.clone())
                .await
        ),
        StatusCode::FORBIDDEN
    );
    let (status, body) = kosh
        .post_as(
            &citizen,
            "/access/v1/actions/mdms/_get",
            actions_body.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        ids(&body["actions"]),
        master_actions_of("CITIZEN")
            .iter()
            .map(|a| a["id"].as_i64().unwrap())
            .collect::<Vec<_>>()
    );
    kosh.stop().await;
}
