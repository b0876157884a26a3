//! egov-user as DIGIT answers it (issue 16 items 17, 18 and 20), on SQLite and on
//! PostgreSQL: a refresh token is reused until it expires (Spring OAuth2's
//! `DefaultTokenServices` with `reuseRefreshToken`, as egov-user's
//! `AuthorizationServerConfiguration` sets it); a user search from outside needs userName,
//! name, mobileNumber, emailId or uuid (`UserSearchCriteria.validate`), and
//! `_updatenovalidate` finds its user by uuid only (`UserService.getUserByUuid`); gender is
//! DIGIT's `Gender` enum.

use kosh_blackbox::{BASIC_CLIENT, Backend, Kosh, assert_digit_error, on_both_databases, read};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    a_refresh_token_is_reused_until_it_expires,
    a_user_search_from_outside_needs_a_key_besides_id_or_role,
    an_update_finds_its_user_by_uuid_only,
    gender_is_digits_enum,
);

const PASSWORD: &str = "Secret@123";
const UNHANDLED: &str = "An unhandled exception occurred on the server";

fn citizen(mobile: &str, gender: &str) -> Value {
    json!({"userName": mobile, "name": "Asha Rani", "mobileNumber": mobile, "type": "CITIZEN", "active": true,
           "password": PASSWORD, "tenantId": "pb.amritsar", "gender": gender,
           "roles": [{"code": "CITIZEN", "tenantId": "pb"}]})
}

fn employee(user_name: &str) -> Value {
    json!({"userName": user_name, "name": "Ravi Kumar", "mobileNumber": "9812345678", "type": "EMPLOYEE",
           "active": true, "password": PASSWORD, "tenantId": "pb.amritsar", "emailId": "ravi@example.org",
           "roles": [{"code": "EMPLOYEE", "tenantId": "pb.amritsar"}]})
}

fn idgen_body() -> Value {
    json!({"RequestInfo": {}, "idRequests": [{"idName": "pt.receipt.id", "tenantId": "pb.amritsar"}]})
}

async fn refresh(kosh: &Kosh, refresh_token: &Value) -> (StatusCode, Value) {
    let response = kosh
        .client
        .post(kosh.url("/user/oauth/token"))
        .header("authorization", BASIC_CLIENT)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    read(response).await
}

async fn works(kosh: &Kosh, access: &Value) -> StatusCode {
    kosh.post_as(
        access.as_str().unwrap(),
        "/egov-idgen/id/_generate",
        idgen_body(),
    )
    .await
    .0
}

