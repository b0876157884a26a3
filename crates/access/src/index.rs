//! The role → url tables of every tenant, built once from MDMS, and DIGIT's authorization
//! rule over them (egov-accesscontrol `ActionService.isAuthorized`).
//!
//! DIGIT's rule, for roles, a uri and the request's tenant ids:
//! - the tenants checked are the first request tenant and its state (`pb.amritsar`, `pb`),
//!   most specific first; the first that authorizes wins;
//! - the roles that count are those held at one of the request's tenants or at the state, so
//!   a role at `pb` covers `pb.amritsar`, and a role at `pb.jalandhar` does not;
//! - at a tenant, the roles' urls are that tenant's MDMS role-actions joined to its actions
//!   (each master with city → state fallback); the uri must equal one of them, or fully match
//!   one that is a template (see `template`);
//! - a tenant with no role-action or action data aborts the check (DATA_NOT_AVAILABLE).
//!
//! The role-action record's own `tenantId` is not read: DIGIT ignores it too (the demo data
//! spells it `tenantid` in places).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use kosh_mdms::Mdms;
use kosh_platform::tenant::state_of;
use kosh_platform::{DigitError, Role};
use regex::Regex;
use serde_json::Value;

use crate::template;

const ROLEACTIONS: (&str, &str) = ("ACCESSCONTROL-ROLEACTIONS", "roleactions");
const ACTIONS: (&str, &str) = ("ACCESSCONTROL-ACTIONS-TEST", "actions-test");

/// Who may call what, per tenant. Cheap to share: build it once and keep it in an `Arc`.
#[derive(Debug, Default)]
pub struct AccessIndex {
    /// Each state with role-action data, and each city whose own MDMS files change its
    /// table. Other cities (and cities missing from `tenant.tenants`) use their state's, as
    /// MDMS falls back; a table shared by several tenants is built once.
    tables: HashMap<String, Arc<Table>>,
}

/// The MDMS role-action data is missing at a tenant being checked. DIGIT answers
/// `DATA_NOT_AVAILABLE` (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataNotAvailable {
    pub tenant_id: String,
}

impl std::fmt::Display for DataNotAvailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no role-action data for tenant {}", self.tenant_id)
    }
}

impl std::error::Error for DataNotAvailable {}

impl From<DataNotAvailable> for DigitError {
    fn from(_: DataNotAvailable) -> Self {
        DigitError::new("DATA_NOT_AVAILABLE", "Data not available for this tenant")
    }
}

/// One tenant's role code → its urls.
#[derive(Debug, Default)]
struct Table {
    roles: HashMap<String, RoleUrls>,
}

#[derive(Debug, Default)]
struct RoleUrls {
    exact: HashSet<String>,
    templates: Vec<Regex>,
    /// Every url of the role as written (templates too), in data order, once each.
    all: Vec<String>,
}

impl RoleUrls {
    fn add(&mut self, url: &str) {
        if self.all.iter().any(|u| u == url) {
            return;
        }
        self.all.push(url.to_string());
        match template::compile(url) {
            Some(regex) => self.templates.push(regex),
            None => {
                self.exact.insert(url.to_string());
            }
        }
    }

    fn allows(&self, uri: &str) -> bool {
        self.exact.contains(uri) || self.templates.iter().any(|t| t.is_match(uri))
    }
}

impl Table {
    /// DIGIT's `MdmsRepository.transformMdmsResponse`: role-actions joined to actions by id,
    /// the first action of an id winning; role-actions naming no known action are dropped.
    fn build(roleactions: &[Value], actions: &[Value]) -> Table {
        let mut urls: HashMap<String, &str> = HashMap::new();
        for action in actions {
            if let (Some(id), Some(url)) = (
                action.get("id").and_then(id_key),
                action.get("url").and_then(Value::as_str),
            ) {
                urls.entry(id).or_insert(url);
            }
        }
        let mut table = Table::default();
        for roleaction in roleactions {
            let code = roleaction
                .get("rolecode")
                .and_then(Value::as_str)
                .map(str::trim)
                .unwrap_or_default();
            // A blank role code (one record in DIGIT's data) can only be matched by a user
            // role with a blank code; kosh lets it match nothing.
            if code.is_empty() {
                continue;
            }
            let Some(url) = roleaction
                .get("actionid")
                .and_then(id_key)
                .and_then(|id| urls.get(&id))
            else {
                continue;
            };
            table.roles.entry(code.to_string()).or_default().add(url);
        }
        table
    }

