//! The NPCI XML profile: the same operations as the JSON API, as BBPS's own signed XML
//! messages, at `/bbps/v1/npci/<Message>/1.0/urn:referenceId:<refId>` (NPCI's path
//! convention under kosh's `/bbps/v1/npci` prefix).
//!
//! | message | answer |
//! |---|---|
//! | `BillFetchRequest` | `BillFetchResponse` (bills, or a BFR code) |
//! | `BillPaymentRequest`, `FORWARD TYPE REQUEST` | `BillPaymentResponse` (approval reference = receipt number, or a BPR code) |
//! | `BillPaymentRequest`, `REVERSAL TYPE REQUEST` | `BillPaymentResponse`, `REVERSAL TYPE RESPONSE` |
//! | `TxnStatusRequest` ("402") | `TxnStatusResponse`; an `Ack` refusal (404) when kosh never received the posting |
//! | `BillValidationRequest` | `BillValidationResponse` (the account and its bill, or a BVR code; with an `Amount`, whether it may be paid — the JSON profile's validation) |
//! | `TxnStatusComplainRequest` ("401") | `TxnStatusComplainResponse`: a complaint registered (`complaintType` + `disposition`) or tracked (`complaintId`, or `txnReferenceId`), with the transaction concerned |
//! | `ReqDiagnostic` (at `ReqHbt`) | `ResDiagnostic` |
//!
//! Every request must carry an enveloped XML signature (RSA-SHA256) by one of the
//! operating units' keys in `KOSH_BBPS_PEER_CERTS`; it is verified, then checked against
//! the BBPS XSD and kosh's profile ([`crate::codec::decode_request`]). kosh signs every
//! answer with `KOSH_BBPS_SIGNING_KEY`. A request kosh cannot take — unsigned, tampered,
//! invalid, whose `Head@refId` differs from the URL's, or (but for a payment) for an
//! unknown biller — is answered with an unsigned `Ack` whose `RspCd` is `Failure` and whose
//! `errorMessages` say why (HTTP 400). A payment that passes the schema and the profile is
//! always answered with a signed `BillPaymentResponse` and recorded, as in the JSON
//! profile: an unknown biller BPR002, a biller that is off BPR009, amounts written well
//! that cannot be paid (above kosh's ceilings, not whole rupees, bill shares whose sum
//! cannot be computed) BPR011; a repeat or a `TxnStatusRequest` answers the same.
//!
//! Without `KOSH_BBPS_CALLBACK_URL`, kosh answers in the HTTP response itself: the business
//! answer (signed) is the body of the reply to the request. With it, kosh follows NPCI's
//! asynchronous exchange ([`crate::callback`]): an `Ack` in the HTTP response, then the
//! same signed answer POSTed to the unit's `…/<Message>Response/1.0/urn:referenceId:<refId>`,
//! retried until the unit acknowledges it. Refusals are `Ack`s at once either way, and
//! the heartbeat is always answered in the HTTP response.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRef, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use kosh_mdms::Mdms;
use kosh_platform::{AuthUser, Clock, Db, DigitError};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use kosh_platform::money::{MoneyError, Paise, wire};

use crate::biller::wire::amount_refusal;
use crate::biller::{code_of, require_unit};
use crate::codec::{self, Request, Response as Answer};
use crate::codes::{ComplianceCode, ResponseCode, Stage};
use crate::complaint::{self, NewComplaint};
use crate::config::{Bbps, XML_OFF, XmlKeys};
use crate::lookup::{Param, Presented, Refusal, ist_date};
use crate::service::{self, BillAmount, Ctx, Posting, Reversal};
use crate::store::{TxnRow, TxnStatus};
use crate::xml::{
    self, Ack, AdditionalInfo, BillDetails, BillFetchRequest, BillFetchResponse,
    BillPaymentRequest, BillPaymentResponse, BillValidationRequest, BillValidationResponse, Biller,
    BillerResponse, CustomerParams, DeviceTagName, ErrorMessage, Head, Reason, ResDiagnostic, Tag,
    TxnDetail, TxnStatusComplainRequest, TxnStatusComplainResp, TxnStatusComplainResponse,
    TxnStatusRequest, TxnStatusResponse,
};

pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Db: FromRef<S>,
    Arc<Mdms>: FromRef<S>,
    Clock: FromRef<S>,
    Arc<Bbps>: FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(npci))
}

/// The URL's `urn:referenceId:` prefix.
const URN: &str = "urn:referenceId:";

