//! Billing's routes (`/billing-service/...`): demands, bills and the masters.

use std::sync::Arc;

use axum::extract::FromRef;
use kosh_mdms::Mdms;
use kosh_platform::{Clock, Db};
use utoipa_axum::router::OpenApiRouter;

pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Mdms>: FromRef<S>,
    Clock: FromRef<S>,
    Db: FromRef<S>,
    Arc<crate::bill::cache::BillCache>: FromRef<S>,
{
    OpenApiRouter::new()
        .merge(crate::demand::api::router())
        .merge(crate::bill::api::router())
        .merge(crate::masters::router())
}
