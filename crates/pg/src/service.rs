//! The pg-service (DIGIT's `TransactionService`), with kosh's stricter rules:
//!
//! - **create**: DIGIT's checks (gateway, a live transaction on any of the bills, the amount
//!   adding up), then collection's provisional validation, then the PENDING transaction is
//!   written (with its id from idgen `pg.txnid`) and only then is the gateway asked for the
//!   redirect, outside any database transaction. A zero amount settles at once, receipt and
//!   all, in the transaction that creates it.
//! - **update** (the creator, the gateway's callback, or reconciliation): the gateway is asked
//!   first (its plugin verifies the callback and confirms SUCCESS server to server), then one
//!   database transaction re-reads the row and applies the answer only while it is PENDING.
//!   SUCCESS creates the receipt in that same transaction, dated the transaction's creation,
//!   for the amount locked at create even if the bill expired meanwhile; SUCCESS and FAILURE
//!   are final, and a later update answers the settled transaction unchanged.
//! - A PENDING answer, a gateway that cannot be reached, or an amount that does not match keep
//!   the transaction PENDING: money a gateway took is never marked FAILURE; only the
//!   gateway's own failure is. A transaction the gateway has no record of once it is twice
//!   the reconciliation age (the time DIGIT's TXN_ABRUPTLY_DISCARDED message asks the payer
//!   to wait) is closed, not failed: it stays PENDING, its bills are freed, and a SUCCESS the
//!   gateway reports later (callback, `_update`, or reconciliation, which keeps asking for
//!   the late-success window) still settles it.
//! - One bill, one collection: a PENDING transaction holds its bills against counter
//!   payments (collection's bill holds). A SUCCESS whose bills were paid meanwhile by another
//!   channel (BBPS, an overridden counter payment, another payer's transaction) makes no
//!   second receipt: its money becomes a refund due, which its status message names.
//! - No payer blocks another: a user's PENDING transaction refuses only that user's next
//!   one for the same bill (DIGIT's TXN_ABRUPTLY_DISCARDED); another user may start their
//!   own, and whichever confirms second becomes a refund due.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use kosh_collection::command::{BillShare, Channel, NewPayment, Payer};
use kosh_collection::refund::{self, NewRefund, Source};
use kosh_collection::service::PaymentOptions;
use kosh_collection::validate::Expiry;
use kosh_idgen::IdRequest;
use kosh_mdms::Mdms;
use kosh_platform::error::ErrorMap;
use kosh_platform::money::Paise;
use kosh_platform::{AuthUser, Clock, Db, DigitError, ErrorItem, RequestInfo, outbox, write_tx};
use serde_json::json;
use sqlx::AnyConnection;

use crate::gateways::{
    GatewayError, GatewayRegistry, GatewayStatus, GatewaysConfig, Secret, TxnStatus,
};
use crate::txn::store::{self, Change, GatewayFields};
use crate::txn::wire::{self, NewTransaction, TransactionRequest};
use crate::txn::{Transaction, TxnUser, msg};

/// idgen's name for transaction ids, and DIGIT's default format when MDMS has none.
pub const TXN_ID_NAME: &str = "pg.txnid";
pub const DEFAULT_TXN_ID_FORMAT: &str = "PB_PG_[cy:yyyy_MM_dd]_[SEQ_EG_PG_TXN]_[d{2}]";
/// DIGIT's instrument number for the provisional validation at create.
pub const PROVISIONAL_INSTRUMENT: &str = "PROV_PAYMENT_VALIDATION";
/// Outbox topics (DIGIT's persister topics).
pub const TOPIC_SAVE: &str = "save-pg-txns";
pub const TOPIC_UPDATE: &str = "update-pg-txns";

/// Reconciliation timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgConfig {
    /// A PENDING transaction is re-queried once this old, and again at this interval during
    /// its first day (DIGIT's `pg.earlyReconcileJobRunInterval.mins`, 15 minutes). One the
    /// gateway has no record of fails once twice this old.
    pub reconcile_after_ms: i64,
    /// After its first day, a PENDING transaction is re-queried at this interval (DIGIT's
    /// twice-daily sweep).
    pub reconcile_sweep_ms: i64,
    /// A transaction closed because the gateway had no record of it is still re-queried
    /// until it is this old, so that a late SUCCESS is still receipted or refunded.
    pub late_success_ms: i64,
}

