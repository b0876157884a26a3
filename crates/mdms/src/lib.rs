//! Master data (egov-mdms-service v1). A state's MDMS folder in DIGIT's layout
//! (`<state>/<Module>/<master>.json`, city overrides under `<state>/<city>/...`) is loaded
//! once at start-up into memory; a search looks each master up at the city first and then at
//! the state, and the first level that has it wins (no merging across levels).

pub mod api;
mod filter;
mod load;
mod tenants;

use std::collections::BTreeMap;

use serde_json::Value;

pub use filter::{FilterError, apply_filter};
pub use load::{LoadError, embedded_demo_files, files_in_dir};
pub use tenants::Tenant;

/// module → master → records
type Modules = BTreeMap<String, BTreeMap<String, Vec<Value>>>;

/// All master data of every state, as loaded at start-up.
#[derive(Debug, Default)]
pub struct Mdms {
    /// tenant id (state or city) → its own masters
    by_tenant: BTreeMap<String, Modules>,
}

impl Mdms {
    /// The master `module.master` as seen from `tenant_id`: the most specific tenant level
    /// that defines it wins. `None` when no level defines it.
    pub fn master(&self, tenant_id: &str, module: &str, master: &str) -> Option<&[Value]> {
        kosh_platform::tenant::lineage(tenant_id)
            .into_iter()
            .find_map(|level| {
                self.by_tenant
                    .get(level)?
                    .get(module)?
                    .get(master)
                    .map(Vec::as_slice)
            })
    }

    /// Whether `tenant_id` is a state with master data, or a city listed in its state's
    /// `tenant.tenants`.
    pub fn is_known_tenant(&self, tenant_id: &str) -> bool {
        let state = kosh_platform::tenant::state_of(tenant_id);
        if !self.by_tenant.contains_key(state) {
            return false;
        }
        tenant_id == state || self.tenant(tenant_id).is_some()
    }

    /// The states that have master data.
    pub fn states(&self) -> Vec<&str> {
        self.by_tenant
            .keys()
            .filter(|t| !t.contains('.'))
            .map(String::as_str)
            .collect()
    }

    /// The entry of `tenant.tenants` for `tenant_id`.
    pub fn tenant(&self, tenant_id: &str) -> Option<Tenant> {
        let state = kosh_platform::tenant::state_of(tenant_id);
        self.master(state, "tenant", "tenants")?
            .iter()
            .find(|t| t.get("code").and_then(Value::as_str) == Some(tenant_id))
            .map(Tenant::from_record)
    }

    fn insert(&mut self, tenant_id: &str, module: &str, master: &str, mut records: Vec<Value>) {
        self.by_tenant
            .entry(tenant_id.to_string())
            .or_default()
            .entry(module.to_string())
            .or_default()
            .entry(master.to_string())
            .or_default()
            .append(&mut records);
    }
}
