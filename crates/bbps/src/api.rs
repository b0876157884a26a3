//! The BBPS routes: the JSON biller API ([`crate::biller`]) and the NPCI XML profile
//! ([`crate::npci`]), all under `/bbps/v1/`.

use std::sync::Arc;

use axum::extract::FromRef;
use kosh_mdms::Mdms;
use kosh_platform::{Clock, Db};
use utoipa_axum::router::OpenApiRouter;

use crate::config::Bbps;

pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Db: FromRef<S>,
    Arc<Mdms>: FromRef<S>,
    Clock: FromRef<S>,
    Arc<Bbps>: FromRef<S>,
{
    OpenApiRouter::new()
        .merge(crate::biller::router())
        .merge(crate::npci::router())
}