impl Default for PgConfig {
    fn default() -> Self {
        PgConfig {
            reconcile_after_ms: 15 * 60 * 1000,
            reconcile_sweep_ms: 12 * 60 * 60 * 1000,
            late_success_ms: 3 * 24 * 60 * 60 * 1000,
        }
    }
}

/// The pg-service: the gateways and the rules.
#[derive(Debug)]
pub struct PgService {
    registry: GatewayRegistry,
    config: PgConfig,
    sandbox_secret: Option<Secret>,
    instance_id: String,
}

/// Who asks for a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor<'a> {
    /// `_create` (a zero amount settles at once; a failed redirect fails), by its creator.
    Create(&'a str),
    /// The creator, with a token.
    Owner(&'a str),
    /// A gateway callback, without a token.
    Callback,
    /// The reconciliation job.
    Reconciliation,
}

impl<'a> Actor<'a> {
    fn settled_by(self) -> &'static str {
        match self {
            Actor::Create(_) => "CREATE",
            Actor::Owner(_) => "USER",
            Actor::Callback => "CALLBACK",
            Actor::Reconciliation => "RECONCILIATION",
        }
    }

    /// `lastModifiedBy`: the user's uuid; none for a callback or reconciliation (DIGIT writes
    /// the RequestInfo user, which those do not have).
    fn modified_by(self) -> Option<&'a str> {
        match self {
            Actor::Create(uuid) | Actor::Owner(uuid) => Some(uuid),
            Actor::Callback | Actor::Reconciliation => None,
        }
    }
}

/// What a gateway's answer does to a PENDING transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Success,
    Failure(&'static str),
    Pending(String),
    /// The gateway has no record of it, long after it should have: close it, do not fail it.
    Close,
}

impl PgService {
    pub fn new(gateways: &GatewaysConfig, config: PgConfig) -> Result<PgService, GatewayError> {
        Ok(PgService {
            registry: GatewayRegistry::from_config(gateways)?,
            config,
            sandbox_secret: gateways.sandbox.as_ref().map(|s| s.secret.clone()),
            instance_id: uuid::Uuid::new_v4().simple().to_string(),
        })
    }

    /// A service over an already built registry (tests).
    pub fn with_registry(
        registry: GatewayRegistry,
        config: PgConfig,
        sandbox_secret: Option<Secret>,
    ) -> PgService {
        PgService {
            registry,
            config,
            sandbox_secret,
            instance_id: uuid::Uuid::new_v4().simple().to_string(),
        }
    }

    pub fn registry(&self) -> &GatewayRegistry {
        &self.registry
    }

    pub fn config(&self) -> &PgConfig {
        &self.config
    }

    /// The secret the SANDBOX gateway signs with, which kosh's sandbox pages share.
    pub fn sandbox_secret(&self) -> Option<&str> {
        self.sandbox_secret
            .as_ref()
            .map(Secret::expose)
            .filter(|s| !s.is_empty())
    }

