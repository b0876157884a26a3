//! egov-user's HTTP API: `/user/oauth/token`, `/user/users/_createnovalidate`,
//! `/user/users/_updatenovalidate`, `/user/_search`, `/user/v1/_search`, `/user/_details`,
//! `/user/_logout` and `/user/password/_update`, in DIGIT's request and response shapes.
//!
//! The handlers only: what a request may carry and who may do what is in [`crate::rules`],
//! and every read and write of identity's tables is in [`crate::users`] and
//! [`crate::tokens`].

mod oauth;
mod password;
mod search;
mod session;
mod users;

use std::sync::Arc;

use axum::Json;
use axum::extract::FromRef;
use kosh_mdms::Mdms;
use kosh_platform::{Clock, Db, RequestInfo};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::IdentityConfig;
use crate::users::User;

pub use password::PasswordUpdate;
pub use search::UserSearchCriteria;
pub use users::UserRequestBody;

pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Db: FromRef<S>,
    Arc<Mdms>: FromRef<S>,
    Clock: FromRef<S>,
    Arc<IdentityConfig>: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(oauth::oauth_token))
        .routes(routes!(users::create_novalidate))
        .routes(routes!(users::update_novalidate))
        .routes(routes!(search::search))
        .routes(routes!(search::search_v1))
        .routes(routes!(session::details))
        .routes(routes!(session::logout))
        .routes(routes!(password::update_password))
}

fn respond_user(request_info: Option<&RequestInfo>, user: &User) -> Json<Value> {
    Json(json!({
        "responseInfo": response_info(request_info),
        "user": [user.request_json()],
    }))
}

/// egov-user answers `status: "200"` and copies nothing else.
fn response_info(_request_info: Option<&RequestInfo>) -> Value {
    json!({"apiId": null, "ver": null, "ts": null, "resMsgId": null, "msgId": null, "status": "200"})
}