/// A DIGIT client keeps the login's refresh token and refreshes with it again and again:
/// each refresh answers that same refresh token and a new access token (the one issued
/// before is revoked), until the refresh token's own lifetime, counted from the sign-in,
/// ends. A logout ends it too.
async fn a_refresh_token_is_reused_until_it_expires(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    kosh.create_user(employee("ravi")).await;
    let (status, login) = kosh
        .login("ravi", PASSWORD, "pb.amritsar", "EMPLOYEE")
        .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let kept = login["refresh_token"].clone();

    let mut previous = login["access_token"].clone();
    for round in 0..3 {
        let (status, body) = refresh(&kosh, &kept).await;
        assert_eq!(status, StatusCode::OK, "refresh {round}: {body}");
        assert_eq!(
            body["refresh_token"], kept,
            "refresh {round} answers the same refresh token: {body}"
        );
        assert_ne!(body["access_token"], previous, "{body}");
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(
            body["ResponseInfo"]["status"],
            "Access Token generated successfully"
        );
        assert_eq!(body["UserRequest"]["userName"], "ravi");
        assert_eq!(
            works(&kosh, &previous).await,
            StatusCode::UNAUTHORIZED,
            "refresh {round} revokes the access token issued before"
        );
        assert_eq!(works(&kosh, &body["access_token"]).await, StatusCode::OK);
        previous = body["access_token"].clone();
    }

    // Its lifetime (KOSH_REFRESH_TOKEN_MINUTES, 7 days here) is not stretched by use: a
    // refresh six days on works, one just past the seventh day does not.
    kosh.advance_clock(6 * 24 * 60 * 60 * 1000).await;
    let (status, body) = refresh(&kosh, &kept).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["refresh_token"], kept);
    kosh.advance_clock(24 * 60 * 60 * 1000 + 1000).await;
    let (status, body) = refresh(&kosh, &kept).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");

    // A logout revokes the refresh token behind the access token.
    let (_, login) = kosh
        .login("ravi", PASSWORD, "pb.amritsar", "EMPLOYEE")
        .await;
    let (status, body) = refresh(&kosh, &login["refresh_token"]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = kosh
        .post_anonymous(
            "/user/_logout",
            json!({"access_token": body["access_token"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = refresh(&kosh, &login["refresh_token"]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    kosh.stop().await;
}

fn found(body: &Value) -> Vec<String> {
    let mut uuids: Vec<String> = body["user"]
        .as_array()
        .unwrap_or_else(|| panic!("no user array in {body}"))
        .iter()
        .map(|u| u["uuid"].as_str().unwrap().to_string())
        .collect();
    uuids.sort();
    uuids
}

fn assert_invalid_criteria(status: StatusCode, body: &Value, criteria_shown: &str) {
    assert_digit_error(
        status,
        body,
        StatusCode::BAD_REQUEST,
        "InvalidUserSearchCriteriaException",
        Some(UNHANDLED),
    );
    let description = body["Errors"][0]["description"].as_str().unwrap_or("");
    assert!(
        description.starts_with("Insufficient or invalid search criteria: UserSearchCriteria(")
            && description.contains(criteria_shown),
        "{body}"
    );
}

/// DIGIT's `UserSearchCriteria.validate(isInterServiceCall = false)`, as for every request
/// through its gateway: `id` or `roleCodes` alone would let a caller walk the users by
/// number or by role, so one of userName, name, mobileNumber, emailId or uuid is needed
/// (tenantId with the first three, not with roleCodes).
async fn a_user_search_from_outside_needs_a_key_besides_id_or_role(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let asha = kosh.create_user(citizen("9876543210", "FEMALE")).await;
    let ravi = kosh.create_user(employee("ravi")).await;
    let id = asha["id"].as_i64().unwrap();

    for path in ["/user/_search", "/user/v1/_search"] {
        let (status, body) = kosh.post(path, json!({"id": [id]})).await;
        assert_invalid_criteria(status, &body, &format!("id=[{id}], uuid=null"));
        let (status, body) = kosh
            .post(path, json!({"id": [id, ravi["id"]], "tenantId": "pb"}))
            .await;
        assert_invalid_criteria(status, &body, "tenantId=pb");
        let (status, body) = kosh
            .post(path, json!({"roleCodes": ["CITIZEN"], "tenantId": "pb"}))
            .await;
        assert_invalid_criteria(status, &body, "roleCodes=[CITIZEN]");
        let (status, body) = kosh
            .post(path, json!({"userName": "ravi", "id": [ravi["id"]]}))
            .await;
        assert_invalid_criteria(status, &body, "userName=ravi");

        // With a key, id and roleCodes narrow the search as before.
        let (status, body) = kosh
            .post(
                path,
                json!({"uuid": [asha["uuid"], ravi["uuid"]], "id": [id]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(found(&body), vec![asha["uuid"].as_str().unwrap()], "{body}");
        // roleCodes needs no tenantId from outside.
        let (status, body) = kosh
            .post(
                path,
                json!({"uuid": [asha["uuid"], ravi["uuid"]], "roleCodes": ["EMPLOYEE"]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(found(&body), vec![ravi["uuid"].as_str().unwrap()], "{body}");
        let (status, body) = kosh
            .post(
                path,
                json!({"emailId": "ravi@example.org", "id": [ravi["id"]]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(found(&body), vec![ravi["uuid"].as_str().unwrap()], "{body}");
    }
    kosh.stop().await;
}

async fn search_one(kosh: &Kosh, uuid: &Value) -> Value {
    let (status, body) = kosh.post("/user/v1/_search", json!({"uuid": [uuid]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["user"][0].clone()
}

/// `_updatenovalidate` finds the user by `uuid` (DIGIT's `UserService.getUserByUuid`): an
/// `id` neither finds nor chooses the user; without a uuid, or with an unknown one, the
/// answer is `UserNotFoundException` and nothing changes.
async fn an_update_finds_its_user_by_uuid_only(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let asha = kosh.create_user(citizen("9876543210", "FEMALE")).await;
    let ravi = kosh.create_user(employee("ravi")).await;

    let (status, body) = kosh
        .post(
            "/user/users/_updatenovalidate",
            json!({"user": {"id": ravi["id"], "name": "Changed By Id"}}),
        )
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "UserNotFoundException",
        Some(UNHANDLED),
    );
    assert_eq!(
        body["Errors"][0]["description"],
        "User not found for given criteria: UserSearchCriteria(id=null, uuid=[null], userName=null, \
         name=null, mobileNumber=null, emailId=null, fuzzyLogic=false, active=null, offset=null, \
         limit=null, sort=null, type=null, tenantId=null, roleCodes=null, alternatemobilenumber=null)",
        "{body}"
    );
    let unknown = "3f1c9a52-0000-4000-8000-000000000000";
    let (status, body) = kosh
        .post(
            "/user/users/_updatenovalidate",
            json!({"user": {"id": ravi["id"], "uuid": unknown, "name": "Changed By Id"}}),
        )
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "UserNotFoundException",
        Some(UNHANDLED),
    );
    assert!(
        body["Errors"][0]["description"]
            .as_str()
            .unwrap()
            .contains(&format!("uuid=[{unknown}]")),
        "{body}"
    );
    assert_eq!(search_one(&kosh, &ravi["uuid"]).await["name"], "Ravi Kumar");

    // The uuid names the user; another user's id beside it changes nothing of that user.
    let (status, body) = kosh
        .post(
            "/user/users/_updatenovalidate",
            json!({"user": {"id": ravi["id"], "uuid": asha["uuid"], "name": "Asha Devi"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"][0]["uuid"], asha["uuid"], "{body}");
    assert_eq!(body["user"][0]["name"], "Asha Devi", "{body}");
    assert_eq!(search_one(&kosh, &asha["uuid"]).await["name"], "Asha Devi");
    assert_eq!(search_one(&kosh, &ravi["uuid"]).await["name"], "Ravi Kumar");
    kosh.stop().await;
}

/// DIGIT reads `gender` as its `Gender` enum (FEMALE, MALE, OTHERS, TRANSGENDER), case
/// insensitively, and answers the constant; a value outside the enum is its
/// `IllegalArgumentException`, one outside `^[a-zA-Z ]*$` (or longer than 15) a bean
/// validation error. Nothing is stored for a refused request.
async fn gender_is_digits_enum(backend: Backend) {
    let kosh = Kosh::start(backend).await;
    let created = kosh.create_user(citizen("9876543210", "male")).await;
    assert_eq!(created["gender"], "MALE", "{created}");
    assert_eq!(search_one(&kosh, &created["uuid"]).await["gender"], "MALE");
    let (_, login) = kosh.login("9876543210", PASSWORD, "pb", "CITIZEN").await;
    assert_eq!(login["UserRequest"]["userName"], "9876543210", "{login}");

    for (sent, answered) in [
        ("female", "FEMALE"),
        ("Others", "OTHERS"),
        ("TRANSGENDER", "TRANSGENDER"),
    ] {
        let (status, body) = kosh
            .post(
                "/user/users/_updatenovalidate",
                json!({"user": {"uuid": created["uuid"], "gender": sent}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["user"][0]["gender"], answered, "{body}");
        assert_eq!(
            search_one(&kosh, &created["uuid"]).await["gender"],
            answered
        );
    }

    // A value that is not one of the enum's constants.
    let (status, body) = kosh.create_user_raw(citizen("9876543211", "unknown")).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "IllegalArgumentException",
        Some(UNHANDLED),
    );
    assert_eq!(
        body["Errors"][0]["description"],
        "No enum constant org.egov.user.domain.model.enums.Gender.UNKNOWN",
        "{body}"
    );
    let (status, body) = kosh
        .post(
            "/user/users/_updatenovalidate",
            json!({"user": {"uuid": created["uuid"], "gender": "femal"}}),
        )
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "IllegalArgumentException",
        Some(UNHANDLED),
    );
    // A value outside DIGIT's pattern, and one too long for it.
    let (status, body) = kosh.create_user_raw(citizen("9876543212", "m4le")).await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "Pattern.createUserRequest.user.gender",
        Some("must match \"^[a-zA-Z ]*$\""),
    );
    let (status, body) = kosh
        .create_user_raw(citizen("9876543213", "female female female"))
        .await;
    assert_digit_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "Size.createUserRequest.user.gender",
        Some("size must be between 0 and 15"),
    );
    let (status, body) = kosh
        .post(
            "/user/_search",
            json!({"mobileNumber": "9876543211", "tenantId": "pb"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"], json!([]), "nothing stored: {body}");
    assert_eq!(
        search_one(&kosh, &created["uuid"]).await["gender"],
        "TRANSGENDER",
        "a refused update changes nothing"
    );
    kosh.stop().await;
}