    /// This process's name in lease rows.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    fn discarded_message(&self) -> String {
        format!(
            "A transaction for this bill has been abruptly discarded, please retry after {} mins",
            2 * self.config.reconcile_after_ms / 60_000
        )
    }

    fn discarded(&self) -> DigitError {
        DigitError::new("TXN_ABRUPTLY_DISCARDED", self.discarded_message())
    }

    /// `/transaction/v1/_create`.
    pub async fn create(
        &self,
        db: &Db,
        mdms: &Mdms,
        clock: &Clock,
        requester: &AuthUser,
        request: &TransactionRequest,
    ) -> Result<Transaction, DigitError> {
        let new = wire::parse(request)?;
        if wire::callback_with_txn_id(&new.callback_url, "x").is_none() {
            return Err(DigitError::new(
                "INVALID_CALLBACK_URL",
                "callbackUrl must be an absolute http or https URL",
            ));
        }
        let mut errors = ErrorMap::new();
        if !self.registry.is_active(&new.gateway) {
            errors.put(
                "INVALID_PAYMENT_GATEWAY",
                "Invalid or inactive payment gateway provided",
            );
        }
        let bill_ids: Vec<String> = new
            .tax_and_payments
            .iter()
            .map(|tp| tp.bill_id.clone())
            .collect();
        let mut conn = db.pool().acquire().await?;
        for live in store::live_for_bills(&mut conn, &new.tenant_id, &bill_ids).await? {
            match live.status {
                // The payer's own earlier attempt may still complete; another payer's
                // does not block this one (whichever confirms second is refunded).
                TxnStatus::Pending if live.user_uuid == requester.uuid => {
                    errors.put("TXN_ABRUPTLY_DISCARDED", self.discarded_message());
                }
                TxnStatus::Pending => {}
                TxnStatus::Success => errors.put(
                    "TXN_CREATE_BILL_ALREADY_PAID",
                    "Bill has already been paid or is in pending state",
                ),
                TxnStatus::Failure => {}
            }
        }
        let paid = Paise::sum(new.tax_and_payments.iter().map(|tp| tp.amount_paid));
        if paid != Ok(new.amount) {
            errors.put(
                "TXN_CREATE_INVALID_TXN_AMT",
                "Transaction amount should be equal to sum of all  amountPaids in taxAndPayments",
            );
        }
        errors.into_result()?;

        let draft = draft(&new, requester, clock.now_ms());
        let provisional = payment_command(&draft, PROVISIONAL_INSTRUMENT, false);
        kosh_collection::service::validate_payment(
            &mut conn,
            mdms,
            clock,
            requester,
            &provisional,
            &PaymentOptions {
                expiry: Expiry::Enforced,
                receipt_date_ms: None,
            },
        )
        .await?;
        drop(conn);

        let mut txn = write_tx!(*db, |conn| {
            self.insert_new(conn, mdms, clock, &draft).await
        })?;
        if txn.is_settled() {
            return Ok(txn);
        }

        // The gateway is asked outside any database transaction.
        let Some(gateway) = self.registry.get(&txn.gateway) else {
            return Err(DigitError::new(
                "INVALID_PAYMENT_GATEWAY",
                "Invalid or inactive payment gateway provided",
            ));
        };
        match gateway.redirect(&txn.gateway_txn()).await {
            Ok(redirect) => {
                let now = clock.now_ms();
                write_tx!(*db, |conn| {
                    store::set_redirect(conn, &txn.tenant_id, &txn.txn_id, &redirect.url, now).await
                })?;
                txn.redirect_url = Some(redirect.url);
                Ok(txn)
            }
            Err(e) => {
                // The payer never got a page to pay on, so no money can have moved.
                tracing::warn!(txn_id = %txn.txn_id, gateway = %txn.gateway, error = %e, "no redirect from the gateway");
                let now = clock.now_ms();
                write_tx!(*db, |conn| {
                    self.fail(
                        conn,
                        &txn,
                        msg::REDIRECT_FAILED,
                        None,
                        Actor::Create(&txn.created_by),
                        now,
                    )
                    .await
                })?;
                Err(gateway_error(&e))
            }
        }
    }

    async fn insert_new(
        &self,
        conn: &mut AnyConnection,
        mdms: &Mdms,
        clock: &Clock,
        draft: &Transaction,
    ) -> Result<Transaction, DigitError> {
        let ids = kosh_idgen::generate(
            conn,
            mdms,
            clock,
            &IdRequest {
                id_name: TXN_ID_NAME,
                tenant_id: &draft.tenant_id,
                format: Some(DEFAULT_TXN_ID_FORMAT),
                count: 1,
            },
        )
        .await?;
        let mut txn = draft.clone();
        txn.txn_id = ids.into_iter().next().unwrap_or_default();
        txn.callback_url = wire::callback_with_txn_id(&draft.callback_url, &txn.txn_id)
            .unwrap_or_else(|| draft.callback_url.clone());
        store::insert(conn, &txn).await?;
        if !store::insert_bills(conn, &txn).await? {
            // Another live transaction took one of the bills since the check.
            return Err(self.discarded());
        }
        store::insert_dump(conn, &txn, None).await?;
        let bill_ids: Vec<String> = txn
            .tax_and_payments
            .iter()
            .map(|tp| tp.bill_id.clone())
            .collect();
        kosh_collection::hold::place(
            conn,
            &txn.tenant_id,
            &bill_ids,
            &txn.txn_id,
            &txn.user.uuid,
            txn.created_time,
            txn.created_time + 2 * self.config.reconcile_after_ms,
        )
        .await?;
        record_event(conn, TOPIC_SAVE, &txn, txn.created_time).await?;
        if txn.amount.is_zero() {
            return self
                .settle_in(
                    conn,
                    mdms,
                    clock,
                    &txn.txn_id,
                    None,
                    Actor::Create(&draft.created_by),
                )
                .await;
        }
        Ok(txn)
    }

    /// `/transaction/v1/_update`: `caller` is the token's user, `None` for a gateway's
    /// callback.
    pub async fn update(
        &self,
        db: &Db,
        mdms: &Mdms,
        clock: &Clock,
        caller: Option<&AuthUser>,
        params: &BTreeMap<String, String>,
    ) -> Result<Transaction, DigitError> {
        let Some(txn_id) = self.registry.find_txn_id(params) else {
            return Err(DigitError::new(
                "MISSING_UPDATE_TXN_ID",
                "Cannot process request, missing transaction id",
            ));
        };
        let txn = store::load_outside(db, txn_id.trim())
            .await?
            .ok_or_else(not_found)?;
        let actor = match caller {
            Some(user) if user.uuid == txn.user.uuid => Actor::Owner(&user.uuid),
            Some(user) => {
                tracing::warn!(txn_id = %txn.txn_id, user = %kosh_platform::pii::mask::log_name(&user.user_name), "update of another user's transaction refused");
                metrics::counter!("kosh_pg_update_refusals_total").increment(1);
                return Err(DigitError::item(
                    ErrorItem::new(
                        "TXN_UPDATE_NOT_ALLOWED",
                        "Only the user who created the transaction may update it",
                    )
                    .with_description(format!(
                        "Transaction {} was created by another user",
                        txn.txn_id
                    )),
                )
                .with_status(StatusCode::FORBIDDEN));
            }
            None => Actor::Callback,
        };
        self.refresh(db, mdms, clock, txn, params, actor).await
    }

    /// Asks the gateway about a PENDING transaction and applies its answer; a settled one is
    /// answered as it is, without asking. The same path serves `_update` and reconciliation.
    pub async fn refresh(
        &self,
        db: &Db,
        mdms: &Mdms,
        clock: &Clock,
        txn: Transaction,
        params: &BTreeMap<String, String>,
        actor: Actor<'_>,
    ) -> Result<Transaction, DigitError> {
        if txn.is_settled() {
            return Ok(txn);
        }
        let Some(gateway) = self.registry.get(&txn.gateway) else {
            tracing::error!(txn_id = %txn.txn_id, gateway = %txn.gateway, "the transaction's gateway is not configured; it stays PENDING");
            return Ok(txn);
        };
        let answer = match gateway.fetch_status(&txn.gateway_txn(), params).await {
            Ok(answer) => answer,
            Err(e) => {
                tracing::warn!(txn_id = %txn.txn_id, gateway = %txn.gateway, error = %e, "no status from the gateway; the transaction stays PENDING");
                metrics::counter!("kosh_pg_gateway_errors_total", "gateway" => txn.gateway.clone(), "code" => e.code()).increment(1);
                return Ok(txn);
            }
        };
        write_tx!(*db, |conn| {
            self.settle_in(conn, mdms, clock, &txn.txn_id, Some(&answer), actor)
                .await
        })
    }

    /// Applies a gateway's answer (`None`: a zero amount, SUCCESS without a gateway) to the
    /// transaction inside the caller's database transaction, if it is still PENDING.
    async fn settle_in(
        &self,
        conn: &mut AnyConnection,
        mdms: &Mdms,
        clock: &Clock,
        txn_id: &str,
        answer: Option<&GatewayStatus>,
        actor: Actor<'_>,
    ) -> Result<Transaction, DigitError> {
        let Some(current) = store::load(conn, txn_id).await? else {
            return Err(not_found());
        };
        if current.is_settled() {
            return Ok(current);
        }
        let now = clock.now_ms();
        let outcome = match answer {
            Some(answer) => self.decide(&current, answer, now),
            None => Outcome::Success,
        };
        let fields = answer.map(GatewayFields::from);
        let tenant_id = current.tenant_id.as_str();
        match outcome {
            Outcome::Success => {
                let change = Change {
                    status: TxnStatus::Success,
                    status_msg: msg::SUCCESSFUL,
                    gateway: fields.as_ref(),
                    modified_by: actor.modified_by(),
                    settled_by: actor.settled_by(),
                    now_ms: now,
                };
                if !store::settle(conn, tenant_id, txn_id, &change).await? {
                    return reload(conn, txn_id).await;
                }
                kosh_collection::hold::release(conn, tenant_id, txn_id).await?;
                self.receipt_or_refund(conn, mdms, clock, &current, now)
                    .await?;
                self.finish(conn, &current, answer, actor, now).await
            }
            Outcome::Failure(status_msg) => {
                self.fail(conn, &current, status_msg, fields.as_ref(), actor, now)
                    .await?;
                self.finish(conn, &current, answer, actor, now).await
            }
            Outcome::Close => {
                if store::close(conn, tenant_id, txn_id, msg::CLOSED_NO_RECORD, now).await? {
                    kosh_collection::hold::release(conn, tenant_id, txn_id).await?;
                    tracing::warn!(%txn_id, "the gateway has no record of the transaction; closed, its bills freed");
                    metrics::counter!("kosh_pg_transactions_closed_total").increment(1);
                    let closed = reload(conn, txn_id).await?;
                    record_event(conn, TOPIC_UPDATE, &closed, now).await?;
                }
                if let Some(answer) = answer {
                    store::dump_response(conn, tenant_id, txn_id, &answer.raw, None, now).await?;
                }
                reload(conn, txn_id).await
            }
            Outcome::Pending(status_msg) => {
                // A closed transaction keeps saying why it was closed.
                let status_msg = if current.closed_time.is_some() {
                    msg::CLOSED_NO_RECORD.to_string()
                } else {
                    status_msg
                };
                store::note_pending(conn, tenant_id, txn_id, &status_msg, fields.as_ref(), now)
                    .await?;
                if let Some(answer) = answer {
                    store::dump_response(conn, tenant_id, txn_id, &answer.raw, None, now).await?;
                }
                reload(conn, txn_id).await
            }
        }
    }

    /// Marks a PENDING transaction FAILURE and frees its bills.
    async fn fail(
        &self,
        conn: &mut AnyConnection,
        txn: &Transaction,
        status_msg: &str,
        fields: Option<&GatewayFields>,
        actor: Actor<'_>,
        now: i64,
    ) -> Result<bool, DigitError> {
        let change = Change {
            status: TxnStatus::Failure,
            status_msg,
            gateway: fields,
            modified_by: actor.modified_by(),
            settled_by: actor.settled_by(),
            now_ms: now,
        };
        let failed = store::settle(conn, &txn.tenant_id, &txn.txn_id, &change).await?;
        if failed {
            store::release_bills(conn, &txn.tenant_id, &txn.txn_id).await?;
            kosh_collection::hold::release(conn, &txn.tenant_id, &txn.txn_id).await?;
            if matches!(actor, Actor::Create(_)) {
                let settled = reload(conn, &txn.txn_id).await?;
                record_event(conn, TOPIC_UPDATE, &settled, now).await?;
            }
        }
        Ok(failed)
    }

    /// After a settlement: the dump, the outbox event, the metric; the settled row.
    async fn finish(
        &self,
        conn: &mut AnyConnection,
        before: &Transaction,
        answer: Option<&GatewayStatus>,
        actor: Actor<'_>,
        now: i64,
    ) -> Result<Transaction, DigitError> {
        if let Some(answer) = answer {
            store::dump_response(
                conn,
                &before.tenant_id,
                &before.txn_id,
                &answer.raw,
                None,
                now,
            )
            .await?;
        }
        let settled = reload(conn, &before.txn_id).await?;
        if settled.is_settled() {
            record_event(conn, TOPIC_UPDATE, &settled, now).await?;
            metrics::counter!("kosh_pg_transactions_settled_total",
                "status" => settled.status.as_str(), "by" => actor.settled_by())
            .increment(1);
            tracing::info!(txn_id = %settled.txn_id, status = %settled.status, by = actor.settled_by(),
                receipt = ?settled.receipt, "transaction settled");
        }
        Ok(settled)
    }

    /// The receipt of a transaction the gateway confirmed, in the caller's transaction; or,
    /// when its bills can no longer take it (paid meanwhile by another channel, cancelled),
    /// a refund due for the whole amount, named in the transaction's status message. The
    /// money is never dropped and never makes a second receipt.
    async fn receipt_or_refund(
        &self,
        conn: &mut AnyConnection,
        mdms: &Mdms,
        clock: &Clock,
        txn: &Transaction,
        now: i64,
    ) -> Result<(), DigitError> {
        let command = payment_command(txn, &txn.txn_id, true);
        let options = PaymentOptions {
            expiry: Expiry::Waived,
            receipt_date_ms: Some(txn.created_time),
        };
        let refused = {
            let mut savepoint = sqlx::Connection::begin(&mut *conn).await?;
            match kosh_collection::service::create_payment(
                &mut savepoint,
                mdms,
                clock,
                &txn.creator(),
                &command,
                &options,
            )
            .await
            {
                Ok(created) => {
                    savepoint.commit().await?;
                    store::record_payment(
                        conn,
                        &txn.tenant_id,
                        &txn.txn_id,
                        &created.id,
                        &created.receipt_numbers,
                        txn.created_time,
                        now,
                    )
                    .await?;
                    return Ok(());
                }
                Err(e) if e.status.is_client_error() && !e.retryable => {
                    savepoint.rollback().await?;
                    e
                }
                Err(e) => return Err(e),
            }
        };
        let bill = kosh_billing::bill::store::load_one(conn, &txn.tenant_id, &txn.bill_id).await?;
        let (consumer_code, business_service) = match &bill {
            Some(b) => (b.consumer_code.clone(), b.business_service.clone()),
            None => (
                txn.consumer_code.clone(),
                txn.module.clone().unwrap_or_default(),
            ),
        };
        let why = refused
            .errors
            .first()
            .map(|i| format!("{}: {}", i.code, i.message))
            .unwrap_or_default();
        let due = refund::record(
            conn,
            &NewRefund {
                tenant_id: &txn.tenant_id,
                source: Source::Online,
                source_ref: &txn.txn_id,
                bill_id: &txn.bill_id,
                consumer_code: &consumer_code,
                business_service: &business_service,
                amount: txn.amount,
                reason: format!(
                    "The gateway confirmed the payment of transaction {} but its bills could not take it ({why})",
                    txn.txn_id
                ),
                payer_name: Some(&txn.user.name),
                mobile_number: Some(&txn.user.mobile_number),
                created_by: &txn.user.uuid,
            },
            now,
        )
        .await?;
        let status_msg = format!("{} {}", msg::REFUND_DUE, due.notice());
        store::record_refund(conn, &txn.tenant_id, &txn.txn_id, &due.id, &status_msg).await?;
        Ok(())
    }

    fn decide(&self, txn: &Transaction, answer: &GatewayStatus, now: i64) -> Outcome {
        match answer.status {
            TxnStatus::Success if answer.amount_paise == Some(txn.amount) => Outcome::Success,
            TxnStatus::Success => {
                tracing::error!(txn_id = %txn.txn_id, expected = txn.amount.get(), reported = ?answer.amount_paise.map(Paise::get),
                    "gateway reports another amount; the transaction stays PENDING for review");
                Outcome::Pending(format!(
                    "{}: the gateway reported {}",
                    msg::AMOUNT_MISMATCH,
                    answer
                        .amount_paise
                        .map(Paise::rupees)
                        .unwrap_or_else(|| "no amount".into())
                ))
            }
            TxnStatus::Failure => Outcome::Failure(msg::FAILED_AT_GATEWAY),
            TxnStatus::Pending
                if !answer.found_at_gateway
                    && now - txn.created_time >= 2 * self.config.reconcile_after_ms =>
            {
                Outcome::Close
            }
            TxnStatus::Pending => Outcome::Pending(msg::PENDING_AT_GATEWAY.to_string()),
        }
    }
}

