//! Tenants come from the state's `tenant.tenants` master.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    pub code: String,
    pub name: Option<String>,
    /// `city.code`, the value of idgen's `[CITY.CODE]` token.
    pub city_code: Option<String>,
    /// An IANA time zone name when the tenant record carries one; Asia/Kolkata otherwise.
    pub time_zone: Option<String>,
}

impl Tenant {
    pub(crate) fn from_record(record: &Value) -> Tenant {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        Tenant {
            code: text(record.get("code")).unwrap_or_default(),
            name: text(record.get("name")),
            city_code: text(record.pointer("/city/code")),
            time_zone: text(record.get("timeZone"))
                .or_else(|| text(record.pointer("/city/timeZone"))),
        }
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.time_zone
            .as_deref()
            .and_then(|name| name.parse().ok())
            .unwrap_or(kosh_platform::clock::DEFAULT_TZ)
    }
}
