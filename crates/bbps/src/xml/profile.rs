//! kosh's profile: the rules beyond the XSDs that kosh relies on.
//!
//! The XSDs type almost everything as `xs:string`, and make optional some attributes that
//! BBPS uses as mandatory (`Txn@msgId` on fetch and payment, `Txn@txnReferenceId` and
//! `Amt@amount` on payment). kosh keys its records and its idempotency on these values and
//! turns amounts into money, so it checks them on every message it accepts or sends:
//!
//! | what | rule |
//! |---|---|
//! | `Head@refId`, `Txn@msgId`, `Txn@txnReferenceId`, `TxnStatusReq@txnReferenceId` | 1–35 ASCII letters or digits (NPCI's ids are 35 or 20 alphanumerics; refId also goes into the URL) |
//! | `Head@ts`, `Txn@ts` | an RFC 3339 date-time with its offset (`2026-05-04T10:15:30+05:30`) |
//! | `Head@origInst`, `Biller@id`, customer-param names | not empty |
//! | `Txn@msgId` | present on fetch and payment requests and responses |
//! | payment `Txn@txnReferenceId` | present |
//! | payment request `Txn@type` | `FORWARD TYPE REQUEST` or `REVERSAL TYPE REQUEST`; response: `… RESPONSE` |
//! | `Amt@amount` | present, paise: ASCII digits that fit kosh's money ([`wire::parse_paise_digits`]) |
//! | every other amount (`BillerResponse@amount`, its `min/maxAmount`, `amountMultiple`, `custConvFee`, amount-option `Tag@value`s, `Amt@custConvFee`, `Amt@COUcustConvFee`, `BillAmt@Amount`) | paise when present |
//! | `Amt@currency` | `356` (INR) when present |
//! | `BillerResponse@dueDate`, `@billDate` | `YYYY-MM-DD` when present |
//! | `Reason` | `responseCode` `000` with a non-empty `approvalRefNum` and no compliance code, or `200` with a known [`ComplianceCode`] |
//! | successful fetch response | at least one `BillerResponse` |
//! | `Ack` (sent or read) | `api`, `refId`, `RspCd` and `ts` present |
//! | validation `Amount@amount` | paise when present |
//! | `TxnStatusComplainReq@msgId`, `@txnReferenceId`, `@complaintId`; `TxnStatusComplainResp@msgId` | ids as above |
//! | `TxnDetail@amount`, `@refundedTxnAmount` | paise |
//!
//! A profile fault is reported like an XSD fault ([`Fault::Profile`]), naming the element
//! or attribute.

use chrono::{DateTime, NaiveDate};
use kosh_platform::money::{MoneyError, wire};

use super::messages::*;
use super::model::*;
use super::schema::{Fault, Violation};
use crate::codes::{ComplianceCode, ResponseCode};

/// Collects profile violations.
pub(crate) struct Checker {
    pub(crate) out: Vec<Violation>,
    root: &'static str,
}

impl Checker {
    pub(crate) fn new(root: &'static str) -> Checker {
        Checker {
            out: Vec::new(),
            root,
        }
    }

    fn fail(&mut self, path: &str, msg: impl Into<String>) {
        self.out.push(Violation {
            path: format!("/{}{}", self.root, path),
            fault: Fault::Profile(msg.into()),
        });
    }

    fn paise(&mut self, path: &str, value: &str) {
        match wire::parse_paise_digits(value) {
            Ok(_) => {}
            Err(MoneyError::Overflow) => self.fail(path, format!("amount {value:?} is too large")),
            Err(_) if value.is_empty() => self.fail(path, "amount is empty"),
            Err(_) => self.fail(
                path,
                format!("amount {value:?} is not a non-negative integer of paise (digits only)"),
            ),
        }
    }

    fn opt_paise(&mut self, path: &str, value: Option<&String>) {
        if let Some(v) = value {
            self.paise(path, v);
        }
    }