    fn allows<'r>(&self, mut role_codes: impl Iterator<Item = &'r str>, uri: &str) -> bool {
        role_codes.any(|code| self.roles.get(code).is_some_and(|r| r.allows(uri)))
    }
}

/// Action ids are numbers in DIGIT's data; a string id (`"1862"`) means the same action, as
/// Jackson reads it into the same Long.
fn id_key(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

/// Where a master's records live: two tenants that MDMS resolves to the same records see
/// the same data.
type SliceKeys = [(usize, usize); 2];

fn slice_key(records: &[Value]) -> (usize, usize) {
    (records.as_ptr().addr(), records.len())
}

impl AccessIndex {
    /// Builds the tables of every state in `mdms` and of its cities listed in
    /// `tenant.tenants`.
    pub fn build(mdms: &Mdms) -> AccessIndex {
        let mut tables = HashMap::new();
        // (role-actions, actions) as MDMS resolves them → the table built from them, so
        // that cities without their own files share their state's table.
        let mut built: Vec<(SliceKeys, Arc<Table>)> = Vec::new();
        for state in mdms.states() {
            let cities = mdms
                .master(state, "tenant", "tenants")
                .unwrap_or_default()
                .iter()
                .filter_map(|t| t.get("code").and_then(Value::as_str))
                .filter(|code| *code != state && state_of(code) == state);
            let mut state_key = None;
            for tenant in std::iter::once(state).chain(cities) {
                let (Some(roleactions), Some(actions)) = (
                    mdms.master(tenant, ROLEACTIONS.0, ROLEACTIONS.1),
                    mdms.master(tenant, ACTIONS.0, ACTIONS.1),
                ) else {
                    continue;
                };
                let key = [slice_key(roleactions), slice_key(actions)];
                if tenant == state {
                    state_key = Some(key);
                } else if state_key == Some(key) {
                    // The city sees exactly its state's data: the look-up falls back.
                    continue;
                }
                let table = match built.iter().find(|(k, _)| *k == key) {
                    Some((_, table)) => Arc::clone(table),
                    None => {
                        let table = Arc::new(Table::build(roleactions, actions));
                        built.push((key, Arc::clone(&table)));
                        table
                    }
                };
                tables.insert(tenant.to_string(), table);
            }
        }
        AccessIndex { tables }
    }

    /// The table MDMS would give for `tenant_id`: its own, else its nearest ancestor's.
    /// (Walks the lineage without allocating: this runs on every request.)
    fn table(&self, tenant_id: &str) -> Option<&Arc<Table>> {
        let mut level = tenant_id;
        loop {
            if let Some(table) = self.tables.get(level) {
                return Some(table);
            }
            level = level.rsplit_once('.')?.0;
        }
    }

    /// The tenants DIGIT checks for a request tenant: it, then its state, once each.
    fn levels(tenant_id: &str) -> impl Iterator<Item = &str> {
        let state = state_of(tenant_id);
        std::iter::once(tenant_id).chain((state != tenant_id).then_some(state))
    }

    /// Whether `roles` may call `uri` (the request path, no query string) for a request on
    /// `tenant_ids` (from [`crate::request_tenant_ids`]). Missing role-action data means no.
    pub fn is_authorized(&self, roles: &[Role], uri: &str, tenant_ids: &[String]) -> bool {
        self.authorize(roles, uri, tenant_ids).unwrap_or(false)
    }

    /// [`Self::is_authorized`], telling missing data apart from a refusal, as
    /// `/access/v1/actions/_authorize` must.
    pub fn authorize(
        &self,
        roles: &[Role],
        uri: &str,
        tenant_ids: &[String],
    ) -> Result<bool, DataNotAvailable> {
        let Some(first) = tenant_ids.first() else {
            return Ok(false);
        };
        let state = state_of(first);
        // DIGIT compares with the request's tenants exactly and with the state ignoring case.
        let applies = |role: &&Role| {
            role.tenant_id
                .as_deref()
                .is_some_and(|t| tenant_ids.iter().any(|r| r == t) || t.eq_ignore_ascii_case(state))
        };
        let mut checked: Option<&Arc<Table>> = None;
        for level in Self::levels(first) {
            let table = self.table(level).ok_or_else(|| DataNotAvailable {
                tenant_id: level.to_string(),
            })?;
            if checked.is_some_and(|c| Arc::ptr_eq(c, table)) {
                continue;
            }
            let codes = roles.iter().filter(applies).map(|r| r.code.as_str());
            if table.allows(codes, uri) {
                return Ok(true);
            }
            checked = Some(table);
        }
        Ok(false)
    }

    /// The urls `roles` may call at `tenant_id`, sorted: exact urls, and templates as
    /// written (`/user/users/{id}/_updatenovalidate`). A role counts when held at
    /// `tenant_id` or at its state, as in [`Self::is_authorized`].
    pub fn actions_for_roles(&self, roles: &[Role], tenant_id: &str) -> Vec<String> {
        let state = state_of(tenant_id);
        let codes: Vec<&str> = roles
            .iter()
            .filter(|role| {
                role.tenant_id
                    .as_deref()
                    .is_some_and(|t| t == tenant_id || t.eq_ignore_ascii_case(state))
            })
            .map(|role| role.code.as_str())
            .collect();
        let mut urls: Vec<String> = Self::levels(tenant_id)
            .filter_map(|level| self.table(level))
            .flat_map(|table| codes.iter().filter_map(|code| table.roles.get(*code)))
            .flat_map(|role| role.all.iter().cloned())
            .collect();
        urls.sort();
        urls.dedup();
        urls
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn role(code: &str, tenant: &str) -> Role {
        Role {
            code: code.into(),
            tenant_id: Some(tenant.into()),
            ..Role::default()
        }
    }

    fn tenants(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|t| t.to_string()).collect()
    }

    fn file(path: &str, body: Value) -> (String, Vec<u8>) {
        (path.to_string(), body.to_string().into_bytes())
    }

    /// A state `pb` with two cities; `pb.patiala` has role-actions of its own.
    fn small() -> AccessIndex {
        let mdms = Mdms::from_files(&[
            file(
                "pb/tenant/tenants.json",
                json!({"tenantId": "pb", "moduleName": "tenant", "tenants": [
                    {"code": "pb.amritsar"}, {"code": "pb.jalandhar"}, {"code": "pb.patiala"}]}),
            ),
            file(
                "pb/ACCESSCONTROL-ACTIONS-TEST/actions.json",
                json!({"tenantId": "pb", "moduleName": "ACCESSCONTROL-ACTIONS-TEST", "actions-test": [
                    {"id": 1, "url": "/billing-service/bill/v2/_fetchbill"},
                    {"id": 2, "url": "/collection-services/payments/{moduleName}/_search"},
                    {"id": 3, "url": "/pg-service/transaction/v1/_create"},
                    {"id": "4", "url": "/user/_search"},
                    {"id": 1, "url": "/shadowed/by/the/first/action/1"}]}),
            ),
            file(
                "pb/ACCESSCONTROL-ROLEACTIONS/roleactions.json",
                json!({"tenantId": "pb", "moduleName": "ACCESSCONTROL-ROLEACTIONS", "roleactions": [
                    {"rolecode": "CITIZEN", "actionid": 1, "tenantId": "pb"},
                    {"rolecode": "CITIZEN", "actionid": 3, "tenantId": "pb"},
                    {"rolecode": "EMPLOYEE", "actionid": 2, "tenantId": "pb"},
                    {"rolecode": "EMPLOYEE", "actionid": 4, "tenantid": "pb"},
                    {"rolecode": "EMPLOYEE", "actionid": 99, "tenantId": "pb"},
                    {"rolecode": "", "actionid": 3, "tenantId": "pb"}]}),
            ),
            file(
                "pb/patiala/ACCESSCONTROL-ROLEACTIONS/roleactions.json",
                json!({"tenantId": "pb.patiala", "moduleName": "ACCESSCONTROL-ROLEACTIONS", "roleactions": [
                    {"rolecode": "CITIZEN", "actionid": 4, "tenantId": "pb.patiala"}]}),
            ),
        ])
        .unwrap();
        AccessIndex::build(&mdms)
    }

    #[test]
    fn exact_urls() {
        let index = small();
        let citizen = [role("CITIZEN", "pb")];
        let at = tenants(&["pb.amritsar"]);
        assert!(index.is_authorized(&citizen, "/billing-service/bill/v2/_fetchbill", &at));
        assert!(index.is_authorized(&citizen, "/pg-service/transaction/v1/_create", &at));
        assert!(!index.is_authorized(&citizen, "/billing-service/bill/v2/_fetchBill", &at));
        assert!(!index.is_authorized(&citizen, "/billing-service/bill/v2/_fetchbill/", &at));
        assert!(!index.is_authorized(&citizen, "/user/_search", &at));
        // the first action of an id wins
        assert!(!index.is_authorized(&citizen, "/shadowed/by/the/first/action/1", &at));
        // a string action id joins a numeric one; the record's own tenantid is not read
        let employee = [role("EMPLOYEE", "pb.amritsar")];
        assert!(index.is_authorized(&employee, "/user/_search", &at));
        // a blank role code gets nothing
        assert!(!index.is_authorized(&[role("", "pb")], "/pg-service/transaction/v1/_create", &at));
    }

    #[test]
    fn template_urls_match_whole_uris() {
        let index = small();
        let employee = [role("EMPLOYEE", "pb")];
        let at = tenants(&["pb.amritsar"]);
        assert!(index.is_authorized(&employee, "/collection-services/payments/PT/_search", &at));
        assert!(!index.is_authorized(
            &employee,
            "/collection-services/payments/PT.MUTATION/_search",
            &at
        ));
        assert!(!index.is_authorized(
            &employee,
            "/collection-services/payments/PT/_search/more",
            &at
        ));
        assert!(!index.is_authorized(&employee, "/collection-services/payments/_search", &at));
    }

    #[test]
    fn a_state_role_covers_its_cities_and_a_city_role_only_its_own() {
        let index = small();
        let url = "/pg-service/transaction/v1/_create";
        let amritsar = tenants(&["pb.amritsar"]);
        assert!(index.is_authorized(&[role("CITIZEN", "pb")], url, &amritsar));
        assert!(index.is_authorized(&[role("CITIZEN", "PB")], url, &amritsar));
        assert!(index.is_authorized(&[role("CITIZEN", "pb.amritsar")], url, &amritsar));
        assert!(!index.is_authorized(&[role("CITIZEN", "pb.jalandhar")], url, &amritsar));
        assert!(index.is_authorized(&[role("CITIZEN", "pb")], url, &tenants(&["pb"])));
        assert!(!index.is_authorized(&[role("CITIZEN", "pb.amritsar")], url, &tenants(&["pb"])));
        // a role held at any of the request's tenants counts (DIGIT's rule)
        let both = tenants(&["pb.amritsar", "pb.jalandhar"]);
        assert!(index.is_authorized(&[role("CITIZEN", "pb.jalandhar")], url, &both));
    }

    #[test]
    fn roles_without_a_matching_tenant_count_for_nothing() {
        let index = small();
        let url = "/pg-service/transaction/v1/_create";
        let at = tenants(&["pb.amritsar"]);
        assert!(!index.is_authorized(&[role("CITIZEN", "hr")], url, &at));
        let no_tenant = Role {
            code: "CITIZEN".into(),
            ..Role::default()
        };
        assert!(!index.is_authorized(&[no_tenant], url, &at));
        assert!(!index.is_authorized(&[role("NOBODY", "pb")], url, &at));
        assert!(!index.is_authorized(&[], url, &at));
        assert!(!index.is_authorized(&[role("CITIZEN", "pb")], url, &[]));
    }

    #[test]
    fn a_city_with_its_own_role_actions_is_checked_before_its_state() {
        let index = small();
        let at = tenants(&["pb.patiala"]);
        // patiala's own role-actions give CITIZEN /user/_search ...
        assert!(index.is_authorized(&[role("CITIZEN", "pb")], "/user/_search", &at));
        assert!(!index.is_authorized(
            &[role("CITIZEN", "pb")],
            "/user/_search",
            &tenants(&["pb.amritsar"])
        ));
        // ... and the state's still apply after them
        assert!(index.is_authorized(
            &[role("CITIZEN", "pb")],
            "/pg-service/transaction/v1/_create",
            &at
        ));
        assert_eq!(
            index.actions_for_roles(&[role("CITIZEN", "pb")], "pb.patiala"),
            vec![
                "/billing-service/bill/v2/_fetchbill",
                "/pg-service/transaction/v1/_create",
                "/user/_search"
            ]
        );
        // cities without files of their own share the state's table
        assert!(index.tables.contains_key("pb.patiala"));
        assert!(!index.tables.contains_key("pb.amritsar"));
    }

    #[test]
    fn no_data_is_reported_and_refused() {
        let index = small();
        let citizen = [role("CITIZEN", "hr")];
        let at = tenants(&["hr.karnal"]);
        assert_eq!(
            index.authorize(&citizen, "/user/_search", &at),
            Err(DataNotAvailable {
                tenant_id: "hr.karnal".into()
            })
        );
        assert!(!index.is_authorized(&citizen, "/user/_search", &at));
        // a city missing from tenant.tenants falls back to its state's data, as MDMS does
        assert_eq!(
            index.authorize(
                &[role("CITIZEN", "pb")],
                "/pg-service/transaction/v1/_create",
                &tenants(&["pb.nowhere"])
            ),
            Ok(true)
        );
    }

    fn demo() -> AccessIndex {
        AccessIndex::build(&Mdms::from_files(&kosh_mdms::embedded_demo_files()).unwrap())
    }

    #[test]
    fn bbps_may_call_exactly_its_digit_urls_and_the_bbps_routes() {
        let index = demo();
        let bbps = [role("BBPS", "pb")];
        let digit = [
            "/billing-service/bill/v2/_fetchbill",
            "/billing-service/bill/v2/_search",
            "/collection-services/payments/_create",
            "/collection-services/payments/_search",
            "/pg-service/transaction/v1/_create",
            "/pg-service/transaction/v1/_search",
            "/pg-service/transaction/v1/_update",
            // The same pg API under the API reference's prefix.
            "/egov-pg-service/transaction/v1/_create",
            "/egov-pg-service/transaction/v1/_search",
            "/egov-pg-service/transaction/v1/_update",
        ];
        let bbps_routes = [
            "/bbps/v1/billers",
            "/bbps/v1/bills/fetch",
            "/bbps/v1/bills/validate",
            "/bbps/v1/payments",
            "/bbps/v1/payments/status",
            "/bbps/v1/payments/reverse",
            "/bbps/v1/complaints",
            "/bbps/v1/complaints/status",
            "/bbps/v1/complaints/update",
            "/bbps/v1/reports/daily",
            "/bbps/v1/health",
            "/bbps/v1/npci/{message}/1.0/urn:referenceId:{refId}",
        ];
        let mut urls: Vec<&str> = digit.iter().chain(&bbps_routes).copied().collect();
        urls.sort();
        assert_eq!(index.actions_for_roles(&bbps, "pb.amritsar"), urls);
        assert_eq!(index.actions_for_roles(&bbps, "pb"), urls);
        for url in digit.iter().chain(&bbps_routes[..11]) {
            assert!(
                index.is_authorized(&bbps, url, &tenants(&["pb.amritsar"])),
                "{url}"
            );
        }
        for url in [
            "/billing-service/bill/v2/_generate",
            "/billing-service/bill/v2/_cancelbill",
            "/collection-services/payments/_update",
            "/collection-services/payments/_workflow",
            "/collection-services/payments/PT/_search",
            "/billing-service/demand/_create",
            "/user/users/_createnovalidate",
            "/egov-idgen/id/_generate",
            "/bbps/v1/npci/BillFetchRequest/1.0/HENSVVR4QOS7X1UGPY7JGUV444P61241015",
            "/bbps/v1/npci/BillFetchRequest/1.0/urn:referenceId:",
        ] {
            assert!(
                !index.is_authorized(&bbps, url, &tenants(&["pb.amritsar"])),
                "{url}"
            );
        }
        // the NPCI XML route with its message and reference
        assert!(index.is_authorized(
            &bbps,
            "/bbps/v1/npci/BillPaymentRequest/1.0/urn:referenceId:HENSVVR4QOS7X1UGPY7JGUV444P61241015",
            &tenants(&["pb.amritsar"])
        ));
        // the municipal side: the report, complaint tracking, not the operating unit's routes
        let superuser = [role("SUPERUSER", "pb")];
        let at = tenants(&["pb.amritsar"]);
        assert!(index.is_authorized(&superuser, "/bbps/v1/reports/daily", &at));
        assert!(index.is_authorized(&superuser, "/bbps/v1/complaints/update", &at));
        assert!(!index.is_authorized(&superuser, "/bbps/v1/payments", &at));
        assert!(!index.is_authorized(&superuser, "/bbps/v1/bills/fetch", &at));
        // a BBPS role held at one city covers only that city
        let at_amritsar = [role("BBPS", "pb.amritsar")];
        let fetch = "/billing-service/bill/v2/_fetchbill";
        assert!(index.is_authorized(&at_amritsar, fetch, &tenants(&["pb.amritsar"])));
        assert!(!index.is_authorized(&at_amritsar, fetch, &tenants(&["pb.jalandhar"])));
    }

    #[test]
    fn the_demo_data_maps_the_routes_kosh_serves() {
        let index = demo();
        let at = tenants(&["pb.amritsar"]);
        let allowed = |code: &str, url: &str| index.is_authorized(&[role(code, "pb")], url, &at);
        assert!(allowed("SUPERUSER", "/user/users/_createnovalidate"));
        assert!(allowed("SUPERUSER", "/user/users/_updatenovalidate"));
        assert!(allowed("SUPERUSER", "/user/users/42/_updatenovalidate"));
        assert!(allowed("CITIZEN", "/user/users/42/_updatenovalidate"));
        assert!(!allowed("CITIZEN", "/user/users/_updatenovalidate"));
        assert!(allowed("EMPLOYEE", "/egov-idgen/id/_generate"));
        assert!(allowed("CITIZEN", "/egov-idgen/id/_generate"));
        assert!(allowed("SUPERUSER", "/egov-mdms-service/v1/_search"));
        assert!(!allowed("EMPLOYEE", "/egov-mdms-service/v1/_search"));
        // DIGIT's data has no action for the authorize endpoint: only the gateway calls it
        assert!(!allowed("SUPERUSER", "/access/v1/actions/_authorize"));
        assert!(allowed("EMPLOYEE", "/collection-services/payments/_create"));
        assert!(allowed("CITIZEN", "/pg-service/transaction/v1/_create"));
        assert!(allowed(
            "CITIZEN",
            "/collection-services/payments/PT/_search"
        ));
        assert!(!allowed("CITIZEN", "/collection-services/payments/_create"));
    }
}