/// The message segments of the URL and their `Ack@api`.
fn api_of(message: &str) -> Option<&'static str> {
    Some(match message {
        "BillFetchRequest" => xml::api::FETCH_REQUEST,
        "BillPaymentRequest" => xml::api::PAYMENT_REQUEST,
        "TxnStatusRequest" => xml::api::TXN_STATUS_REQUEST,
        "BillValidationRequest" => xml::api::VALIDATION_REQUEST,
        "TxnStatusComplainRequest" => xml::api::COMPLAINT_REQUEST,
        "ReqHbt" => "REQ_HBT",
        _ => return None,
    })
}

fn xml_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// An unsigned Ack refusing the request.
fn refuse(
    status: StatusCode,
    api: &str,
    ref_id: &str,
    msg_id: Option<&str>,
    now: i64,
    errors: Vec<ErrorMessage>,
) -> Response {
    let ref_id = if ref_id.is_empty() { "-" } else { ref_id };
    let ack = Ack::rejected(api, ref_id, msg_id, &codec::timestamp(now), errors);
    match codec::encode_ack(&ack) {
        Ok(body) => xml_response(status, body),
        Err(e) => {
            tracing::error!(error = %e, "cannot write an Ack");
            DigitError::internal("bbps-ack").into_response()
        }
    }
}

fn error(code: &str, detail: impl Into<String>) -> Vec<ErrorMessage> {
    vec![ErrorMessage {
        error_cd: code.into(),
        error_dtl: detail.into(),
    }]
}

/// One NPCI BBPS request (signed XML), answered with kosh's signed response.
#[utoipa::path(post, path = "/bbps/v1/npci/{message}/1.0/{reference}", tag = "bbps",
    params(("message" = String, Path, description = "BillFetchRequest, BillPaymentRequest, BillValidationRequest, TxnStatusRequest, TxnStatusComplainRequest or ReqHbt"),
           ("reference" = String, Path, description = "urn:referenceId:<Head refId>")),
    request_body(content = String, content_type = "application/xml", description = "the signed NPCI message"),
    responses((status = 200, description = "the signed response message", content_type = "application/xml"),
              (status = 400, description = "an Ack with RspCd Failure"),
              (status = 503, description = "the XML profile is off")))]
#[allow(clippy::too_many_arguments)]
async fn npci(
    State(db): State<Db>,
    State(mdms): State<Arc<Mdms>>,
    State(clock): State<Clock>,
    State(bbps): State<Arc<Bbps>>,
    user: AuthUser,
    Path((message, reference)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let now = clock.now_ms();
    let Some(api) = api_of(&message) else {
        return DigitError::not_found_route(&format!("/bbps/v1/npci/{message}/1.0/{reference}"))
            .with_status(StatusCode::NOT_FOUND)
            .into_response();
    };
    let url_ref = reference.strip_prefix(URN).unwrap_or_default().to_string();
    if let Err(e) = require_unit(&user) {
        return e.into_response();
    }
    let Some(keys) = bbps.xml.clone() else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            api,
            &url_ref,
            None,
            now,
            error("XML_PROFILE_OFF", XML_OFF),
        );
    };
    if url_ref.is_empty()
        || url_ref.len() > 35
        || !url_ref.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return refuse(
            StatusCode::BAD_REQUEST,
            api,
            &url_ref,
            None,
            now,
            error(
                "INVALID_URL",
                format!("the URL must end in {URN}<refId> (1-35 letters or digits)"),
            ),
        );
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            api,
            &url_ref,
            None,
            now,
            error("MALFORMED_XML", "the body is not UTF-8"),
        );
    };
    let request = match codec::decode_request(text, &keys.peers) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(user = %kosh_platform::pii::mask::log_name(&user.user_name), error = %e, "BBPS XML request refused");
            return refuse(
                StatusCode::BAD_REQUEST,
                api,
                &url_ref,
                None,
                now,
                e.ack_errors(),
            );
        }
    };
    let expected = if message == "ReqHbt" {
        "ReqDiagnostic"
    } else {
        message.as_str()
    };
    if request.root() != expected || request.ref_id() != url_ref {
        return refuse(
            StatusCode::BAD_REQUEST,
            api,
            &url_ref,
            request.msg_id(),
            now,
            error(
                "URL_MISMATCH",
                format!(
                    "a {} with refId {} was posted to {message}/{reference}",
                    request.root(),
                    request.ref_id()
                ),
            ),
        );
    }
    let env = Env {
        db,
        mdms,
        clock,
        bbps,
        user,
        keys,
        api,
        now,
    };
    match env.answer(&request).await {
        Ok(r) => match &env.bbps.callback {
            // NPCI's asynchronous exchange: the signed answer goes to the unit by a POST of
            // its own, the request gets an Ack now (crate::callback).
            Some(callback)
                if r.status() == StatusCode::OK && !matches!(request, Request::Diagnostic(_)) =>
            {
                let body = match axum::body::to_bytes(r.into_body(), usize::MAX).await {
                    Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read kosh's own BBPS response");
                        return DigitError::internal("bbps-callback").into_response();
                    }
                };
                let response_root = request.root().replace("Request", "Response");
                callback.deliver(callback.url(&response_root, request.ref_id()), body);
                let ack = Ack::accepted(
                    api,
                    request.ref_id(),
                    request.msg_id(),
                    &codec::timestamp(now),
                );
                match codec::encode_ack(&ack) {
                    Ok(body) => xml_response(StatusCode::OK, body),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot write an Ack");
                        DigitError::internal("bbps-ack").into_response()
                    }
                }
            }
            _ => r,
        },
        Err(e) if e.status.is_server_error() => {
            // kosh or its database cannot answer now: the retriable code of the exchange.
            env.unavailable(&request, &e)
        }
        Err(e) => {
            let detail = e
                .errors
                .first()
                .map(|i| format!("{}: {}", i.code, i.message))
                .unwrap_or_else(|| e.to_string());
            refuse(
                StatusCode::BAD_REQUEST,
                api,
                request.ref_id(),
                request.msg_id(),
                now,
                error(e.first_code().unwrap_or("REFUSED"), detail),
            )
        }
    }
}

