//! Access control's read routes, answered from master data as egov-accesscontrol answers
//! them (Digit-Core `core-services/egov-accesscontrol`: `RoleController.getMDMSRoles` with
//! `RoleRepository.getAllMDMSRoles`; `ActionController.getAllMDMSActions` with
//! `ActionRepository.getAllMDMSActions`).
//!
//! DIGIT asks its MDMS service with JsonPath filters and reads the answer with JsonPath; kosh
//! reads the same masters in memory and keeps what the filters keep:
//! - roles: `ACCESSCONTROL-ROLES.roles` at the tenant's state, every role when no code is
//!   asked for, else those whose `code` equals one asked for (`[?(@.code IN [...])]`), in
//!   data order;
//! - actions: `ACCESSCONTROL-ROLEACTIONS.roleactions` at the request's tenant (city, then its
//!   state) whose `rolecode` equals one asked for, then the actions of those ids at the state
//!   (`[?(@.id IN [...])]`, and `@.enabled == <enabled>` when `enabled` is sent), in data
//!   order, once each.
//!
//! DIGIT's failures are kept too, as its tracer renders them (HTTP 400, `code` the Java
//! exception's name, `message` "An unhandled exception occurred on the server",
//! `description` the exception's message):
//! - a tenant the MDMS service refuses (an unknown state, or a city its state does not list):
//!   the MDMS call fails, its empty answer reaches JsonPath: `IllegalArgumentException`
//!   "json string can not be null or empty" (DIGIT's own API tests expect this description);
//! - a master the tenant does not have (an unknown `actionMaster`): `PathNotFoundException`
//!   "No results for path: $['MdmsRes']['<module>']['<master>']";
//! - a blank `actionMaster`: `InvalidPathException` "Path must not end with a '.' or '..'".

use kosh_mdms::Mdms;
use kosh_platform::DigitError;
use kosh_platform::tenant::state_of;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

pub const ROLES: (&str, &str) = ("ACCESSCONTROL-ROLES", "roles");
pub const ROLEACTIONS: (&str, &str) = ("ACCESSCONTROL-ROLEACTIONS", "roleactions");
/// The module `actionMaster` names a master of (DIGIT's `mdms.actionstestmodule.name`).
pub const ACTIONS_TEST_MODULE: &str = "ACCESSCONTROL-ACTIONS-TEST";
/// The master kosh ships and `actions/_get` reads.
pub const ACTIONS_TEST_MASTER: &str = "actions-test";
/// What `actions/mdms/_get` reads without an `actionMaster` (DIGIT's
/// `mdms.actionsmodule.name` and `mdms.actionmaster.names`).
pub const ACTIONS: (&str, &str) = ("ACCESSCONTROL-ACTIONS", "actions");

/// A role as DIGIT's `RoleContract` answers it: the three fields, a missing one as "".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RoleContract {
    pub name: String,
    pub code: String,
    pub description: String,
}

/// An action as DIGIT's `Action` model answers it after `ActionRepository.convertToAction`:
/// missing text fields are "", a missing id or order number 0, a missing `enabled` false;
/// `tenantId` is the request's; the audit fields are always null.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub display_name: String,
    pub order_number: i64,
    pub query_params: String,
    /// The data's value as text (`"221"`, and `"null"` for a null).
    pub parent_module: String,
    pub enabled: bool,
    pub service_code: String,
    pub tenant_id: String,
    pub created_date: Option<String>,
    pub created_by: Option<i64>,
    pub last_modified_date: Option<String>,
    pub last_modified_by: Option<i64>,
    pub path: String,
    #[serde(rename = "navigationURL")]
    pub navigation_url: String,
    pub left_icon: String,
    pub right_icon: String,
}

/// Which actions master a read uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionMaster<'a> {
    /// `ACCESSCONTROL-ACTIONS-TEST.<name>`, named by the request's `actionMaster`.
    Test(&'a str),
    /// `ACCESSCONTROL-ACTIONS.actions`: `actions/mdms/_get` without an `actionMaster`.
    Default,
}

/// One of DIGIT's unhandled exceptions as its tracer answers it.
pub(crate) fn unhandled(exception: &str, description: impl Into<String>) -> DigitError {
    kosh_platform::bean::unhandled(exception, description)
}

/// The MDMS service refused the tenant; DIGIT hands the empty answer to JsonPath.
fn mdms_refused() -> DigitError {
    unhandled(
        "IllegalArgumentException",
        "json string can not be null or empty",
    )
}

fn path_not_found(module: &str, master: &str) -> DigitError {
    unhandled(
        "PathNotFoundException",
        format!("No results for path: $['MdmsRes']['{module}']['{master}']"),
    )
}

