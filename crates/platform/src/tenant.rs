//! DIGIT's tenant hierarchy: `pb` is a state, `pb.amritsar` a city (ULB) within it.

/// The state part of a tenant id: everything before the first `.`.
pub fn state_of(tenant_id: &str) -> &str {
    tenant_id.split('.').next().unwrap_or(tenant_id)
}

/// The city part (`amritsar` for `pb.amritsar`); the tenant itself for a state.
pub fn city_part(tenant_id: &str) -> &str {
    tenant_id
        .split_once('.')
        .map(|(_, city)| city)
        .unwrap_or(tenant_id)
}

pub fn is_state_level(tenant_id: &str) -> bool {
    !tenant_id.contains('.')
}

/// The tenant and each of its ancestors, most specific first: `pb.amritsar`, `pb`.
pub fn lineage(tenant_id: &str) -> Vec<&str> {
    let mut out = vec![tenant_id];
    let mut current = tenant_id;
    while let Some((parent, _)) = current.rsplit_once('.') {
        out.push(parent);
        current = parent;
    }
    out
}

/// Whether `tenant_id` is `root` itself or lies beneath it (`pb.amritsar` is within `pb`;
/// `pb` is not within `pb.amritsar`, nor `pbx` within `pb`). Tenant ids compare exactly.
pub fn is_within(tenant_id: &str, root: &str) -> bool {
    !root.is_empty()
        && match tenant_id.strip_prefix(root) {
            Some("") => true,
            Some(rest) => rest.starts_with('.'),
            None => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hierarchy() {
        assert_eq!(state_of("pb.amritsar"), "pb");
        assert_eq!(state_of("pb"), "pb");
        assert_eq!(city_part("pb.amritsar"), "amritsar");
        assert!(is_state_level("pb"));
        assert_eq!(lineage("pb.amritsar"), vec!["pb.amritsar", "pb"]);
    }

    #[test]
    fn within() {
        assert!(is_within("pb.amritsar", "pb"));
        assert!(is_within("pb", "pb"));
        assert!(is_within("pb.amritsar.ward1", "pb.amritsar"));
        assert!(!is_within("pb", "pb.amritsar"));
        assert!(!is_within("pb.jalandhar", "pb.amritsar"));
        assert!(!is_within("pbx.amritsar", "pb"));
        assert!(!is_within("pb", ""));
        assert!(!is_within("", "pb"));
        // Exactly as written: DIGIT's tenant ids are lower case, and so are kosh's.
        assert!(!is_within("PB.amritsar", "pb"));
        for tenant in ["pb.amritsar", "pb", "pb.amritsar.ward1"] {
            for root in lineage(tenant) {
                assert!(is_within(tenant, root), "{tenant} within {root}");
            }
        }
    }
}