struct Env {
    db: Db,
    mdms: Arc<Mdms>,
    clock: Clock,
    bbps: Arc<Bbps>,
    user: AuthUser,
    keys: XmlKeys,
    api: &'static str,
    now: i64,
}

fn params_of(details: &BillDetails) -> Vec<Param> {
    details
        .customer_params
        .tags
        .iter()
        .map(|t| Param {
            name: t.name.clone(),
            value: t.value.clone(),
        })
        .collect()
}

fn presented_response(p: &Presented) -> BillerResponse {
    BillerResponse {
        customer_name: p.customer_name.clone(),
        bill_date: Some(ist_date(p.bill_date)),
        bill_number: p.bill_number.clone(),
        bill_period: Some(p.bill_period().into()),
        bill_expiry: p.expiry.map(ist_date),
        amount_multiple: Some("100".into()),
        min_amount: Some(wire::paise_text(p.min_amount)),
        max_amount: p.max_amount.map(wire::paise_text),
        ..BillerResponse::new(p.amount.max(Paise::ZERO))
    }
}

fn paid_responses(t: &TxnRow) -> Vec<BillerResponse> {
    t.bills
        .iter()
        .map(|b| BillerResponse {
            customer_name: b.customer_name.clone(),
            bill_date: Some(ist_date(b.bill_date)),
            bill_number: b.bill_number.clone(),
            bill_period: Some(crate::lookup::bill_period(b.period_from, b.period_to).into()),
            ..BillerResponse::new(b.bill_amount.max(Paise::ZERO))
        })
        .collect()
}

/// What the transaction answers, as XML: the approval reference of its receipt, or the
/// code it was refused with, and its status and receipts for the customer's app.
fn txn_reason_xml(t: &TxnRow) -> (Reason, AdditionalInfo) {
    let reason = match (&t.approval_ref_num, t.status) {
        // Reversed is final: a repeat or a status query answers the reversal.
        (_, status) if status.is_reversed() => {
            Reason::failure(ComplianceCode::Bpr007RepeatPaymentRequest)
        }
        (Some(approval), _) => Reason::success(approval.clone()),
        (None, TxnStatus::Failed) => Reason::failure(
            t.compliance_code
                .as_deref()
                .and_then(ComplianceCode::from_code)
                .unwrap_or(ComplianceCode::Bpr005CannotAcceptNow),
        ),
        _ => Reason::failure(ComplianceCode::Bpr007RepeatPaymentRequest),
    };
    let mut tags = vec![Tag::new("Transaction Status", t.status.as_str())];
    for b in &t.bills {
        tags.push(Tag::new("Receipt Number", b.receipt_number.clone()));
    }
    if let Some(date) = t.receipt_date {
        tags.push(Tag::new("Receipt Date", ist_date(date)));
    }
    if let Some(detail) = crate::biller::txn_detail(t) {
        tags.push(Tag::new("Detail", detail));
    }
    (reason, AdditionalInfo { tags })
}