async fn reload(conn: &mut AnyConnection, txn_id: &str) -> Result<Transaction, DigitError> {
    store::load(conn, txn_id).await?.ok_or_else(not_found)
}

fn not_found() -> DigitError {
    DigitError::new("TXN_UPDATE_NOT_FOUND", "Transaction not found")
}

async fn record_event(
    conn: &mut AnyConnection,
    topic: &str,
    txn: &Transaction,
    now: i64,
) -> Result<(), DigitError> {
    let payload = json!({"RequestInfo": {}, "Transaction": txn.to_json()});
    outbox::record(conn, &txn.tenant_id, topic, &txn.txn_id, &payload, now).await?;
    Ok(())
}

/// A transaction as `_create` makes it, before it has an id.
fn draft(new: &NewTransaction, requester: &AuthUser, now: i64) -> Transaction {
    Transaction {
        txn_id: PROVISIONAL_INSTRUMENT.to_string(),
        tenant_id: new.tenant_id.clone(),
        amount: new.amount,
        status: TxnStatus::Pending,
        status_msg: Some(msg::INITIATED.to_string()),
        gateway: new.gateway.clone(),
        bill_id: new.bill_id.clone(),
        module: new.module.clone(),
        consumer_code: new.consumer_code.clone(),
        product_info: new.product_info.clone(),
        callback_url: new.callback_url.clone(),
        redirect_url: None,
        user: TxnUser {
            id: requester.id,
            uuid: requester.uuid.clone(),
            user_type: requester.user_type.clone(),
            user_name: requester.user_name.clone(),
            tenant_id: requester.tenant_id.clone(),
            name: new.payer_name.clone(),
            mobile_number: new.payer_mobile.clone(),
            email_id: new
                .payer_email
                .clone()
                .or_else(|| requester.email_id.clone()),
        },
        gateway_txn_id: None,
        gateway_payment_mode: None,
        gateway_status_code: None,
        gateway_status_msg: None,
        receipt: None,
        payment_id: None,
        tax_and_payments: new.tax_and_payments.clone(),
        additional_details: new.additional_details.clone(),
        created_by: requester.uuid.clone(),
        created_time: now,
        last_modified_by: Some(requester.uuid.clone()),
        last_modified_time: now,
        settled_by: None,
        settled_time: None,
        closed_time: None,
        refund_id: None,
    }
}

