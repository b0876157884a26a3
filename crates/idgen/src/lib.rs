//! Id generation (egov-idgen). A format such as `PB_PG_[cy:yyyy_MM_dd]_[SEQ_EG_PG_TXN]_[d{2}]`
//! becomes an id by replacing each `[token]`. The numbers behind `[SEQ_x]` come from counter
//! rows advanced inside the caller's database transaction, so ids are unique and consecutive,
//! and a rolled-back request gives its numbers back. Billing and collection call
//! [`generate`] for bill and receipt numbers; `/egov-idgen/id/_generate` calls it over HTTP.

pub mod api;
pub mod counter;
mod format;

pub use format::{FormatError, Token, tokens};

use kosh_mdms::Mdms;
use kosh_platform::{Clock, DigitError};
use serde_json::Value;
use sqlx::AnyConnection;

/// What one id request asks for.
#[derive(Debug, Clone)]
pub struct IdRequest<'a> {
    pub id_name: &'a str,
    pub tenant_id: &'a str,
    /// The caller's format, used only when MDMS has none for `id_name`.
    pub format: Option<&'a str>,
    pub count: u32,
}

/// The most ids one request may ask for.
pub const MAX_COUNT: u32 = 10_000;

/// The format MDMS `common-masters.IdFormat` has for `id_name` at `tenant_id` (city first,
/// then state).
pub fn mdms_format<'m>(mdms: &'m Mdms, tenant_id: &str, id_name: &str) -> Option<&'m str> {
    mdms.master(tenant_id, "common-masters", "IdFormat")?
        .iter()
        .find(|f| f.get("idname").and_then(Value::as_str) == Some(id_name))
        .and_then(|f| f.get("format").and_then(Value::as_str))
}

/// The format `request` uses: MDMS's for its id name, else the caller's.
fn format_of<'a>(mdms: &'a Mdms, request: &IdRequest<'a>) -> Result<&'a str, DigitError> {
    mdms_format(mdms, request.tenant_id, request.id_name)
        .or(request.format.filter(|f| !f.trim().is_empty()))
        .ok_or_else(|| {
            DigitError::new(
                "ID_NOT_FOUND",
                "No Format is available in the MDMS for the given name and tenant",
            )
        })
}

/// The counter rows (state, sequence name) that [`generate`] advances for `request`, in the
/// order it advances them. A caller that generates several kinds of id in one transaction
/// takes them in the order of these rows, so that two such transactions never lock two
/// counter rows in opposite orders (a deadlock on PostgreSQL).
pub fn counters(mdms: &Mdms, request: &IdRequest<'_>) -> Result<Vec<(String, String)>, DigitError> {
    let format = format_of(mdms, request)?;
    let state = kosh_platform::tenant::state_of(request.tenant_id);
    Ok(
        format::tokens(&format::replace_tenant_tokens(format, request.tenant_id))
            .map_err(|e| DigitError::new("INVALID_ID_FORMAT", e.0))?
            .into_iter()
            .filter_map(|token| match token {
                Token::Seq(name) => Some((state.to_string(), name)),
                _ => None,
            })
            .collect(),
    )
}

/// Generates `request.count` ids inside the caller's transaction `conn`.
pub async fn generate(
    conn: &mut AnyConnection,
    mdms: &Mdms,
    clock: &Clock,
    request: &IdRequest<'_>,
) -> Result<Vec<String>, DigitError> {
    let format = format_of(mdms, request)?;
    let tenant = mdms.tenant(request.tenant_id);
    let tz = tenant
        .as_ref()
        .map(|t| t.tz())
        .unwrap_or(kosh_platform::clock::DEFAULT_TZ);
    let now = clock.now_in(tz);
    let parts = format::tokens(&format::replace_tenant_tokens(format, request.tenant_id))
        .map_err(|e| DigitError::new("INVALID_ID_FORMAT", e.0))?;

    let count = request.count as usize;
    let mut ids = vec![String::new(); count];
    let state = kosh_platform::tenant::state_of(request.tenant_id);
    for part in &parts {
        match part {
            Token::Literal(text) => ids.iter_mut().for_each(|id| id.push_str(text)),
            Token::Seq(name) => {
                let last = counter::advance(conn, state, name, count as i64).await?;
                let first = last - count as i64 + 1;
                for (i, id) in ids.iter_mut().enumerate() {
                    id.push_str(&format!("{:06}", first + i as i64));
                }
            }
            Token::FinancialYear(pattern) => {
                let text = format::financial_year(&now, pattern);
                ids.iter_mut().for_each(|id| id.push_str(&text));
            }
            Token::CurrentDate(pattern) => {
                let text = format::current_date(&now, pattern);
                ids.iter_mut().for_each(|id| id.push_str(&text));
            }
            Token::CityCode => {
                let code = tenant
                    .as_ref()
                    .and_then(|t| t.city_code.clone())
                    .ok_or_else(|| {
                        DigitError::new(
                            "CITY_CODE_NOT_FOUND",
                            format!("City code not found for the tenant {}", request.tenant_id),
                        )
                    })?;
                ids.iter_mut().for_each(|id| id.push_str(&code));
            }
            Token::Random(digits) => {
                for id in ids.iter_mut() {
                    id.push_str(&format::random_digits(*digits));
                }
            }
        }
    }
    Ok(ids)
}