impl Env {
    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            db: &self.db,
            mdms: &self.mdms,
            clock: &self.clock,
            bbps: &self.bbps,
            user: &self.user,
        }
    }

    fn head(&self) -> Head {
        Head {
            ver: "1.0".into(),
            ts: codec::timestamp(self.now),
            orig_inst: self.bbps.institution_id.clone(),
            ..Head::default()
        }
    }

    fn ts(&self) -> String {
        codec::timestamp(self.now)
    }

    fn signed(&self, answer: Answer) -> Response {
        match codec::encode_response(&answer, &self.keys.signing) {
            Ok(body) => xml_response(StatusCode::OK, body),
            Err(e) => {
                tracing::error!(error = %e, message = answer.root(), "cannot write a BBPS response");
                DigitError::internal("bbps-xml").into_response()
            }
        }
    }

    fn biller(&self, details: &BillDetails) -> Result<&crate::master::Biller, DigitError> {
        self.ctx().biller(&details.biller.id)
    }

    async fn answer(&self, request: &Request) -> Result<Response, DigitError> {
        match request {
            Request::Diagnostic(r) => Ok(self.signed(Answer::Diagnostic(
                ResDiagnostic::for_request(r, self.head()),
            ))),
            Request::BillFetch(r) => self.fetch(r).await,
            Request::BillPayment(r) if r.is_reversal() => self.reverse(r).await,
            Request::BillPayment(r) => self.pay(r).await,
            Request::TxnStatus(r) => self.status(r).await,
            Request::BillValidation(r) => self.validate(r).await,
            Request::Complaint(r) => self.complaint(r).await,
        }
    }

    async fn validate(&self, r: &BillValidationRequest) -> Result<Response, DigitError> {
        let biller = self.biller(&r.bill_details)?;
        let params = params_of(&r.bill_details);
        let amount = r
            .amount
            .as_ref()
            .and_then(|a| a.amount.as_deref())
            .map(|a| wire::parse_paise_digits(a).and_then(Paise::payable));
        // The same validation as the JSON profile's, so both answer alike.
        let outcome = match amount {
            Some(Err(e)) => Err(amount_refusal("Amount@amount", &e)),
            Some(Ok(p)) => service::validate(self.ctx(), biller, &params, Some(p)).await?,
            None => service::validate(self.ctx(), biller, &params, None).await?,
        };
        let (reason, tags) = match outcome {
            Ok(bills) => {
                let approval = bills
                    .first()
                    .map(|b| b.bill_number.clone().unwrap_or_else(|| b.bill_id.clone()))
                    .unwrap_or_default();
                let mut tags = Vec::new();
                for b in &bills {
                    if let Some(name) = &b.customer_name {
                        tags.push(Tag::new("Customer Name", name.clone()));
                    }
                    if let Some(number) = &b.bill_number {
                        tags.push(Tag::new("Bill Number", number.clone()));
                    }
                    tags.push(Tag::new("Bill Amount", wire::paise_text(b.amount)));
                    tags.push(Tag::new("Amount Exactness", b.exactness.as_str()));
                    tags.push(Tag::new("Minimum Amount", wire::paise_text(b.min_amount)));
                    if let Some(max) = b.max_amount {
                        tags.push(Tag::new("Maximum Amount", wire::paise_text(max)));
                    }
                }
                (Reason::success(approval), tags)
            }
            Err(refusal) => (
                Reason::failure(code_of(&refusal, Stage::Validation)),
                vec![Tag::new("Detail", refusal.detail)],
            ),
        };
        let mut answer = BillValidationResponse::for_request(r, self.head(), reason);
        answer.additional_info = Some(AdditionalInfo { tags });
        Ok(self.signed(Answer::BillValidation(answer)))
    }

    /// One transaction as a complaint answer lists it.
    fn txn_detail(&self, t: &TxnRow) -> TxnDetail {
        TxnDetail {
            agent_id: t.agent_id.clone(),
            biller_id: Some(t.biller_id.clone()).filter(|b| !b.is_empty()),
            ref_id: t.ref_id.clone(),
            approval_ref_num: t.approval_ref_num.clone(),
            txn_reference_id: t.txn_reference_id.clone(),
            txn_date: codec::timestamp(t.created_ms),
            amount: wire::paise_text(t.amount.max(Paise::ZERO)),
            txn_status: t.status.as_str().into(),
            compliance_resp_cd: t.compliance_code.clone(),
            compliance_reason: t.compliance_reason.clone(),
            refunded_txn_amount: t
                .refund
                .as_ref()
                .map(|r| wire::paise_text(r.amount.max(Paise::ZERO))),
            payment_ref_id: t.payment_ref_id.clone(),
            bill_number: t.bills.first().and_then(|b| b.bill_number.clone()),
            additional_info: crate::biller::txn_detail(t).map(|d| AdditionalInfo {
                tags: vec![Tag::new("Detail", d)],
            }),
        }
    }

    /// NPCI's complaint exchange ("401"): with `complaintType` and `disposition`, a complaint
    /// is registered (once per `complaintId`, as in the JSON profile); with a `complaintId`
    /// (or a `txnReferenceId`) alone, it is tracked; the transaction concerned is listed when
    /// the unit may see it. A complaint kosh cannot take is answered, signed, with
    /// `responseCode` 200 and the reason in `remarks`.
    async fn complaint(&self, r: &TxnStatusComplainRequest) -> Result<Response, DigitError> {
        let q = &r.req;
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let ctx = self.ctx();
        let mut resp = TxnStatusComplainResp {
            msg_id: q.msg_id.clone(),
            txn_reference_id: text(&q.txn_reference_id),
            ..TxnStatusComplainResp::default()
        };
        let found = match (text(&q.complaint_type), text(&q.disposition)) {
            (Some(kind), Some(disposition)) => {
                let new = NewComplaint {
                    complaint_id: text(&q.complaint_id),
                    complaint_type: kind,
                    txn_reference_id: text(&q.txn_reference_id),
                    biller_id: text(&q.biller_id),
                    disposition,
                    description: text(&q.description),
                    customer_mobile: text(&q.mobile),
                    participation_type: text(&q.participation_type),
                };
                complaint::register(ctx, &new).await.map(|c| vec![c])
            }
            _ if q.complaint_id.is_some() || q.txn_reference_id.is_some() => complaint::find(
                ctx,
                text(&q.complaint_id).as_deref(),
                text(&q.txn_reference_id).as_deref(),
            )
            .await
            .map(|found| found.into_iter().map(|(c, _)| c).collect()),
            _ => Err(DigitError::new(
                "BBPS_INVALID_COMPLAINT",
                "give complaintType and disposition (to register), or complaintId or txnReferenceId (to track)",
            )),
        };
        let complaints = match found {
            Ok(list) => list,
            Err(e) if e.status.is_server_error() || e.retryable => return Err(e),
            Err(e) => {
                resp.response_code = Some(ResponseCode::Failure.code().into());
                resp.response_reason = Some(ResponseCode::Failure.reason().into());
                resp.remarks = e
                    .errors
                    .first()
                    .map(|i| format!("{}: {}", i.code, i.message));
                Vec::new()
            }
        };
        let reference = complaints
            .first()
            .and_then(|c| c.txn_reference_id.clone())
            .or_else(|| text(&q.txn_reference_id));
        let txn = match &reference {
            Some(reference) => service::status(ctx, reference).await?,
            None => None,
        };
        if let Some(t) = &txn {
            resp.txn_list.details.push(self.txn_detail(t));
        }
        if resp.response_code.is_none() {
            match complaints.first() {
                Some(c) => {
                    resp.complaint_id = Some(c.complaint_id.clone());
                    resp.complaint_status = Some(c.status.clone());
                    resp.open_complaint = Some(if c.is_open() { "Y" } else { "N" }.into());
                    resp.assigned = Some(self.bbps.institution_id.clone());
                    resp.disposition = Some(c.disposition.clone());
                    resp.description = c.description.clone();
                    resp.txn_reference_id = c.txn_reference_id.clone();
                    resp.remarks = Some(match &c.remarks {
                        Some(r) => r.clone(),
                        None => format!("to be resolved by {}", ist_date(c.tat_deadline_ms)),
                    });
                    resp.response_code = Some(ResponseCode::Success.code().into());
                    resp.response_reason = Some(ResponseCode::Success.reason().into());
                }
                None if txn.is_some() => {
                    // A transaction look-up: no complaint about it.
                    resp.response_code = Some(ResponseCode::Success.code().into());
                    resp.response_reason = Some(ResponseCode::Success.reason().into());
                }
                None => {
                    resp.response_code = Some(ResponseCode::Failure.code().into());
                    resp.response_reason = Some(ResponseCode::Failure.reason().into());
                    resp.remarks = Some("no complaint or transaction matches".into());
                }
            }
        }
        let answer = TxnStatusComplainResponse::for_request(r, self.head(), &self.ts(), resp);
        Ok(self.signed(Answer::Complaint(answer)))
    }

    async fn fetch(&self, r: &BillFetchRequest) -> Result<Response, DigitError> {
        let biller = self.biller(&r.bill_details)?;
        let params = params_of(&r.bill_details);
        let outcome = service::fetch(self.ctx(), biller, &params).await?;
        service::remember_fetch(self.ctx(), biller, &r.head.ref_id, "XML", &outcome).await?;
        let (reason, bills, detail) = match outcome {
            Ok(bills) => {
                let approval = bills
                    .first()
                    .map(|b| b.bill_number.clone().unwrap_or_else(|| b.bill_id.clone()))
                    .unwrap_or_default();
                (Reason::success(approval), bills, None)
            }
            Err(refusal) => (
                Reason::failure(code_of(&refusal, Stage::Fetch)),
                Vec::new(),
                Some(refusal.detail),
            ),
        };
        let mut answer = BillFetchResponse::for_request(r, self.head(), &self.ts(), reason);
        answer.biller_responses = bills.iter().map(presented_response).collect();
        let mut tags = Vec::new();
        if let Some(first) = bills.first() {
            tags.push(Tag::new("Consumer Code", first.consumer_code.clone()));
            tags.push(Tag::new("City", first.tenant_id.clone()));
            tags.push(Tag::new("Amount Exactness", first.exactness.as_str()));
        }
        if let Some(detail) = detail {
            tags.push(Tag::new("Detail", detail));
        }
        if !tags.is_empty() {
            answer.additional_info = Some(AdditionalInfo { tags });
        }
        Ok(self.signed(Answer::BillFetch(answer)))
    }

    /// A payment posting: like the JSON profile's, every one that passes the schema and
    /// the profile gets a signed answer and a record — an unknown biller BPR002, a biller
    /// that is off BPR009, amounts that cannot be paid BPR011 — and only when kosh cannot
    /// decide (its database) a BPR005 with nothing recorded ([`Env::unavailable`]).
    async fn pay(&self, r: &BillPaymentRequest) -> Result<Response, DigitError> {
        let (posting, amounts_refused) = posting(r);
        let (reason, info, bills) = match service::post(
            self.ctx(),
            &r.bill_details.biller.id,
            &posting,
            amounts_refused,
        )
        .await?
        {
            service::Answer::Txn(t) => {
                let (reason, info) = txn_reason_xml(&t);
                (reason, Some(info), paid_responses(&t))
            }
            service::Answer::Refused(refusal) => refused(&refusal),
        };
        let mut answer = BillPaymentResponse::for_request(r, self.head(), &self.ts(), reason);
        answer.biller_responses = bills;
        answer.additional_info = info;
        Ok(self.signed(Answer::BillPayment(answer)))
    }

    async fn reverse(&self, r: &BillPaymentRequest) -> Result<Response, DigitError> {
        let amount = r
            .amount
            .amt
            .amount
            .as_deref()
            .and_then(|a| wire::parse_paise_digits(a).and_then(Paise::payable).ok());
        let reversal = Reversal {
            txn_reference_id: r.txn_reference_id().to_string(),
            biller_id: Some(r.bill_details.biller.id.clone()),
            reason: Some("BBPS reversal".into()),
            amount,
            params: params_of(&r.bill_details),
        };
        let t = service::reverse(self.ctx(), &reversal).await?;
        let approval = t
            .approval_ref_num
            .clone()
            .unwrap_or_else(|| t.txn_reference_id.clone());
        let (_, info) = txn_reason_xml(&t);
        let mut answer =
            BillPaymentResponse::for_request(r, self.head(), &self.ts(), Reason::success(approval));
        answer.biller_responses = paid_responses(&t);
        answer.additional_info = Some(info);
        Ok(self.signed(Answer::BillPayment(answer)))
    }

    async fn status(&self, r: &TxnStatusRequest) -> Result<Response, DigitError> {
        let reference = &r.txn_status_req.txn_reference_id;
        let Some(t) = service::status(self.ctx(), reference).await? else {
            return Ok(refuse(
                StatusCode::NOT_FOUND,
                self.api,
                &r.head.ref_id,
                r.txn.msg_id.as_deref(),
                self.now,
                error(
                    "TXN_NOT_FOUND",
                    format!("kosh has no posting with txnReferenceId {reference}"),
                ),
            ));
        };
        let (reason, info) = txn_reason_xml(&t);
        let mut tags: Vec<Tag> = t
            .customer_params
            .iter()
            .map(|p| Tag::new(p.name.clone(), p.value.clone()))
            .collect();
        if tags.is_empty() {
            // A reversal recorded before any posting carries no parameters; the schema
            // wants one.
            tags.push(Tag::new("txnReferenceId", t.txn_reference_id.clone()));
        }
        let details = BillDetails {
            biller: Biller {
                id: if t.biller_id.is_empty() {
                    "UNKNOWN".into()
                } else {
                    t.biller_id.clone()
                },
            },
            customer_params: CustomerParams { tags },
        };
        let mut bills = paid_responses(&t);
        if bills.is_empty() {
            bills.push(BillerResponse::new(t.amount.max(Paise::ZERO)));
        }
        let mut answer =
            TxnStatusResponse::for_request(r, self.head(), &self.ts(), reason, details, bills);
        answer.additional_info = Some(info);
        Ok(self.signed(Answer::TxnStatus(answer)))
    }

    /// The answer when kosh cannot answer now: the exchange's retriable failure code, not
    /// recorded, so a retry may succeed.
    fn unavailable(&self, request: &Request, e: &DigitError) -> Response {
        tracing::warn!(error = %e, "BBPS XML request could not be served");
        let detail = Tag::new("Detail", "the biller cannot answer now; try again");
        match request {
            Request::BillFetch(r) => {
                let mut answer = BillFetchResponse::for_request(
                    r,
                    self.head(),
                    &self.ts(),
                    Reason::failure(ComplianceCode::Bfr008UnableToFetch),
                );
                answer.additional_info = Some(AdditionalInfo { tags: vec![detail] });
                self.signed(Answer::BillFetch(answer))
            }
            Request::BillPayment(r) => {
                let mut answer = BillPaymentResponse::for_request(
                    r,
                    self.head(),
                    &self.ts(),
                    Reason::failure(ComplianceCode::Bpr005CannotAcceptNow),
                );
                answer.additional_info = Some(AdditionalInfo { tags: vec![detail] });
                self.signed(Answer::BillPayment(answer))
            }
            Request::BillValidation(r) => {
                let mut answer = BillValidationResponse::for_request(
                    r,
                    self.head(),
                    Reason::failure(ComplianceCode::Bvr009TechnicalError),
                );
                answer.additional_info = Some(AdditionalInfo { tags: vec![detail] });
                self.signed(Answer::BillValidation(answer))
            }
            _ => refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                self.api,
                request.ref_id(),
                request.msg_id(),
                self.now,
                error("UNAVAILABLE", "the biller cannot answer now; try again"),
            ),
        }
    }
}

