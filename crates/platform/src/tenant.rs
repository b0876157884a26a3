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
}