    fn id(&mut self, path: &str, value: &str) {
        if value.is_empty() || value.len() > 35 || !value.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            self.fail(
                path,
                format!("{value:?} is not 1-35 ASCII letters or digits"),
            );
        }
    }

    fn required_id(&mut self, path: &str, value: Option<&String>) {
        match value {
            Some(v) => self.id(path, v),
            None => self.fail(path, "required by BBPS for this message"),
        }
    }

    fn ts(&mut self, path: &str, value: &str) {
        if DateTime::parse_from_rfc3339(value).is_err() {
            self.fail(
                path,
                format!("{value:?} is not a date-time with offset (2026-05-04T10:15:30+05:30)"),
            );
        }
    }

    fn date(&mut self, path: &str, value: Option<&String>) {
        if let Some(v) = value {
            let shape = v.len() == 10
                && v.bytes().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                });
            if !shape || NaiveDate::parse_from_str(v, "%Y-%m-%d").is_err() {
                self.fail(path, format!("{v:?} is not a date YYYY-MM-DD"));
            }
        }
    }

    fn not_empty(&mut self, path: &str, value: &str) {
        if value.is_empty() {
            self.fail(path, "must not be empty");
        }
    }

    pub(crate) fn head(&mut self, head: &Head) {
        self.id("/Head/@refId", &head.ref_id);
        self.ts("/Head/@ts", &head.ts);
        self.not_empty("/Head/@origInst", &head.orig_inst);
        self.not_empty("/Head/@ver", &head.ver);
    }

    fn txn(&mut self, txn: &Txn, msg_id_required: bool) {
        self.ts("/Txn/@ts", &txn.ts);
        if msg_id_required {
            self.required_id("/Txn/@msgId", txn.msg_id.as_ref());
        } else if let Some(m) = &txn.msg_id {
            self.id("/Txn/@msgId", m);
        }
        if let Some(t) = &txn.txn_reference_id {
            self.id("/Txn/@txnReferenceId", t);
        }
    }

    fn txn_kind(&mut self, txn: &Txn, allowed: [&str; 2]) {
        match txn.kind.as_deref() {
            Some(k) if allowed.contains(&k) => {}
            Some(k) => self.fail(
                "/Txn/@type",
                format!("{k:?} is not {} or {}", allowed[0], allowed[1]),
            ),
            None => self.fail("/Txn/@type", "required by BBPS for this message"),
        }
    }

    fn bill_details(&mut self, bd: &BillDetails) {
        self.not_empty("/BillDetails/Biller/@id", &bd.biller.id);
        for (i, t) in bd.customer_params.tags.iter().enumerate() {
            self.not_empty(
                &format!("/BillDetails/CustomerParams/Tag[{}]/@name", i + 1),
                &t.name,
            );
        }
    }

    fn amount_tag(&mut self, path: &str, t: &AmountTag) {
        self.paise(&format!("{path}/@value"), &t.value);
        self.opt_paise(&format!("{path}/@minAmount"), t.min_amount.as_ref());
        self.opt_paise(&format!("{path}/@maxAmount"), t.max_amount.as_ref());
        self.opt_paise(
            &format!("{path}/@amountMultiple"),
            t.amount_multiple.as_ref(),
        );
    }

    fn biller_responses(&mut self, brs: &[BillerResponse]) {
        for (i, br) in brs.iter().enumerate() {
            let p = format!("/BillerResponse[{}]", i + 1);
            self.paise(&format!("{p}/@amount"), &br.amount);
            self.opt_paise(&format!("{p}/@minAmount"), br.min_amount.as_ref());
            self.opt_paise(&format!("{p}/@maxAmount"), br.max_amount.as_ref());
            self.opt_paise(&format!("{p}/@amountMultiple"), br.amount_multiple.as_ref());
            self.opt_paise(&format!("{p}/@custConvFee"), br.cust_conv_fee.as_ref());
            self.date(&format!("{p}/@dueDate"), br.due_date.as_ref());
            self.date(&format!("{p}/@billDate"), br.bill_date.as_ref());
            for (j, t) in br.tags.iter().enumerate() {
                self.amount_tag(&format!("{p}/Tag[{}]", j + 1), t);
            }
        }
    }

    fn reason(&mut self, r: &Reason) {
        match r.code() {
            Some(ResponseCode::Success) => {
                self.not_empty("/Reason/@approvalRefNum", &r.approval_ref_num);
                if r.compliance_resp_cd
                    .as_deref()
                    .is_some_and(|c| !c.is_empty())
                {
                    self.fail(
                        "/Reason/@complianceRespCd",
                        "a successful response carries no compliance code",
                    );
                }
            }
            Some(ResponseCode::Failure) => match r.compliance_resp_cd.as_deref() {
                Some(c) if ComplianceCode::from_code(c).is_some() => {}
                Some(c) => self.fail(
                    "/Reason/@complianceRespCd",
                    format!("{c:?} is not a known BBPS compliance code"),
                ),
                None => self.fail(
                    "/Reason/@complianceRespCd",
                    "a failure response needs a compliance code",
                ),
            },
            None => self.fail(
                "/Reason/@responseCode",
                format!("{:?} is not 000 or 200", r.response_code),
            ),
        }
    }
}

/// The profile of each message.
pub(crate) trait Profile {
    fn check(&self, c: &mut Checker);
}

impl Profile for BillFetchRequest {
    fn check(&self, c: &mut Checker) {
        c.head(&self.head);
        c.txn(&self.txn, true);
        c.bill_details(&self.bill_details);
    }
}

impl Profile for BillFetchResponse {
    fn check(&self, c: &mut Checker) {
        c.head(&self.head);
        c.reason(&self.reason);
        c.txn(&self.txn, true);
        c.bill_details(&self.bill_details);
        c.biller_responses(&self.biller_responses);
        if self.reason.code() == Some(ResponseCode::Success) && self.biller_responses.is_empty() {
            c.fail(
                "/BillerResponse",
                "a successful fetch response carries at least one bill",
            );
        }
    }
}