/// The payment DIGIT's pg sends to collection (egov-pg-service `PaymentsService`: to
/// `payments/_validate` at `_create`, to `payments/_create` on SUCCESS), as collection's typed
/// command: mode ONLINE, instrument and transaction number the txn id (or the provisional
/// marker), paid by the payer, one payment detail per bill. `register` adds the instrument
/// date and additional details.
fn payment_command(txn: &Transaction, instrument: &str, register: bool) -> NewPayment {
    let shares: Vec<BillShare> = txn
        .tax_and_payments
        .iter()
        .map(|tp| BillShare {
            bill_id: tp.bill_id.clone(),
            amount: tp.amount_paid,
            total_due: None,
        })
        .collect();
    let payer = Payer {
        paid_by: Some(txn.user.name.clone()).filter(|n| !n.trim().is_empty()),
        payer_name: Some(txn.user.name.clone()).filter(|n| !n.trim().is_empty()),
        mobile_number: Some(txn.user.mobile_number.clone()).filter(|m| !m.trim().is_empty()),
        payer_email: None,
        additional_details: register.then(|| txn.additional_details_json()),
    };
    NewPayment::online(
        &txn.tenant_id,
        Channel::Online {
            txn_id: instrument.to_string(),
        },
        txn.amount,
        &shares,
        payer,
        register.then_some(txn.created_time),
        RequestInfo {
            user_info: Some(txn.creator().user_info()),
            ..RequestInfo::default()
        },
    )
}

/// A gateway that could not start the payment.
pub fn gateway_error(e: &GatewayError) -> DigitError {
    let status = match e {
        GatewayError::InvalidTxn { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::BAD_GATEWAY,
    };
    DigitError::item(
        ErrorItem::new(
            e.code(),
            "The payment gateway could not start the payment, please retry",
        )
        .with_description(e.to_string()),
    )
    .with_status(status)
}
