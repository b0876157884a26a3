//! Reading an MDMS folder. Each file is `{"tenantId": "pb", "moduleName": "BillingService",
//! "<MasterName>": [...]}`; the folder layout only groups them. Invalid master data stops
//! start-up with a message naming the file and the fault.

use std::path::Path;

use include_dir::{Dir, include_dir};
use serde_json::Value;

use crate::Mdms;

static DEMO: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../data/mdms");

/// Files kosh reads besides master data files and skips.
const NOT_MASTER_DATA: &[&str] = &["master-config.json"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: String,
    pub fault: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid master data in {}: {}", self.file, self.fault)
    }
}

impl std::error::Error for LoadError {}

/// The pb demo data shipped inside the binary, as (path, contents).
pub fn embedded_demo_files() -> Vec<(String, Vec<u8>)> {
    fn walk(dir: &Dir<'_>, out: &mut Vec<(String, Vec<u8>)>) {
        for file in dir.files() {
            out.push((file.path().display().to_string(), file.contents().to_vec()));
        }
        for sub in dir.dirs() {
            walk(sub, out);
        }
    }
    let mut out = Vec::new();
    walk(&DEMO, &mut out);
    out.sort();
    out
}

/// Every `.json` file under `dir`, as (path, contents).
pub fn files_in_dir(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, LoadError> {
    fn walk(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) -> Result<(), LoadError> {
        let fault = |e: std::io::Error| LoadError {
            file: dir.display().to_string(),
            fault: e.to_string(),
        };
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(fault)?
            .collect::<Result<_, _>>()
            .map_err(fault)?;
        entries.sort_by_key(|e| e.path());
        for entry in entries {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out)?;
            } else if path.extension().is_some_and(|e| e == "json") {
                let bytes = std::fs::read(&path).map_err(|e| LoadError {
                    file: path.display().to_string(),
                    fault: e.to_string(),
                })?;
                out.push((path.display().to_string(), bytes));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, &mut out)?;
    if out.is_empty() {
        return Err(LoadError {
            file: dir.display().to_string(),
            fault: "no .json master data files found".into(),
        });
    }
    Ok(out)
}

impl Mdms {
    /// Builds the store from master data files, checking each.
    pub fn from_files(files: &[(String, Vec<u8>)]) -> Result<Mdms, LoadError> {
        let mut mdms = Mdms::default();
        for (path, bytes) in files {
            let name = Path::new(path)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if NOT_MASTER_DATA.contains(&name) {
                continue;
            }
            let fail = |fault: String| LoadError {
                file: path.clone(),
                fault,
            };
            let value: Value =
                serde_json::from_slice(bytes).map_err(|e| fail(format!("not valid JSON: {e}")))?;
            let Value::Object(map) = value else {
                return Err(fail("the file must hold a JSON object".into()));
            };
            let text = |key: &str| -> Result<String, LoadError> {
                match map.get(key) {
                    Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
                    _ => Err(fail(format!("\"{key}\" must be a non-empty string"))),
                }
            };
            let tenant_id = text("tenantId")?;
            let module = text("moduleName")?;
            let mut masters = 0;
            for (master, records) in &map {
                if master == "tenantId" || master == "moduleName" {
                    continue;
                }
                let Value::Array(records) = records else {
                    return Err(fail(format!(
                        "master \"{master}\" must be a JSON array of records"
                    )));
                };
                check_records(&module, master, records).map_err(fail)?;
                mdms.insert(&tenant_id, &module, master, records.clone());
                masters += 1;
            }
            if masters == 0 {
                return Err(fail(format!("module \"{module}\" has no master in it")));
            }
        }
        if mdms.states().is_empty() {
            return Err(LoadError {
                file: "(master data)".into(),
                fault: "no state-level master data found".into(),
            });
        }
        Ok(mdms)
    }
}

/// Masters kosh itself reads must have the fields it reads.
fn check_records(module: &str, master: &str, records: &[Value]) -> Result<(), String> {
    let required: &[&str] = match (module, master) {
        ("tenant", "tenants") => &["code"],
        ("common-masters", "IdFormat") => &["idname", "format"],
        ("BillingService", "BusinessService") => &["code"],
        ("BillingService", "TaxHeadMaster") => &["code", "service"],
        ("BillingService", "TaxPeriod") => &["code", "service"],
        ("ACCESSCONTROL-ROLES", "roles") => &["code"],
        ("ACCESSCONTROL-ROLEACTIONS", "roleactions") => &["rolecode", "actionid"],
        ("ACCESSCONTROL-ACTIONS-TEST", "actions-test") => &["id", "url"],
        _ => &[],
    };
    for (index, record) in records.iter().enumerate() {
        for field in required {
            let ok = record
                .get(field)
                .is_some_and(|v| v.is_string() || v.is_number());
            if !ok {
                return Err(format!(
                    "record {index} of {module}.{master} has no \"{field}\""
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, body: &str) -> (String, Vec<u8>) {
        (path.to_string(), body.as_bytes().to_vec())
    }

    #[test]
    fn the_demo_data_loads() {
        let mdms = Mdms::from_files(&embedded_demo_files()).unwrap();
        assert!(mdms.is_known_tenant("pb"));
        assert!(mdms.is_known_tenant("pb.amritsar"));
        assert!(!mdms.is_known_tenant("pb.nowhere"));
        assert!(!mdms.is_known_tenant("xx"));
        assert!(
            mdms.master("pb.amritsar", "BillingService", "BusinessService")
                .is_some()
        );
    }

    #[test]
    fn city_overrides_state_without_merging() {
        let mdms = Mdms::from_files(&[
            file(
                "pb/m/a.json",
                r#"{"tenantId":"pb","moduleName":"m","a":[{"v":1},{"v":2}]}"#,
            ),
            file(
                "pb/x/m/a.json",
                r#"{"tenantId":"pb.x","moduleName":"m","a":[{"v":3}]}"#,
            ),
        ])
        .unwrap();
        assert_eq!(mdms.master("pb.x", "m", "a").unwrap().len(), 1);
        assert_eq!(mdms.master("pb.y", "m", "a").unwrap().len(), 2);
    }

    #[test]
    fn faults_name_the_file() {
        let err = Mdms::from_files(&[file(
            "pb/m/bad.json",
            r#"{"tenantId":"pb","moduleName":"m","a":{}}"#,
        )])
        .unwrap_err();
        assert_eq!(err.file, "pb/m/bad.json");
        assert!(err.fault.contains("must be a JSON array"), "{}", err.fault);
        let err = Mdms::from_files(&[file("pb/m/bad.json", "{not json")]).unwrap_err();
        assert!(err.fault.contains("not valid JSON"));
        let err = Mdms::from_files(&[file(
            "pb/common-masters/IdFormat.json",
            r#"{"tenantId":"pb","moduleName":"common-masters","IdFormat":[{"idname":"x"}]}"#,
        )])
        .unwrap_err();
        assert!(err.fault.contains("\"format\""), "{}", err.fault);
    }
}