impl Profile for BillPaymentRequest {
    fn check(&self, c: &mut Checker) {
        c.head(&self.head);
        c.txn(&self.txn, true);
        c.required_id("/Txn/@txnReferenceId", self.txn.txn_reference_id.as_ref());
        c.txn_kind(
            &self.txn,
            [txn_type::FORWARD_REQUEST, txn_type::REVERSAL_REQUEST],
        );
        c.bill_details(&self.bill_details);
        c.biller_responses(&self.biller_responses);
        amount(c, &self.amount);
    }
}

fn amount(c: &mut Checker, amount: &Amount) {
    match &amount.amt.amount {
        Some(a) => c.paise("/Amount/Amt/@amount", a),
        None => c.fail("/Amount/Amt/@amount", "required: the amount paid"),
    }
    c.opt_paise(
        "/Amount/Amt/@custConvFee",
        amount.amt.cust_conv_fee.as_ref(),
    );
    c.opt_paise(
        "/Amount/Amt/@COUcustConvFee",
        amount.amt.cou_cust_conv_fee.as_ref(),
    );
    if let Some(cur) = &amount.amt.currency
        && cur != "356"
    {
        c.fail("/Amount/Amt/@currency", format!("{cur:?} is not 356 (INR)"));
    }
    for (i, b) in amount.amount_break_up.bill_amounts.iter().enumerate() {
        c.opt_paise(
            &format!("/Amount/AmountBreakUp/BillAmt[{}]/@Amount", i + 1),
            b.amount.as_ref(),
        );
    }
    for (i, t) in amount.tags.iter().enumerate() {
        c.amount_tag(&format!("/Amount/Tag[{}]", i + 1), t);
    }
}

impl Profile for BillPaymentResponse {
    fn check(&self, c: &mut Checker) {
        c.head(&self.head);
        c.reason(&self.reason);
        c.txn(&self.txn, true);
        c.required_id("/Txn/@txnReferenceId", self.txn.txn_reference_id.as_ref());
        c.txn_kind(
            &self.txn,
            [txn_type::FORWARD_RESPONSE, txn_type::REVERSAL_RESPONSE],
        );
        c.bill_details(&self.bill_details);
        c.biller_responses(&self.biller_responses);
    }
}

impl Profile for TxnStatusRequest {
    fn check(&self, c: &mut Checker) {
        c.head(&self.head);
        c.txn(&self.txn, false);
        c.id(
            "/TxnStatusReq/@txnReferenceId",
            &self.txn_status_req.txn_reference_id,
        );
        if let Some(m) = &self.txn_status_req.msg_id {
            c.id("/TxnStatusReq/@msgId", m);
        }
    }
}

impl Profile for TxnStatusResponse {
    fn check(&self, c: &mut Checker) {
        c.head(&self.head);
        c.reason(&self.reason);
        c.txn(&self.txn, false);
        c.bill_details(&self.bill_details);
        c.biller_responses(&self.biller_responses);
    }
}

impl Profile for ReqDiagnostic {
    fn check(&self, c: &mut Checker) {
        c.head(&self.head);
    }
}

impl Profile for ResDiagnostic {
    fn check(&self, c: &mut Checker) {
        c.head(&self.head);
    }
}

impl Profile for Ack {
    fn check(&self, c: &mut Checker) {
        for (path, v) in [
            ("/@api", &self.api),
            ("/@refId", &self.ref_id),
            ("/@RspCd", &self.rsp_cd),
            ("/@ts", &self.ts),
        ] {
            match v {
                Some(v) => c.not_empty(path, v),
                None => c.fail(path, "required by kosh on every Ack"),
            }
        }
    }
}

impl Profile for BillValidationRequest {
    fn check(&self, c: &mut Checker) {
        c.head(&self.head);
        c.bill_details(&self.bill_details);
        if let Some(a) = &self.amount {
            c.opt_paise("/Amount/@amount", a.amount.as_ref());
        }
    }
}

impl Profile for BillValidationResponse {
    fn check(&self, c: &mut Checker) {
        c.head(&self.head);
        c.reason(&self.reason);
    }
}

impl Profile for TxnStatusComplainRequest {
    fn check(&self, c: &mut Checker) {
        c.head(&self.head);
        c.txn(&self.txn, false);
        c.id("/TxnStatusComplainReq/@msgId", &self.req.msg_id);
        if let Some(r) = &self.req.txn_reference_id {
            c.id("/TxnStatusComplainReq/@txnReferenceId", r);
        }
        if let Some(id) = &self.req.complaint_id {
            c.id("/TxnStatusComplainReq/@complaintId", id);
        }
    }
}

impl Profile for TxnStatusComplainResponse {
    fn check(&self, c: &mut Checker) {
        c.head(&self.head);
        c.txn(&self.txn, false);
        c.id("/TxnStatusComplainResp/@msgId", &self.resp.msg_id);
        for (i, d) in self.resp.txn_list.details.iter().enumerate() {
            let p = format!("/TxnStatusComplainResp/TxnList/TxnDetail[{}]", i + 1);
            c.id(&format!("{p}/@txnReferenceId"), &d.txn_reference_id);
            c.paise(&format!("{p}/@amount"), &d.amount);
            c.opt_paise(
                &format!("{p}/@refundedTxnAmount"),
                d.refunded_txn_amount.as_ref(),
            );
        }
    }
}
