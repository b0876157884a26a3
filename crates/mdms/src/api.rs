//! `POST /egov-mdms-service/v1/_search` and `/v1/_get`, answered as DIGIT's MDMS v1 does.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, State};
use kosh_platform::{DigitError, DigitJson, DigitQuery, ErrorItem, RequestInfo};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::Mdms;

#[derive(Debug, Deserialize, ToSchema)]
pub struct MdmsCriteriaReq {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
    #[serde(rename = "MdmsCriteria")]
    pub mdms_criteria: Option<MdmsCriteria>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MdmsCriteria {
    pub tenant_id: Option<String>,
    pub module_details: Option<Vec<ModuleDetail>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModuleDetail {
    pub module_name: Option<String>,
    pub master_details: Option<Vec<MasterDetail>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MasterDetail {
    pub name: Option<String>,
    pub filter: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct GetParams {
    pub module_name: Option<String>,
    pub master_name: Option<String>,
    pub tenant_id: Option<String>,
    pub filter: Option<String>,
}

pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Mdms>: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(get))
}

/// One module of a search: its name and the (master, filter) pairs asked for.
pub struct ModuleQuery<'a> {
    pub module: &'a str,
    pub masters: Vec<(&'a str, Option<&'a str>)>,
}

impl Mdms {
    /// DIGIT's search: every asked module appears in the answer (empty when nothing
    /// matched); a master appears when some tenant level defines it, filtered when a filter
    /// is given.
    pub fn search(
        &self,
        tenant_id: &str,
        modules: &[ModuleQuery<'_>],
    ) -> Result<Value, DigitError> {
        let mut out = Map::new();
        for query in modules {
            let Value::Object(module_out) = out
                .entry(query.module.to_string())
                .or_insert_with(|| json!({}))
            else {
                continue;
            };
            for (master, filter) in &query.masters {
                let Some(records) = self.master(tenant_id, query.module, master) else {
                    continue;
                };
                let records = match filter.map(str::trim).filter(|f| !f.is_empty()) {
                    Some(filter) => crate::apply_filter(records, filter).map_err(|e| {
                        DigitError::item(
                            ErrorItem::new("INVALID_FILTER", "Invalid JsonPath filter")
                                .with_description(e.0),
                        )
                    })?,
                    None => records.to_vec(),
                };
                module_out.insert(master.to_string(), Value::Array(records));
            }
        }
        Ok(Value::Object(out))
    }

    fn check_tenant(&self, tenant_id: &str, field: &str) -> Result<(), DigitError> {
        if self.is_known_tenant(tenant_id) {
            Ok(())
        } else {
            Err(DigitError::item(
                ErrorItem::new(format!("Invalid_tenantId.{field}"), "Invalid Tenant Id")
                    .with_params(vec![tenant_id.into()]),
            ))
        }
    }
}

fn not_null(path: &str) -> ErrorItem {
    ErrorItem::new(format!("NotNull.{path}"), "must not be null")
}

fn blank(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(|v| v.trim().is_empty())
}

/// DIGIT's MDMS answers with `"ResponseInfo": null`.
fn respond(res: Value) -> Json<Value> {
    Json(json!({ "ResponseInfo": null, "MdmsRes": res }))
}

/// Search master data.
#[utoipa::path(
    post,
    path = "/egov-mdms-service/v1/_search",
    tag = "egov-mdms-service",
    request_body = MdmsCriteriaReq,
    responses((status = 200, description = "ResponseInfo and MdmsRes {module: {master: [records]}}"))
)]
async fn search(
    State(mdms): State<Arc<Mdms>>,
    DigitJson(req): DigitJson<MdmsCriteriaReq>,
) -> Result<Json<Value>, DigitError> {
    let Some(criteria) = &req.mdms_criteria else {
        return Err(DigitError::item(not_null("mdmsCriteriaReq.mdmsCriteria")));
    };
    let mut errors = Vec::new();
    if blank(&criteria.tenant_id) {
        errors.push(not_null("mdmsCriteriaReq.mdmsCriteria.tenantId"));
    }
    match &criteria.module_details {
        None => errors.push(not_null("mdmsCriteriaReq.mdmsCriteria.moduleDetails")),
        Some(modules) => {
            for (i, module) in modules.iter().enumerate() {
                if blank(&module.module_name) {
                    errors.push(not_null(&format!(
                        "mdmsCriteriaReq.mdmsCriteria.moduleDetails[{i}].moduleName"
                    )));
                }
                match &module.master_details {
                    None => errors.push(not_null(&format!(
                        "mdmsCriteriaReq.mdmsCriteria.moduleDetails[{i}].masterDetails"
                    ))),
                    Some(masters) => {
                        for (j, master) in masters.iter().enumerate() {
                            if blank(&master.name) {
                                errors.push(not_null(&format!(
                                    "mdmsCriteriaReq.mdmsCriteria.moduleDetails[{i}].masterDetails[{j}].name"
                                )));
                            }
                        }
                    }
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(DigitError::many(errors));
    }
    let tenant_id = criteria.tenant_id.as_deref().unwrap_or_default().trim();
    mdms.check_tenant(tenant_id, "MdmsCriteria.tenantId")?;
    let modules: Vec<ModuleQuery<'_>> = criteria
        .module_details
        .iter()
        .flatten()
        .map(|m| ModuleQuery {
            module: m.module_name.as_deref().unwrap_or_default(),
            masters: m
                .master_details
                .iter()
                .flatten()
                .map(|d| (d.name.as_deref().unwrap_or_default(), d.filter.as_deref()))
                .collect(),
        })
        .collect();
    let res = mdms.search(tenant_id, &modules)?;
    Ok(respond(res))
}

/// Spring's MissingServletRequestParameterException, which DIGIT renders with an empty code.
fn missing_param(name: &str) -> ErrorItem {
    ErrorItem::new(
        "",
        format!("Required String parameter '{name}' is not present"),
    )
    .with_params(vec![name.to_string()])
}

/// Read one master by query parameters.
#[utoipa::path(
    post,
    path = "/egov-mdms-service/v1/_get",
    tag = "egov-mdms-service",
    params(GetParams),
    request_body(content = RequestInfo, description = "RequestInfo, bare (as DIGIT reads it) or wrapped"),
    responses((status = 200, description = "ResponseInfo and MdmsRes {module: {master: [records]}}"))
)]
async fn get(
    State(mdms): State<Arc<Mdms>>,
    DigitQuery(params): DigitQuery<GetParams>,
    DigitJson(_body): DigitJson<Value>,
) -> Result<Json<Value>, DigitError> {
    let mut errors = Vec::new();
    for (name, value) in [
        ("moduleName", &params.module_name),
        ("masterName", &params.master_name),
        ("tenantId", &params.tenant_id),
    ] {
        if blank(value) {
            errors.push(missing_param(name));
        }
    }
    if !errors.is_empty() {
        return Err(DigitError::many(errors));
    }
    let tenant_id = params.tenant_id.as_deref().unwrap_or_default().trim();
    mdms.check_tenant(tenant_id, "tenantId")?;
    // DIGIT reads moduleName and masterName as single names (no comma lists).
    let modules = [ModuleQuery {
        module: params.module_name.as_deref().unwrap_or_default().trim(),
        masters: vec![(
            params.master_name.as_deref().unwrap_or_default().trim(),
            params.filter.as_deref(),
        )],
    }];
    let res = mdms.search(tenant_id, &modules)?;
    Ok(respond(res))
}