/// `tenant_id`'s master as DIGIT's MDMS call and JsonPath read would get it.
fn master<'m>(
    mdms: &'m Mdms,
    tenant_id: &str,
    (module, name): (&str, &str),
) -> Result<&'m [Value], DigitError> {
    if !mdms.is_known_tenant(tenant_id) {
        return Err(mdms_refused());
    }
    mdms.master(tenant_id, module, name)
        .ok_or_else(|| path_not_found(module, name))
}

/// Text as `org.json` gives it: a string as is, anything else as its JSON text (`null` as
/// "null"), a missing field as "".
fn text(record: &Value, field: &str) -> String {
    match record.get(field) {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn integer(record: &Value, field: &str) -> i64 {
    match record.get(field) {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

fn boolean(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// An id as DIGIT's filters compare it: numbers, and numeric strings (`getInt` reads
/// `"594"` as 594).
fn id_of(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The role codes of `roles/_search?code=`: Java's `code.split(",")` (trailing empty parts
/// dropped), each trimmed. None or an empty string asks for every role.
pub fn role_codes(code: Option<&str>) -> Vec<String> {
    let Some(code) = code.filter(|c| !c.is_empty()) else {
        return Vec::new();
    };
    let mut parts: Vec<&str> = code.split(',').collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts.into_iter().map(|p| p.trim().to_string()).collect()
}

/// `roles/_search`: the roles of `tenant_id`'s state, all of them when `codes` is empty.
pub fn search_roles(
    mdms: &Mdms,
    codes: &[String],
    tenant_id: &str,
) -> Result<Vec<RoleContract>, DigitError> {
    let roles = master(mdms, state_of(tenant_id), ROLES)?;
    Ok(roles
        .iter()
        .filter(|role| {
            codes.is_empty()
                || role
                    .get("code")
                    .and_then(Value::as_str)
                    .is_some_and(|code| codes.iter().any(|c| c == code))
        })
        .map(|role| RoleContract {
            name: text(role, "name"),
            code: text(role, "code"),
            description: text(role, "description"),
        })
        .collect())
}

/// `actions/_get` and `actions/mdms/_get`: the actions the role-actions of `tenant_id` give
/// `role_codes`, from `master` at the state; only those whose `enabled` equals `enabled`
/// when given.
pub fn actions_of_roles(
    mdms: &Mdms,
    role_codes: &[String],
    tenant_id: &str,
    enabled: Option<bool>,
    master_of_actions: ActionMaster<'_>,
) -> Result<Vec<Action>, DigitError> {
    let roleactions = master(mdms, tenant_id, ROLEACTIONS)?;
    let ids: Vec<i64> = roleactions
        .iter()
        .filter(|ra| {
            ra.get("rolecode")
                .and_then(Value::as_str)
                .is_some_and(|code| role_codes.iter().any(|c| c == code))
        })
        .filter_map(|ra| id_of(ra.get("actionid")))
        .collect();
    let state = state_of(tenant_id);
    let (module, name) = match master_of_actions {
        ActionMaster::Test(name) if name.trim().is_empty() => {
            return Err(unhandled(
                "InvalidPathException",
                "Path must not end with a '.' or '..'",
            ));
        }
        ActionMaster::Test(name) => (ACTIONS_TEST_MODULE, name),
        ActionMaster::Default => ACTIONS,
    };
    let actions = master(mdms, state, (module, name))?;
    Ok(actions
        .iter()
        .filter(|action| id_of(action.get("id")).is_some_and(|id| ids.contains(&id)))
        .filter(|action| enabled.is_none_or(|e| action.get("enabled") == Some(&Value::Bool(e))))
        .map(|action| Action {
            id: integer(action, "id"),
            name: text(action, "name"),
            url: text(action, "url"),
            display_name: text(action, "displayName"),
            order_number: integer(action, "orderNumber"),
            query_params: text(action, "queryParams"),
            parent_module: text(action, "parentModule"),
            enabled: boolean(action.get("enabled")),
            service_code: text(action, "serviceCode"),
            tenant_id: tenant_id.to_string(),
            created_date: None,
            created_by: None,
            last_modified_date: None,
            last_modified_by: None,
            path: text(action, "path"),
            navigation_url: text(action, "navigationURL"),
            left_icon: text(action, "leftIcon"),
            right_icon: text(action, "rightIcon"),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn file(path: &str, body: Value) -> (String, Vec<u8>) {
        (path.to_string(), body.to_string().into_bytes())
    }

    fn small() -> Mdms {
        Mdms::from_files(&[
            file(
                "pb/tenant/tenants.json",
                json!({"tenantId": "pb", "moduleName": "tenant", "tenants": [
                    {"code": "pb.amritsar"}, {"code": "pb.patiala"}]}),
            ),
            file(
                "pb/ACCESSCONTROL-ROLES/roles.json",
                json!({"tenantId": "pb", "moduleName": "ACCESSCONTROL-ROLES", "roles": [
                    {"code": "CITIZEN", "name": "Citizen", "description": "A citizen"},
                    {"code": "EMPLOYEE", "name": "Employee"},
                    {"code": "SUPERUSER", "name": "Super User", "description": "All"}]}),
            ),
            file(
                "pb/ACCESSCONTROL-ACTIONS-TEST/actions.json",
                json!({"tenantId": "pb", "moduleName": "ACCESSCONTROL-ACTIONS-TEST", "actions-test": [
                    {"id": 3, "name": "C", "url": "/c", "displayName": "See C", "orderNumber": 2,
                     "enabled": true, "serviceCode": "X", "path": "X.C", "parentModule": 221},
                    {"id": 1, "name": "A", "url": "/a", "enabled": false, "parentModule": null},
                    {"id": 2, "name": "B", "url": "/b", "enabled": true, "leftIcon": "icon"}]}),
            ),
            file(
                "pb/ACCESSCONTROL-ROLEACTIONS/roleactions.json",
                json!({"tenantId": "pb", "moduleName": "ACCESSCONTROL-ROLEACTIONS", "roleactions": [
                    {"rolecode": "CITIZEN", "actionid": 1},
                    {"rolecode": "CITIZEN", "actionid": 3},
                    {"rolecode": "EMPLOYEE", "actionid": "3"},
                    {"rolecode": "EMPLOYEE", "actionid": 2},
                    {"rolecode": "EMPLOYEE", "actionid": 99}]}),
            ),
            file(
                "pb/patiala/ACCESSCONTROL-ROLEACTIONS/roleactions.json",
                json!({"tenantId": "pb.patiala", "moduleName": "ACCESSCONTROL-ROLEACTIONS", "roleactions": [
                    {"rolecode": "CITIZEN", "actionid": 2}]}),
            ),
        ])
        .unwrap()
    }

    fn codes(list: &[&str]) -> Vec<String> {
        list.iter().map(|c| c.to_string()).collect()
    }

    fn role_codes_of(roles: &[RoleContract]) -> Vec<&str> {
        roles.iter().map(|r| r.code.as_str()).collect()
    }

    fn first_error(err: &DigitError) -> (&str, &str, Option<&str>) {
        let e = &err.errors[0];
        (&e.code, &e.message, e.description.as_deref())
    }

    #[test]
    fn codes_split_as_java_splits() {
        assert!(role_codes(None).is_empty());
        assert!(role_codes(Some("")).is_empty());
        assert!(role_codes(Some(",")).is_empty());
        assert_eq!(role_codes(Some("A, B ,C,")), codes(&["A", "B", "C"]));
        assert_eq!(role_codes(Some(",A")), codes(&["", "A"]));
        assert_eq!(role_codes(Some(" ")), codes(&[""]));
    }

    #[test]
    fn roles_all_or_by_code_in_data_order() {
        let mdms = small();
        let all = search_roles(&mdms, &[], "pb.amritsar").unwrap();
        assert_eq!(role_codes_of(&all), ["CITIZEN", "EMPLOYEE", "SUPERUSER"]);
        assert_eq!(
            all[1],
            RoleContract {
                name: "Employee".into(),
                code: "EMPLOYEE".into(),
                description: String::new()
            }
        );
        let some = search_roles(&mdms, &codes(&["SUPERUSER", "CITIZEN", "citizen"]), "pb").unwrap();
        assert_eq!(role_codes_of(&some), ["CITIZEN", "SUPERUSER"]);
        assert!(
            search_roles(&mdms, &codes(&["NOBODY"]), "pb")
                .unwrap()
                .is_empty()
        );
        assert!(search_roles(&mdms, &codes(&[""]), "pb").unwrap().is_empty());
        // an unlisted city is still its state's (the roles are asked for at the state)
        assert_eq!(search_roles(&mdms, &[], "pb.nowhere").unwrap().len(), 3);
    }

    #[test]
    fn roles_of_an_unknown_state_are_digits_json_path_failure() {
        let err = search_roles(&small(), &[], "hr.karnal").unwrap_err();
        assert_eq!(
            first_error(&err),
            (
                "IllegalArgumentException",
                "An unhandled exception occurred on the server",
                Some("json string can not be null or empty")
            )
        );
        assert_eq!(err.status, axum::http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn actions_of_roles_in_data_order_once_each() {
        let mdms = small();
        let test = ActionMaster::Test("actions-test");
        let got = actions_of_roles(
            &mdms,
            &codes(&["CITIZEN", "EMPLOYEE"]),
            "pb.amritsar",
            None,
            test,
        )
        .unwrap();
        let ids: Vec<i64> = got.iter().map(|a| a.id).collect();
        assert_eq!(ids, [3, 1, 2]);
        let c = &got[0];
        assert_eq!(
            (
                c.url.as_str(),
                c.display_name.as_str(),
                c.order_number,
                c.enabled
            ),
            ("/c", "See C", 2, true)
        );
        assert_eq!((c.parent_module.as_str(), c.path.as_str()), ("221", "X.C"));
        assert_eq!(c.tenant_id, "pb.amritsar");
        assert_eq!(got[1].parent_module, "null");
        assert_eq!((got[1].display_name.as_str(), got[1].order_number), ("", 0));
        assert_eq!(got[2].left_icon, "icon");
        // enabled filters on the data's value
        let enabled =
            actions_of_roles(&mdms, &codes(&["CITIZEN"]), "pb", Some(true), test).unwrap();
        assert_eq!(enabled.iter().map(|a| a.id).collect::<Vec<_>>(), [3]);
        let disabled =
            actions_of_roles(&mdms, &codes(&["CITIZEN"]), "pb", Some(false), test).unwrap();
        assert_eq!(disabled.iter().map(|a| a.id).collect::<Vec<_>>(), [1]);
        // unknown roles have none
        assert!(
            actions_of_roles(&mdms, &codes(&["NOBODY"]), "pb", None, test)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_city_with_its_own_role_actions_uses_them() {
        let mdms = small();
        let got = actions_of_roles(
            &mdms,
            &codes(&["CITIZEN"]),
            "pb.patiala",
            None,
            ActionMaster::Test("actions-test"),
        )
        .unwrap();
        assert_eq!(got.iter().map(|a| a.id).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn digits_failures() {
        let mdms = small();
        let citizen = codes(&["CITIZEN"]);
        let test = ActionMaster::Test("actions-test");
        let err = actions_of_roles(&mdms, &citizen, "INVALID-tenant", None, test).unwrap_err();
        assert_eq!(first_error(&err).0, "IllegalArgumentException");
        // MDMS refuses a city its state does not list
        let err = actions_of_roles(&mdms, &citizen, "pb.nowhere", None, test).unwrap_err();
        assert_eq!(first_error(&err).0, "IllegalArgumentException");
        let err = actions_of_roles(&mdms, &citizen, "pb", None, ActionMaster::Test("nothing"))
            .unwrap_err();
        assert_eq!(
            first_error(&err),
            (
                "PathNotFoundException",
                "An unhandled exception occurred on the server",
                Some("No results for path: $['MdmsRes']['ACCESSCONTROL-ACTIONS-TEST']['nothing']")
            )
        );
        let err = actions_of_roles(&mdms, &citizen, "pb", None, ActionMaster::Default).unwrap_err();
        assert_eq!(
            first_error(&err).2,
            Some("No results for path: $['MdmsRes']['ACCESSCONTROL-ACTIONS']['actions']")
        );
        let err =
            actions_of_roles(&mdms, &citizen, "pb", None, ActionMaster::Test(" ")).unwrap_err();
        assert_eq!(
            first_error(&err),
            (
                "InvalidPathException",
                "An unhandled exception occurred on the server",
                Some("Path must not end with a '.' or '..'")
            )
        );
    }

    #[test]
    fn the_demo_data_gives_the_read_routes_to_digits_roles() {
        let mdms = Mdms::from_files(&kosh_mdms::embedded_demo_files()).unwrap();
        let urls = |role: &str| -> Vec<String> {
            actions_of_roles(
                &mdms,
                &codes(&[role]),
                "pb.amritsar",
                None,
                ActionMaster::Test("actions-test"),
            )
            .unwrap()
            .into_iter()
            .map(|a| a.url)
            .collect()
        };
        let superuser = urls("SUPERUSER");
        assert!(superuser.iter().any(|u| u == "/access/v1/roles/_search"));
        assert!(superuser.iter().any(|u| u == "/access/v1/actions/_get"));
        let employee = urls("EMPLOYEE");
        assert!(employee.iter().any(|u| u == "/access/v1/actions/_get"));
        assert!(!employee.iter().any(|u| u == "/access/v1/roles/_search"));
        let roles = search_roles(&mdms, &codes(&["SUPERUSER"]), "pb.amritsar").unwrap();
        assert_eq!(roles.len(), 1);
        assert_eq!(roles[0].name, "Super User");
    }
}
