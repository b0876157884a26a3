//! The tenants a request acts on, collected as DIGIT's gateway (RbacFilter) collects them
//! before it asks access control: every `tenantId` in the JSON body outside `RequestInfo`,
//! else the `tenantId` query parameter, else the user's own tenant.
//!
//! kosh binds bodies and query strings without regard to key case (as DIGIT's services do),
//! so a service would act on `"TENANTID": "pb.jalandhar"`; the gateway's exact-case search
//! would miss it and check the user's own tenant instead. Collecting every key case here
//! closes that gap. For the same reason arrays of tenant ids are read (the gateway reads an
//! array as an empty string), nested `RequestInfo` objects are skipped at every depth (they
//! carry the caller's `userInfo.tenantId`, not the request's), and every `tenantId` query
//! parameter counts, not only the first.

use serde_json::Value;

/// The request's tenant ids, in the order met, without duplicates or blanks. `body` is the
/// parsed JSON body, `query` the raw query string (without `?`), `user_tenant` the tenant of
/// the authenticated user.
pub fn request_tenant_ids(
    body: Option<&Value>,
    query: Option<&str>,
    user_tenant: Option<&str>,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(body) = body {
        from_body(body, &mut out);
    }
    if out.is_empty()
        && let Some(query) = query
    {
        from_query(query, &mut out);
    }
    if out.is_empty()
        && let Some(tenant) = user_tenant
    {
        push(&mut out, tenant);
    }
    out
}

fn is_tenant_id_key(key: &str) -> bool {
    key.eq_ignore_ascii_case("tenantId")
}

fn from_body(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                if key.eq_ignore_ascii_case("RequestInfo") {
                    continue;
                }
                if is_tenant_id_key(key) {
                    // Like Jackson's findValues: a matched field is not searched further.
                    match value {
                        Value::String(s) => push(out, s),
                        Value::Array(items) => items
                            .iter()
                            .filter_map(Value::as_str)
                            .for_each(|s| push(out, s)),
                        _ => {}
                    }
                } else {
                    from_body(value, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| from_body(item, out)),
        _ => {}
    }
}

fn from_query(query: &str, out: &mut Vec<String>) {
    // Repeated keys arrive joined with commas, as the services' query binding sees them.
    if let Value::Object(params) = kosh_platform::extract::query_object(query) {
        for (key, value) in &params {
            if is_tenant_id_key(key)
                && let Some(value) = value.as_str()
            {
                value.split(',').for_each(|t| push(out, t));
            }
        }
    }
}

fn push(out: &mut Vec<String>, tenant_id: &str) {
    let tenant_id = tenant_id.trim();
    if !tenant_id.is_empty() && !out.iter().any(|t| t == tenant_id) {
        out.push(tenant_id.to_string());
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn body_tenant_ids_outside_request_info() {
        let body = json!({
            "RequestInfo": {"userInfo": {"tenantId": "pb.jalandhar", "roles": [{"tenantId": "pb"}]}},
            "Transaction": {"tenantId": "pb.amritsar", "taxAndPayments": [{"tenantId": "pb.amritsar"}]},
            "Bills": [{"TENANTID": "pb.patiala"}, {"tenantid": ["pb.nawanshahr", "pb.amritsar", 7]}],
            "nested": {"requestInfo": {"tenantId": "pb.bathinda"}},
            "blank": {"tenantId": "  "}
        });
        assert_eq!(
            request_tenant_ids(Some(&body), Some("tenantId=pb.ludhiana"), Some("pb")),
            vec!["pb.amritsar", "pb.patiala", "pb.nawanshahr"]
        );
    }

    #[test]
    fn query_when_the_body_names_no_tenant() {
        let body = json!({"RequestInfo": {"userInfo": {"tenantId": "pb.jalandhar"}}, "x": 1});
        assert_eq!(
            request_tenant_ids(
                Some(&body),
                Some(
                    "tenantId=pb.amritsar,pb.patiala&TenantId=pb.amritsar&tenantId=pb.ludhiana&limit=5"
                ),
                Some("pb")
            ),
            vec!["pb.amritsar", "pb.patiala", "pb.ludhiana"]
        );
        assert_eq!(
            request_tenant_ids(None, Some("tenantId=pb%2Eamritsar"), None),
            vec!["pb.amritsar"]
        );
    }

    #[test]
    fn the_users_tenant_last() {
        let body = json!({"RequestInfo": {}});
        assert_eq!(
            request_tenant_ids(Some(&body), Some("limit=5"), Some("pb.amritsar")),
            vec!["pb.amritsar"]
        );
        assert_eq!(
            request_tenant_ids(None, Some("tenantId="), Some("pb")),
            vec!["pb"]
        );
        assert!(request_tenant_ids(None, None, None).is_empty());
    }
}
