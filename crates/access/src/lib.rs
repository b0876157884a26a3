//! Access control (egov-accesscontrol). DIGIT's gateway asks, for every authenticated
//! request, whether the user's roles may call the request's url at the request's tenant; the
//! answer comes from two MDMS masters, `ACCESSCONTROL-ROLEACTIONS.roleactions` (role code →
//! action id) and `ACCESSCONTROL-ACTIONS-TEST.actions-test` (action id → url).
//!
//! DIGIT reads those masters over HTTP and caches them for 15 minutes. kosh's master data
//! never changes while it runs, so [`AccessIndex::build`] turns them into hash sets and
//! compiled url templates once at start-up, and [`AccessIndex::is_authorized`] is a few hash
//! look-ups per request. [`request_tenant_ids`] collects the tenants a request acts on, the
//! way the gateway's RbacFilter does; `POST /access/v1/actions/_authorize` ([`api`]) answers
//! the same question over HTTP, and its read routes (`roles/_search`, `actions/_get`) answer
//! from the same masters ([`reads`]).

pub mod api;
mod index;
pub mod reads;
mod request;
mod template;

pub use index::{AccessIndex, DataNotAvailable};
pub use request::request_tenant_ids;
