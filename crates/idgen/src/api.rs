//! `POST /egov-idgen/id/_generate`: `{"RequestInfo", "idRequests": [{idName, tenantId,
//! format, count}]}` → `{"responseInfo", "idResponses": [{"id"}]}`. All ids of one request
//! are generated in one transaction.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, State};
use kosh_mdms::Mdms;
use kosh_platform::{Clock, Db, DigitError, DigitJson, ErrorItem, RequestInfo, ResponseInfo};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::{IdRequest, MAX_COUNT, generate};

#[derive(Debug, Deserialize, ToSchema)]
pub struct IdGenerationRequest {
    #[serde(rename = "RequestInfo")]
    pub request_info: Option<RequestInfo>,
    #[serde(rename = "idRequests")]
    pub id_requests: Option<Vec<IdRequestBody>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdRequestBody {
    pub id_name: Option<String>,
    pub tenant_id: Option<String>,
    pub format: Option<String>,
    pub count: Option<i64>,
}

pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Mdms>: FromRef<S>,
    Clock: FromRef<S>,
    Db: FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(generate_ids))
}

fn not_null(path: &str) -> ErrorItem {
    ErrorItem::new(format!("NotNull.{path}"), "must not be null")
}

/// Generate ids from DIGIT id formats.
#[utoipa::path(
    post,
    path = "/egov-idgen/id/_generate",
    tag = "egov-idgen",
    request_body = IdGenerationRequest,
    responses((status = 200, description = "responseInfo and idResponses [{id}]"))
)]
async fn generate_ids(
    State(mdms): State<Arc<Mdms>>,
    State(clock): State<Clock>,
    State(db): State<Db>,
    DigitJson(req): DigitJson<IdGenerationRequest>,
) -> Result<Json<Value>, DigitError> {
    let failed = |e: DigitError| {
        e.with_response_info(json!(ResponseInfo::from_request(
            req.request_info.as_ref(),
            "FAILED",
            clock.now_ms()
        )))
    };
    generate_all(&mdms, &clock, &db, &req).await.map_err(failed).map(|ids| {
        Json(json!({
            "responseInfo": ResponseInfo::from_request(req.request_info.as_ref(), "SUCCESSFUL", clock.now_ms()),
            "idResponses": ids.into_iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
        }))
    })
}

async fn generate_all(
    mdms: &Mdms,
    clock: &Clock,
    db: &Db,
    req: &IdGenerationRequest,
) -> Result<Vec<String>, DigitError> {
    let requests = match &req.id_requests {
        Some(list) if !list.is_empty() => list,
        _ => return Err(DigitError::item(not_null("idGenerationRequest.idRequests"))),
    };
    let mut errors = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        if r.id_name.as_deref().is_none_or(|s| s.trim().is_empty()) {
            errors.push(not_null(&format!(
                "idGenerationRequest.idRequests[{i}].idName"
            )));
        }
        if r.tenant_id.as_deref().is_none_or(|s| s.trim().is_empty()) {
            errors.push(not_null(&format!(
                "idGenerationRequest.idRequests[{i}].tenantId"
            )));
        }
        if let Some(count) = r.count
            && !(1..=i64::from(MAX_COUNT)).contains(&count)
        {
            errors.push(ErrorItem::new(
                "INVALID_COUNT",
                format!("count must be between 1 and {MAX_COUNT}"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(DigitError::many(errors));
    }
    for r in requests {
        let tenant_id = r.tenant_id.as_deref().unwrap_or_default().trim();
        if !mdms.is_known_tenant(tenant_id) {
            return Err(DigitError::item(
                ErrorItem::new("INVALID_TENANT_ID", "Invalid Tenant Id")
                    .with_params(vec![tenant_id.to_string()]),
            ));
        }
    }

    kosh_platform::write_tx!(db, |conn| {
        let mut ids = Vec::new();
        for r in requests {
            let request = IdRequest {
                id_name: r.id_name.as_deref().unwrap_or_default().trim(),
                tenant_id: r.tenant_id.as_deref().unwrap_or_default().trim(),
                format: r.format.as_deref(),
                count: r.count.unwrap_or(1) as u32,
            };
            ids.extend(generate(conn, mdms, clock, &request).await?);
        }
        Ok::<_, DigitError>(ids)
    })
}
