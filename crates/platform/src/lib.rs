//! What every kosh service shares: DIGIT's request/response envelope and error body,
//! the case-insensitive JSON binding DIGIT's Java services use, the clock, the database
//! (SQLite or PostgreSQL through one body of SQL), money and tenants.

pub mod audit_chain;
pub mod auth;
pub mod bean;
pub mod changes;
pub mod ci_json;
pub mod clock;
pub mod db;
pub mod digest;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod money;
pub mod outbox;
pub mod pii;
pub mod sql;
pub mod tenant;

pub use auth::AuthUser;
pub use clock::Clock;
pub use db::Db;
pub use envelope::{RequestInfo, ResponseInfo, Role, UserInfo};
pub use error::{DigitError, ErrorItem};
pub use extract::{DigitJson, DigitQuery};