/// The posting and, when its amounts cannot be paid, their refusal (BPR011, recorded
/// without reading a bill). The profile has already checked that every amount is written
/// as paise that fit kosh's money; a refused posting keeps the amounts as sent.
fn posting(r: &BillPaymentRequest) -> (Posting, Option<Refusal>) {
    let mut bills = Vec::new();
    let mut refusal = None;
    let mut shares: Result<Paise, MoneyError> = Ok(Paise::ZERO);
    let mut written = vec![r.amount.amt.amount.clone().unwrap_or_default()];
    for b in &r.amount.amount_break_up.bill_amounts {
        if let (Some(number), Some(share)) = (&b.bill_number, &b.amount) {
            let read = wire::parse_paise_digits(share);
            let amount = read.clone().and_then(Paise::payable);
            if let (None, Err(e)) = (&refusal, &amount) {
                refusal = Some(amount_refusal("BillAmt@Amount", e));
            }
            shares = match (shares, &amount) {
                (Ok(sum), Ok(p)) => sum.checked_add(*p).and_then(Paise::total_within_ceiling),
                (Err(e), _) => Err(e),
                (_, Err(e)) => Err(e.clone()),
            };
            if let (None, Err(e)) = (&refusal, &shares) {
                refusal = Some(amount_refusal("BillAmt", e));
            }
            written.push(share.clone());
            bills.push(BillAmount {
                bill_number: number.clone(),
                amount: amount.or(read).unwrap_or_default(),
            });
        }
    }
    let read = wire::parse_paise_digits(r.amount.amt.amount.as_deref().unwrap_or_default());
    let amount = read.clone().and_then(|p| {
        if bills.is_empty() {
            p.payable()
        } else {
            p.total_within_ceiling()
        }
    });
    // The amount's own fault first, as the JSON profile reports it.
    if let Err(e) = &amount {
        refusal = Some(amount_refusal("Amt@amount", e));
    }
    let amount = amount.or(read).unwrap_or_default();
    // The bill paid: the amount's bill number, else the one bill echoed from the fetch.
    let bill_number =
        r.amount
            .amt
            .bill_number
            .clone()
            .or_else(|| match r.biller_responses.as_slice() {
                [one] => one.bill_number.clone(),
                _ => None,
            });
    let channel = r
        .agent
        .device
        .tags
        .iter()
        .find(|t| t.name == DeviceTagName::InitiatingChannel)
        .map(|t| t.value.clone());
    let posting = Posting {
        profile: "XML",
        txn_reference_id: r.txn_reference_id().to_string(),
        ref_id: Some(r.head.ref_id.clone()),
        msg_id: r.txn.msg_id.clone(),
        payment_ref_id: r.txn.payment_ref_id.clone(),
        params: params_of(&r.bill_details),
        customer_mobile: Some(r.customer.mobile.clone()).filter(|m| !m.is_empty()),
        amount,
        bill_number,
        bills,
        payment_mode: r.payment_method.payment_mode.clone(),
        payment_channel: channel,
        agent_id: Some(r.agent.id.clone()).filter(|a| !a.is_empty()),
        txn_ts: Some(r.txn.ts.clone()),
        amounts_as_written: refusal.as_ref().map(|_| written.join(",")),
    };
    (posting, refusal)
}

