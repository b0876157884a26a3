//! kosh's BBPS biller adapter: Bharat BillPay operating units fetch municipal bills and
//! post payments through it.
//!
//! Two layers live here:
//!
//! - **The protocol layer** ([`c14n`], [`codec`], [`codes`], [`dom`], [`sig`],
//!   [`xml`]): the NPCI BBPS XML messages a biller exchanges with the Bharat Bill Payment
//!   central unit (or a biller operating unit that forwards NPCI's messages), their
//!   validation, their XML signatures and the response codes; amounts are
//!   `kosh_platform::money::Paise`, written on the wire as integers of paise
//!   (`kosh_platform::money::wire`). No HTTP
//!   and no database: it turns bytes into checked, typed messages and back.
//! - **The adapter** ([`master`] the billers from MDMS, [`lookup`] customer parameters to
//!   bills, [`service`] fetch, validation, posting, status and reversal ([`reversal`]
//!   cancels the DIGIT payment), [`store`] the
//!   `bbps_txn` tables, [`complaint`], [`report`], [`reconcile`], and the routes: [`biller`]
//!   the JSON API and [`npci`] the XML profile, merged by [`api::router`]; [`callback`]
//!   delivers the XML profile's responses in NPCI's asynchronous exchange). A payment
//!   posted through BBPS becomes a DIGIT payment through `kosh_collection` in the same
//!   database transaction as its BBPS record, exactly once per transaction reference.
//!
//! The rest of this page is about the protocol layer.
//!
//! # Message flow
//!
//! BBPS is asynchronous between participants (NPCI's XML API between the central unit and
//! the operating units): every request is a signed XML POST to
//! `/bbps/<Message>/1.0/urn:referenceId:<refId>`, answered at once with an unsigned
//! [`xml::Ack`]; the business answer travels later as a separate signed POST to the peer's
//! `…/<Message>Response/…` endpoint, which the peer in turn acknowledges.
//!
//! ```text
//! central unit                                   kosh (biller)
//!   BillFetchRequest (signed)   ───────────────▶  decode_request → Ack (sync)
//!                               ◀───────────────  Ack
//!                                                 … look up the bill …
//!                               ◀───────────────  BillFetchResponse (signed), encode_response
//!   Ack                         ───────────────▶  decode_ack
//!
//!   BillPaymentRequest (signed) ───────────────▶  Ack, then post the payment (idempotent on
//!                               ◀───────────────  txnReferenceId), BillPaymentResponse
//!   TxnStatusRequest "402"      ───────────────▶  Ack, then TxnStatusResponse
//!   BillValidationRequest       ───────────────▶  Ack, then BillValidationResponse
//!   TxnStatusComplainRequest    ───────────────▶  Ack, then TxnStatusComplainResponse
//!   ReqDiagnostic (heartbeat)   ───────────────▶  ResDiagnostic in the HTTP response (sync)
//! ```
//!
//! The biller-side JSON API of kosh's generic profile (`/bbps/v1/`, `crate::biller`) is
//! synchronous: the same checks and codes apply, answered in the HTTP response. This crate
//! serves both — the typed messages, [`codes`] and the amounts are the same; only the XML
//! profile needs [`sig`] and the Ack.
//!
//! # What a future HTTP layer calls
//!
//! - On an inbound POST: [`codec::decode_request`] with the counterparty's keys from
//!   configuration ([`sig::VerifyingKey::from_pem_file`]). It verifies the signature,
//!   validates the signed content against the XSD and kosh's profile, and returns a
//!   [`codec::Request`]. Check [`codec::Request::ref_id`] against the URL's refId, answer
//!   [`xml::Ack::accepted`] (or [`xml::Ack::rejected`] with
//!   [`codec::InboundError::ack_errors`]) through [`codec::encode_ack`] — except for
//!   [`codec::Request::Diagnostic`], answered directly with a signed
//!   [`xml::ResDiagnostic`].
//! - Later, build the answer with [`xml::BillFetchResponse::for_request`],
//!   [`xml::BillPaymentResponse::for_request`] or [`xml::TxnStatusResponse::for_request`],
//!   a [`xml::Reason`] ([`xml::Reason::success`] with the approval reference, or
//!   [`xml::Reason::failure`] with a [`codes::ComplianceCode`] chosen through
//!   [`codes::BillerFault`]), amounts from [`Paise`]; then
//!   [`codec::encode_response`] with kosh's [`sig::SigningKey`], POST it to
//!   [`codec::Response::path`] on the peer, and read its Ack with [`codec::decode_ack`].
//! - Times for `ts` attributes: [`codec::timestamp`]; new ids: [`codec::new_ref_id`].
//!
//! That layer ([`npci`], [`callback`], [`service`], [`store`]) adds the routes, the
//! callback's retries until it is acknowledged (when `KOSH_BBPS_CALLBACK_URL` names the
//! unit's endpoint; else the signed response is the HTTP answer), idempotency on
//! `txnReferenceId`, and the mapping to DIGIT bills and payments; TLS and IP allow-lists
//! are the gateway's.
//!
//! # Decisions
//!
//! - **XSD validation is in Rust, checked against libxml2.** The real validators were
//!   weighed first: libxml2 through the `libxml` crate needs `libxml2-dev` and bindgen at
//!   build time and puts a C parser — unmaintained upstream since 2025 — in the request
//!   path; `xmloxide` 0.5, a young pure-Rust rewrite of libxml2, has XSD and C14N, but its
//!   subtree C14N drops inherited namespace declarations (wrong for `SignedInfo`), which
//!   does not inspire trust in the rest for payment messages. Either would also need the
//!   NPCI XSD files shipped with kosh. So the content models of the nine messages are
//!   written out from the XSDs in [`xml::schema`] (every element, order, occurrence,
//!   required attribute and enumeration), and the typed serde models follow them. The tests
//!   cross-check the validator against `xmllint --schema` on the real XSDs (NPCI's, as the
//!   repository `Dhru227/bbps-biller-integrator` ships them in `src/main/resources/xsd`):
//!   every sample, every message kosh writes, and a set of broken documents must get the
//!   same verdict from both. Those tests run when `xmllint` and the XSD folder are present
//!   (`KOSH_BBPS_XSD_DIR`, default `shared/bbps/xsd` beside the checkout) and say so when
//!   skipped. Beyond the XSDs, [`xml::profile`] checks the values kosh relies on. The XSDs
//!   have no place for the enveloped `Signature`, so a signed message is validated after
//!   its signature is verified and removed — which is also the content kosh then reads.
//! - **Canonicalization is inclusive C14N 1.0**, what BBPS signs with, implemented in
//!   [`c14n`] for the XML subset [`dom`] accepts (UTF-8, no DTD, predefined entities
//!   only). It is tested against libxml2's through `xmlsec1`: a fixture signed by `xmlsec1`
//!   verifies here, and signatures made here verify with `xmlsec1`.
//! - **RSA-SHA256 signatures** use the RustCrypto `rsa` crate (0.9); keys and X.509
//!   certificates are read from PEM with its `pkcs1`/`pkcs8` support and `x509-cert`.
//!   `rsa` 0.9's private-key operation is not constant-time (RUSTSEC-2023-0071, "Marvin",
//!   exploited as a decryption oracle — kosh never decrypts); signing is blinded
//!   (`sign_with_rng`) as a further measure.
//! - **XML** is read with `quick-xml` (events for the tree, serde for the models).
//!
//! No system package is needed to build or run this crate. The cross-check tests use the
//! Debian packages `xmlsec1` and `libxml2-utils` (`xmllint`) when installed.

pub mod api;
pub mod biller;
pub mod c14n;
pub mod callback;
pub mod codec;
pub mod codes;
pub mod complaint;
pub mod config;
pub mod dom;
pub mod lookup;
pub mod master;
pub mod npci;
pub mod reconcile;
pub mod report;
pub mod reversal;
pub mod service;
pub mod sig;
pub mod store;
pub mod visibility;
pub mod xml;

pub use codes::{BillerFault, ComplianceCode, ResponseCode};
pub use config::{Bbps, BbpsSettings};
pub use kosh_platform::money::Paise;
