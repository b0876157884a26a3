//! MDMS: a master data file as `Mdms::from_files` reads it at start-up (a state's folder is
//! outside input: an operator's files), and the JSONPath filters clients send with
//! `_search` (`[?(@.code=="PT")]`, `$.*.code`). A bad file must be a `LoadError` naming the
//! file, a bad filter a `FilterError`; never a panic or a stack overflow.
#![allow(dead_code)]

use kosh_mdms::{Mdms, apply_filter};
use serde_json::{Value, json};

/// One master data file, alone and next to the state file that makes a folder loadable.
pub fn load(data: &[u8]) {
    let state = (
        "pb/tenant/tenants.json".to_string(),
        br#"{"tenantId":"pb","moduleName":"tenant","tenants":[{"code":"pb"}]}"#.to_vec(),
    );
    let file = ("pb/Fuzz/master.json".to_string(), data.to_vec());
    for files in [vec![file.clone()], vec![state, file]] {
        match Mdms::from_files(&files) {
            Ok(mdms) => {
                let _ = mdms.states();
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
}

/// The first line is the filter; the rest, when it is a JSON array, the records (otherwise a
/// few records shaped like DIGIT's masters).
pub fn filter(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (filter, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let records = match serde_json::from_str::<Value>(rest) {
        Ok(Value::Array(records)) => records,
        _ => vec![
            json!({"code": "PT", "isActive": true, "taxHead": [{"code": "PT_TAX", "order": 1}]}),
            json!({"code": "WS", "isActive": false, "fromFY": "2024-25", "amount": 12.5}),
            json!({"code": "TL", "nested": {"deep": [1, 2, {"x": null}]}}),
        ],
    };
    match apply_filter(&records, filter) {
        // A union may select a node more than once (`$[0,0]`), so only the error is checked.
        Ok(_) => {}
        Err(e) => assert!(!e.0.is_empty()),
    }
}