fn refused(refusal: &Refusal) -> (Reason, Option<AdditionalInfo>, Vec<BillerResponse>) {
    (
        Reason::failure(code_of(refusal, Stage::Payment)),
        Some(AdditionalInfo {
            tags: vec![
                Tag::new("Transaction Status", "REFUSED"),
                Tag::new("Detail", refusal.detail.clone()),
            ],
        }),
        Vec::new(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::BillerFault;
    use crate::xml::BillAmount as BillAmt;

    fn request(amount: &str, shares: &[&str]) -> BillPaymentRequest {
        let mut r: BillPaymentRequest = xml::from_xml(include_str!(
            "../../tests/fixtures/messages/BillPaymentRequest.xml"
        ))
        .expect("the sample reads");
        r.amount.amt.amount = Some(amount.to_string());
        r.amount.amount_break_up.bill_amounts = shares
            .iter()
            .enumerate()
            .map(|(i, a)| BillAmt {
                bill_number: Some(format!("B{i}")),
                amount: Some(a.to_string()),
            })
            .collect();
        r
    }

    fn refused(amount: &str, shares: &[&str]) -> bool {
        match posting(&request(amount, shares)).1 {
            None => false,
            Some(r) => {
                assert_eq!(r.fault, BillerFault::AmountMismatch);
                true
            }
        }
    }

    #[test]
    fn amounts_that_cannot_be_paid_are_refused_before_posting() {
        let ceiling = kosh_platform::money::limits().max_amount.get();
        let total = kosh_platform::money::limits().max_total.get();
        let p = posting(&request("1172800", &[])).0;
        assert_eq!((p.amount, p.bills.len()), (Paise::new(1_172_800), 0));
        assert!(!refused(&ceiling.to_string(), &[]));
        assert!(refused(&(ceiling + 1).to_string(), &[]));
        assert!(refused("9223372036854775807", &[]));
        // The reported split, and the same split in paise that wraps i64 to 9984.
        assert!(refused(
            "9984",
            &["92233720368547758", "92233720368547758", "100"]
        ));
        assert!(refused(
            "9984",
            &["9223372036854775800", "9223372036854775800", "10000"]
        ));
        let split = posting(&request("300", &["100", "200"])).0;
        assert_eq!(
            Paise::sum(split.bills.iter().map(|b| b.amount)),
            Ok(Paise::new(300))
        );
        let at = ceiling.to_string();
        let at = at.as_str();
        assert!(!refused(&(2 * ceiling).to_string(), &[at, at]));
        assert!(refused(&(total + 1).to_string(), &["1"]));
        assert!(refused(&total.to_string(), &[at; 11]));
    }
}
