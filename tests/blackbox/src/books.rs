//! The books of a running kosh, checked from its database alone (issue 14, item 7).
//!
//! [`Snapshot::load`] reads every table that holds money (whole-table reads in one read
//! transaction, cheap on a test database; portable SQL, so the same code runs on SQLite
//! and PostgreSQL). Every sum is taken in Rust over `i128`, which no sum of `i64` paise
//! rows can overflow, rather than with SQL `SUM`, which PostgreSQL answers as NUMERIC
//! and SQLite may silently turn into a float. [`Snapshot::violations`] checks the rules
//! that hold at any instant; [`Watch`] remembers what it saw and adds the rules about
//! change (a settled transaction stays settled, a receipt number is never reused).
//!
//! The rules, each a [`Rule`]:
//!
//! - (a) **one live receipt per bill**: per (tenant, bill), at most one payment detail with
//!   `live = 1`. A payment's details are live exactly while the payment's status is NEW,
//!   DEPOSITED or RECONCILED, and they add up to its `total_amount_paid`.
//! - (b) **collected within tax**: per demand detail, 0 ≤ collection ≤ tax for a tax ≥ 0
//!   and tax ≤ collection ≤ 0 for a negative tax (a rebate or an advance is "collected" as
//!   it is used); the same bounds on each (demand, tax head) sum.
//! - (c) **collected = apportioned**: per (tenant, demand, tax head),
//!   `Σ egbs_demand_detail.collection_amount` =
//!   `Σ billAccountDetails[].adjustedAmount` over the `bill` snapshots of live payment
//!   details, taking each account detail under its bill detail's `demandId` and its own
//!   `taxHeadCode`. This is the strongest equality the stored data supports: an account
//!   detail names only the first demand detail of its head (billing merges the details of
//!   one head and fills them smallest tax first), so a per-detail equality cannot be
//!   derived, but the per-head sum can. Advance needs no special case: money paid beyond
//!   a bill becomes a new ADVANCE_COLLECTION detail with tax = −advance and collection 0
//!   (it appears in no adjustedAmount), and when a later bill uses the credit its payment
//!   puts a negative adjustedAmount on the advance head, which is exactly what billing
//!   adds to that detail's collection.
//!   With it, the bill agrees with its payment: a bill has a live payment detail exactly
//!   when it is PAID or PARTIALLY_PAID, `egbs_bill.payment_id` is that detail's payment,
//!   `egbs_bill.amount_paid` = Σ adjustedAmount of the snapshot, and the detail's
//!   `amount_paid` = `egbs_bill.amount_paid + egbs_bill.advance_amount`.
//! - (d) **every rupee from every channel accounted for**, per source:
//!   - a SUCCESS pg transaction has either exactly one receipt (its `eg_pg_txn_payment`
//!     row names a live payment with `transaction_number` = txnId and total = the
//!     transaction's amount, and `eg_pg_transactions.payment_id`/`receipt` agree) or
//!     exactly one refund due (channel ONLINE, source = txnId, amount = the
//!     transaction's, named by `refund_id`), never both; a PENDING or FAILURE one has
//!     neither;
//!   - a BBPS posting SUCCESS has its live payment of its amount and no refund due;
//!     REFUND_PENDING has its live payment, a `bbps_refund` row and a refund due
//!     (channel BBPS) of its amount; REVERSED and FAILED have no live payment and no
//!     refund due;
//!   - every refund due has its source (an ONLINE one a SUCCESS transaction whose
//!     `refund_id` it is; a BBPS one a REFUND_PENDING posting);
//!   - and globally, in paise:
//!
//!     ```text
//!     Σ pg SUCCESS amounts + Σ BBPS SUCCESS and REFUND_PENDING amounts
//!       + Σ live counter payments + Σ COUNTER refunds due            (money received)
//!       + Σ BBPS REFUND_PENDING amounts                             (owed twice, see below)
//!     = Σ live payments (all channels) + Σ refunds due (any status)
//!     ```
//!
//!     A counter payment is a payment that no pg transaction and no BBPS posting names.
//!     A refund due counts whatever its status: DUE is owed, REFUNDED was paid back,
//!     ADVANCED is held as the consumer's advance (see (h)); money paid beyond a bill is
//!     inside its live payment's total. A BBPS REFUND_PENDING posting is the one source
//!     counted twice on the right: BBPS took the money back from the payer's side, its
//!     receipt stands (it was not the latest of its consumer code) and the city also owes
//!     the refund, so it is added once more on the left.
//! - (e) **receipt numbers unique**: per tenant, no receipt number on two payment details,
//!   and none empty.
//! - (f) **settled is final** ([`Watch`]): a SUCCESS or FAILURE pg transaction never
//!   changes status again; a BBPS posting moves only SUCCESS → REVERSED or
//!   REFUND_PENDING; a refund due moves only DUE → REFUNDED or ADVANCED, and keeps its
//!   amount; a receipt number, once seen, stays on the same payment detail, and a detail
//!   that stopped being live never becomes live again.
//! - (h) **advance held is accounted**: every ADVANCE head detail with a non-zero tax is
//!   held by exactly one owner, either a bill whose `advance_demand_detail_id` it is (with
//!   `advance_amount` = −tax; by (c), only a bill with a live receipt holds an advance) or
//!   an ADVANCED refund due
//!   whose `settlement_reference` it is (with amount = −tax); every bill naming an advance
//!   detail finds it with tax = −advance.
//! - (i) **holds only while pending**: a bill hold names a pg transaction that is PENDING
//!   and not closed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use kosh_platform::money::Paise;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

/// Which rule a violation breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// (a) at most one live payment detail per bill.
    OneLiveReceiptPerBill,
    /// (a) a payment's details are live exactly while it stands, and add up to its total.
    PaymentConsistent,
    /// (b) 0 ≤ collected ≤ tax (or tax ≤ collected ≤ 0).
    CollectedWithinTax,
    /// (c) per demand and head, collected = Σ live apportioned amounts.
    CollectedEqualsApportioned,
    /// (c) a bill's status, payment and amounts agree with its live payment detail.
    BillMatchesPayment,
    /// (d) a pg transaction's money is one receipt or one refund due, as its status says.
    OnlineMoneyAccounted,
    /// (d) a BBPS posting's money is where its status says.
    BbpsMoneyAccounted,
    /// (d) a refund due has the source that owes it.
    RefundHasSource,
    /// (d) the global equation.
    MoneyConserved,
    /// (e) receipt numbers unique per tenant.
    ReceiptNumberUnique,
    /// (f) settled states never change back.
    SettledIsFinal,
    /// (f) a receipt number stays on its detail; a dead detail stays dead.
    ReceiptKept,
    /// (h) every advance held has one owner.
    AdvanceAccounted,
    /// (i) a hold belongs to a PENDING, unclosed transaction.
    HoldOnlyWhilePending,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::OneLiveReceiptPerBill => "one-live-receipt-per-bill",
            Rule::PaymentConsistent => "payment-consistent",
            Rule::CollectedWithinTax => "collected-within-tax",
            Rule::CollectedEqualsApportioned => "collected-equals-apportioned",
            Rule::BillMatchesPayment => "bill-matches-payment",
            Rule::OnlineMoneyAccounted => "online-money-accounted",
            Rule::BbpsMoneyAccounted => "bbps-money-accounted",
            Rule::RefundHasSource => "refund-has-source",
            Rule::MoneyConserved => "money-conserved",
            Rule::ReceiptNumberUnique => "receipt-number-unique",
            Rule::SettledIsFinal => "settled-is-final",
            Rule::ReceiptKept => "receipt-kept",
            Rule::AdvanceAccounted => "advance-accounted",
            Rule::HoldOnlyWhilePending => "hold-only-while-pending",
        }
    }
}

/// One broken rule: which, and what and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: Rule,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.rule.as_str(), self.detail)
    }
}

/// Payment statuses of a payment that stands (collection's `cancel::LIVE`).
const LIVE_STATUSES: [&str; 3] = ["NEW", "DEPOSITED", "RECONCILED"];

#[derive(Debug, Clone)]
pub struct PaymentRow {
    pub tenant_id: String,
    pub id: String,
    pub payment_status: String,
    pub total_amount_paid: i64,
    pub transaction_number: Option<String>,
}

#[derive(Debug, Clone)]
pub struct DetailRow {
    pub tenant_id: String,
    pub id: String,
    pub payment_id: String,
    pub bill_id: String,
    pub receipt_number: String,
    pub amount_paid: i64,
    pub live: bool,
    /// The bill snapshot, as stored; read (and parsed) only for live details, empty for
    /// the others.
    pub bill: String,
}

#[derive(Debug, Clone)]
pub struct DemandDetailRow {
    pub tenant_id: String,
    pub id: String,
    pub demand_id: String,
    pub tax_head_code: String,
    pub tax_amount: i64,
    pub collection_amount: i64,
}

#[derive(Debug, Clone)]
pub struct BillRow {
    pub tenant_id: String,
    pub id: String,
    pub status: String,
    pub amount_paid: i64,
    pub payment_id: Option<String>,
    pub advance_amount: i64,
    pub advance_demand_detail_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PgTxnRow {
    pub tenant_id: String,
    pub txn_id: String,
    pub amount: i64,
    pub status: String,
    pub receipt: Option<String>,
    pub payment_id: Option<String>,
    pub refund_id: Option<String>,
    pub closed_time: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct PgPaymentRow {
    pub tenant_id: String,
    pub txn_id: String,
    pub payment_id: String,
    pub receipt_numbers: String,
}

#[derive(Debug, Clone)]
pub struct BbpsRow {
    pub tenant_id: String,
    pub txn_reference_id: String,
    pub amount: i64,
    pub status: String,
    pub payment_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct BbpsRefundRow {
    pub tenant_id: String,
    pub txn_reference_id: String,
    pub amount: i64,
}

#[derive(Debug, Clone)]
pub struct RefundRow {
    pub tenant_id: String,
    pub id: String,
    pub channel: String,
    pub source_ref: String,
    pub amount: i64,
    pub status: String,
    pub settlement_reference: Option<String>,
}

#[derive(Debug, Clone)]
pub struct HoldRow {
    pub tenant_id: String,
    pub bill_id: String,
    pub holder_ref: String,
}

/// Every money-holding row of the database at one instant.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub payments: Vec<PaymentRow>,
    pub details: Vec<DetailRow>,
    pub demand_details: Vec<DemandDetailRow>,
    pub bills: Vec<BillRow>,
    pub pg: Vec<PgTxnRow>,
    pub pg_payments: Vec<PgPaymentRow>,
    pub bbps: Vec<BbpsRow>,
    pub bbps_refunds: Vec<BbpsRefundRow>,
    pub refunds: Vec<RefundRow>,
    pub holds: Vec<HoldRow>,
}

fn bool_of(row: &AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}

async fn rows<T>(
    conn: &mut AnyConnection,
    sql: &'static str,
    map: impl Fn(&AnyRow) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, sqlx::Error> {
    sqlx::query(sql)
        .fetch_all(conn)
        .await?
        .iter()
        .map(map)
        .collect()
}

impl Snapshot {
    /// Reads the books: ten plain SELECTs, no SQL arithmetic, in one read transaction
    /// that sees one instant (REPEATABLE READ on PostgreSQL; on SQLite a transaction's
    /// reads share the snapshot its first read took), so that the checker can read the
    /// books of a server that is busy writing them.
    pub async fn load(pool: &AnyPool) -> Result<Snapshot, sqlx::Error> {
        let mut tx = pool.begin().await?;
        if tx.backend_name().eq_ignore_ascii_case("postgresql") {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        let payments = rows(
            &mut tx,
            "SELECT tenant_id, id, payment_status, total_amount_paid, transaction_number FROM egcl_payment",
            |r| {
                Ok(PaymentRow {
                    tenant_id: r.try_get("tenant_id")?,
                    id: r.try_get("id")?,
                    payment_status: r.try_get("payment_status")?,
                    total_amount_paid: r.try_get("total_amount_paid")?,
                    transaction_number: r.try_get("transaction_number")?,
                })
            },
        )
        .await?;
        let details = rows(
            &mut tx,
            "SELECT tenant_id, id, payment_id, bill_id, receipt_number, amount_paid, live, \
             CASE WHEN live = 1 THEN bill ELSE '' END AS bill FROM egcl_paymentdetail",
            |r| {
                Ok(DetailRow {
                    tenant_id: r.try_get("tenant_id")?,
                    id: r.try_get("id")?,
                    payment_id: r.try_get("payment_id")?,
                    bill_id: r.try_get("bill_id")?,
                    receipt_number: r.try_get("receipt_number")?,
                    amount_paid: r.try_get("amount_paid")?,
                    live: bool_of(r, "live")?,
                    bill: r.try_get("bill")?,
                })
            },
        )
        .await?;
        let demand_details = rows(
            &mut tx,
            "SELECT tenant_id, id, demand_id, tax_head_code, tax_amount, collection_amount FROM egbs_demand_detail",
            |r| {
                Ok(DemandDetailRow {
                    tenant_id: r.try_get("tenant_id")?,
                    id: r.try_get("id")?,
                    demand_id: r.try_get("demand_id")?,
                    tax_head_code: r.try_get("tax_head_code")?,
                    tax_amount: r.try_get("tax_amount")?,
                    collection_amount: r.try_get("collection_amount")?,
                })
            },
        )
        .await?;
        let bills = rows(
            &mut tx,
            "SELECT tenant_id, id, status, amount_paid, payment_id, advance_amount, advance_demand_detail_id FROM egbs_bill",
            |r| {
                Ok(BillRow {
                    tenant_id: r.try_get("tenant_id")?,
                    id: r.try_get("id")?,
                    status: r.try_get("status")?,
                    amount_paid: r.try_get("amount_paid")?,
                    payment_id: r.try_get("payment_id")?,
                    advance_amount: r.try_get("advance_amount")?,
                    advance_demand_detail_id: r.try_get("advance_demand_detail_id")?,
                })
            },
        )
        .await?;
        let pg = rows(
            &mut tx,
            "SELECT tenant_id, txn_id, txn_amount, txn_status, receipt, payment_id, refund_id, closed_time FROM eg_pg_transactions",
            |r| {
                Ok(PgTxnRow {
                    tenant_id: r.try_get("tenant_id")?,
                    txn_id: r.try_get("txn_id")?,
                    amount: r.try_get("txn_amount")?,
                    status: r.try_get("txn_status")?,
                    receipt: r.try_get("receipt")?,
                    payment_id: r.try_get("payment_id")?,
                    refund_id: r.try_get("refund_id")?,
                    closed_time: r.try_get("closed_time")?,
                })
            },
        )
        .await?;
        let pg_payments = rows(
            &mut tx,
            "SELECT tenant_id, txn_id, payment_id, receipt_numbers FROM eg_pg_txn_payment",
            |r| {
                Ok(PgPaymentRow {
                    tenant_id: r.try_get("tenant_id")?,
                    txn_id: r.try_get("txn_id")?,
                    payment_id: r.try_get("payment_id")?,
                    receipt_numbers: r.try_get("receipt_numbers")?,
                })
            },
        )
        .await?;
        let bbps = rows(
            &mut tx,
            "SELECT tenant_id, txn_reference_id, amount, status, payment_id FROM bbps_txn",
            |r| {
                Ok(BbpsRow {
                    tenant_id: r.try_get("tenant_id")?,
                    txn_reference_id: r.try_get("txn_reference_id")?,
                    amount: r.try_get("amount")?,
                    status: r.try_get("status")?,
                    payment_id: r.try_get("payment_id")?,
                })
            },
        )
        .await?;
        let bbps_refunds = rows(
            &mut tx,
            "SELECT tenant_id, txn_reference_id, amount FROM bbps_refund",
            |r| {
                Ok(BbpsRefundRow {
                    tenant_id: r.try_get("tenant_id")?,
                    txn_reference_id: r.try_get("txn_reference_id")?,
                    amount: r.try_get("amount")?,
                })
            },
        )
        .await?;
        let refunds = rows(
            &mut tx,
            "SELECT tenant_id, id, channel, source_ref, amount, status, settlement_reference FROM egcl_refund_due",
            |r| {
                Ok(RefundRow {
                    tenant_id: r.try_get("tenant_id")?,
                    id: r.try_get("id")?,
                    channel: r.try_get("channel")?,
                    source_ref: r.try_get("source_ref")?,
                    amount: r.try_get("amount")?,
                    status: r.try_get("status")?,
                    settlement_reference: r.try_get("settlement_reference")?,
                })
            },
        )
        .await?;
        let holds = rows(
            &mut tx,
            "SELECT tenant_id, bill_id, holder_ref FROM egcl_bill_hold",
            |r| {
                Ok(HoldRow {
                    tenant_id: r.try_get("tenant_id")?,
                    bill_id: r.try_get("bill_id")?,
                    holder_ref: r.try_get("holder_ref")?,
                })
            },
        )
        .await?;
        tx.rollback().await?;
        Ok(Snapshot {
            payments,
            details,
            demand_details,
            bills,
            pg,
            pg_payments,
            bbps,
            bbps_refunds,
            refunds,
            holds,
        })
    }

    /// Every rule that holds at one instant, checked; the violations found.
    pub fn violations(&self) -> Vec<Violation> {
        self.violations_with(&mut Parsed::default())
    }

    /// [`Snapshot::violations`], reusing the bill snapshots `parsed` has already read when
    /// their stored text is unchanged (a [`Watch`] keeps one across checks).
    pub fn violations_with(&self, parsed: &mut Parsed) -> Vec<Violation> {
        let mut out = Out::default();
        let index = Index::of(self);
        parsed.refresh(self);
        self.check_payments(&index, &mut out);
        self.check_demands(parsed, &mut out);
        self.check_bills(&index, parsed, &mut out);
        self.check_online(&index, &mut out);
        self.check_bbps(&index, &mut out);
        self.check_refunds(&index, &mut out);
        self.check_conservation(&index, &mut out);
        self.check_receipt_numbers(&mut out);
        self.check_advance(&mut out);
        self.check_holds(&index, &mut out);
        out.0
    }
}

#[derive(Default)]
struct Out(Vec<Violation>);

impl Out {
    fn push(&mut self, rule: Rule, detail: String) {
        self.0.push(Violation { rule, detail });
    }
}

/// Lookups over a snapshot.
struct Index<'a> {
    payments: HashMap<(&'a str, &'a str), &'a PaymentRow>,
    payment_by_id: HashMap<&'a str, &'a PaymentRow>,
    /// Payment id → its details.
    details_of: HashMap<&'a str, Vec<&'a DetailRow>>,
    /// (tenant, bill) → its live details.
    live_of_bill: HashMap<(&'a str, &'a str), Vec<&'a DetailRow>>,
    pg: HashMap<&'a str, &'a PgTxnRow>,
    pg_payment: HashMap<(&'a str, &'a str), Vec<&'a PgPaymentRow>>,
    /// Payment id → the pg transactions naming it (eg_pg_txn_payment or payment_id).
    pg_by_payment: HashMap<&'a str, BTreeSet<&'a str>>,
    bbps: HashMap<&'a str, Vec<&'a BbpsRow>>,
    bbps_by_payment: HashMap<&'a str, BTreeSet<&'a str>>,
    bbps_refund: HashMap<&'a str, Vec<&'a BbpsRefundRow>>,
    /// (channel, source_ref) → refunds due.
    refunds: HashMap<(&'a str, &'a str), Vec<&'a RefundRow>>,
    /// (tenant, transaction_number) → payments.
    by_txn_number: HashMap<(&'a str, &'a str), Vec<&'a PaymentRow>>,
}

impl<'a> Index<'a> {
    fn of(s: &'a Snapshot) -> Index<'a> {
        let mut index = Index {
            payments: HashMap::new(),
            payment_by_id: HashMap::new(),
            details_of: HashMap::new(),
            live_of_bill: HashMap::new(),
            pg: HashMap::new(),
            pg_payment: HashMap::new(),
            pg_by_payment: HashMap::new(),
            bbps: HashMap::new(),
            bbps_by_payment: HashMap::new(),
            bbps_refund: HashMap::new(),
            refunds: HashMap::new(),
            by_txn_number: HashMap::new(),
        };
        for p in &s.payments {
            index.payments.insert((&p.tenant_id, &p.id), p);
            index.payment_by_id.insert(&p.id, p);
            if let Some(n) = &p.transaction_number {
                index
                    .by_txn_number
                    .entry((&p.tenant_id, n))
                    .or_default()
                    .push(p);
            }
        }
        for d in &s.details {
            index.details_of.entry(&d.payment_id).or_default().push(d);
            if d.live {
                index
                    .live_of_bill
                    .entry((&d.tenant_id, &d.bill_id))
                    .or_default()
                    .push(d);
            }
        }
        for t in &s.pg {
            index.pg.insert(&t.txn_id, t);
            if let Some(p) = &t.payment_id {
                index.pg_by_payment.entry(p).or_default().insert(&t.txn_id);
            }
        }
        for p in &s.pg_payments {
            index
                .pg_payment
                .entry((&p.tenant_id, &p.txn_id))
                .or_default()
                .push(p);
            index
                .pg_by_payment
                .entry(&p.payment_id)
                .or_default()
                .insert(&p.txn_id);
        }
        for b in &s.bbps {
            index.bbps.entry(&b.txn_reference_id).or_default().push(b);
            if let Some(p) = &b.payment_id {
                index
                    .bbps_by_payment
                    .entry(p)
                    .or_default()
                    .insert(&b.txn_reference_id);
            }
        }
        for r in &s.bbps_refunds {
            index
                .bbps_refund
                .entry(&r.txn_reference_id)
                .or_default()
                .push(r);
        }
        for r in &s.refunds {
            index
                .refunds
                .entry((&r.channel, &r.source_ref))
                .or_default()
                .push(r);
        }
        index
    }

    fn payment(&self, tenant: &str, id: &str) -> Option<&'a PaymentRow> {
        self.payments.get(&(tenant, id)).copied()
    }

    /// A payment by id in any tenant (BBPS rows live under the state tenant).
    fn payment_any(&self, id: &str) -> Option<&'a PaymentRow> {
        self.payment_by_id.get(id).copied()
    }

    fn is_live(&self, payment: &PaymentRow) -> bool {
        LIVE_STATUSES.contains(&payment.payment_status.as_str())
            && self
                .details_of
                .get(payment.id.as_str())
                .is_some_and(|ds| !ds.is_empty() && ds.iter().all(|d| d.live))
    }

    /// A counter payment: no pg transaction and no BBPS posting names it.
    fn is_counter(&self, payment: &PaymentRow) -> bool {
        !self.pg_by_payment.contains_key(payment.id.as_str())
            && !self.bbps_by_payment.contains_key(payment.id.as_str())
    }
}

/// The apportionment a bill snapshot records: (demandId, taxHeadCode, adjusted paise).
fn apportioned(bill: &Value) -> Lines {
    let mut out = Vec::new();
    let details = bill["billDetails"]
        .as_array()
        .ok_or("the snapshot has no billDetails")?;
    for detail in details {
        let demand = detail["demandId"]
            .as_str()
            .ok_or("a bill detail has no demandId")?;
        for account in detail["billAccountDetails"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let head = account["taxHeadCode"]
                .as_str()
                .ok_or("an account detail has no taxHeadCode")?;
            let adjusted = match &account["adjustedAmount"] {
                Value::Null => 0,
                v => Paise::from_json(v)
                    .map_err(|e| format!("adjustedAmount {v} of {head}: {e}"))?
                    .get(),
            };
            out.push((demand.to_string(), head.to_string(), adjusted));
        }
    }
    Ok(out)
}

/// What a bill snapshot records: (demandId, taxHeadCode, adjusted paise) per account
/// detail, or why it cannot be read.
type Lines = Result<Vec<(String, String, i64)>, String>;

/// The apportionment of every live payment detail's bill snapshot, each parsed once and
/// kept while its stored text is unchanged.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    by_detail: HashMap<String, (String, Lines)>,
}

impl Parsed {
    fn refresh(&mut self, snapshot: &Snapshot) {
        let mut kept = HashMap::new();
        for d in snapshot.details.iter().filter(|d| d.live) {
            let entry = match self.by_detail.remove(&d.id) {
                Some((text, lines)) if text == d.bill => (text, lines),
                _ => {
                    let lines = serde_json::from_str::<Value>(&d.bill)
                        .map_err(|e| format!("bill snapshot is not JSON: {e}"))
                        .and_then(|bill| apportioned(&bill));
                    (d.bill.clone(), lines)
                }
            };
            kept.insert(d.id.clone(), entry);
        }
        self.by_detail = kept;
    }

    fn lines(&self, detail_id: &str) -> &Lines {
        static MISSING: Lines = Ok(Vec::new());
        self.by_detail.get(detail_id).map_or(&MISSING, |(_, l)| l)
    }
}

fn add(sum: &mut i128, v: i64) {
    *sum += i128::from(v);
}

fn within_sign_bounds(tax: i128, collected: i128) -> bool {
    if tax >= 0 {
        (0..=tax).contains(&collected)
    } else {
        (tax..=0).contains(&collected)
    }
}

fn is_advance_head(code: &str) -> bool {
    code.to_ascii_uppercase().contains("ADVANCE")
}

fn state_of(tenant: &str) -> &str {
    tenant.split('.').next().unwrap_or(tenant)
}

impl Snapshot {
    /// (a): one live detail per bill; payments consistent with their details.
    fn check_payments(&self, index: &Index<'_>, out: &mut Out) {
        for ((tenant, bill), live) in &index.live_of_bill {
            if live.len() > 1 {
                out.push(
                    Rule::OneLiveReceiptPerBill,
                    format!(
                        "bill {bill} of {tenant} has {} live receipts: {}",
                        live.len(),
                        live.iter()
                            .map(|d| d.receipt_number.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
        for p in &self.payments {
            let details = index
                .details_of
                .get(p.id.as_str())
                .cloned()
                .unwrap_or_default();
            if details.is_empty() {
                out.push(
                    Rule::PaymentConsistent,
                    format!("payment {} has no payment details", p.id),
                );
                continue;
            }
            let standing = LIVE_STATUSES.contains(&p.payment_status.as_str());
            for d in &details {
                if d.live != standing {
                    out.push(
                        Rule::PaymentConsistent,
                        format!(
                            "payment {} is {} but its detail {} (receipt {}) has live = {}",
                            p.id, p.payment_status, d.id, d.receipt_number, d.live
                        ),
                    );
                }
                if d.tenant_id != p.tenant_id {
                    out.push(
                        Rule::PaymentConsistent,
                        format!(
                            "payment {} of {} has detail {} of {}",
                            p.id, p.tenant_id, d.id, d.tenant_id
                        ),
                    );
                }
            }
            let mut sum = 0i128;
            for d in &details {
                add(&mut sum, d.amount_paid);
            }
            if sum != i128::from(p.total_amount_paid) {
                out.push(
                    Rule::PaymentConsistent,
                    format!(
                        "payment {}: its details add up to {sum} paise, its total is {}",
                        p.id, p.total_amount_paid
                    ),
                );
            }
        }
        for d in &self.details {
            if index.payment(&d.tenant_id, &d.payment_id).is_none() {
                out.push(
                    Rule::PaymentConsistent,
                    format!(
                        "payment detail {} names payment {} which does not exist",
                        d.id, d.payment_id
                    ),
                );
            }
        }
    }

    /// (b) and (c): demand details within their tax; per (demand, head) collected equals the
    /// live apportioned amounts.
    fn check_demands(&self, parsed: &Parsed, out: &mut Out) {
        // (tenant, demand, head) → (Σ tax, Σ collection, Σ apportioned by live payments).
        let mut heads: BTreeMap<(&str, &str, &str), (i128, i128)> = BTreeMap::new();
        for d in &self.demand_details {
            if !within_sign_bounds(d.tax_amount.into(), d.collection_amount.into()) {
                out.push(
                    Rule::CollectedWithinTax,
                    format!(
                        "demand {} detail {} ({}): collected {} outside tax {}",
                        d.demand_id, d.id, d.tax_head_code, d.collection_amount, d.tax_amount
                    ),
                );
            }
            let entry = heads
                .entry((&d.tenant_id, &d.demand_id, &d.tax_head_code))
                .or_default();
            add(&mut entry.0, d.tax_amount);
            add(&mut entry.1, d.collection_amount);
        }
        for ((_, demand, head), (tax, collected)) in &heads {
            if !within_sign_bounds(*tax, *collected) {
                out.push(
                    Rule::CollectedWithinTax,
                    format!(
                        "demand {demand} head {head}: collected {collected} outside tax {tax} (summed over its details)"
                    ),
                );
            }
        }
        let mut paid: BTreeMap<(String, String, String), i128> = BTreeMap::new();
        for d in self.details.iter().filter(|d| d.live) {
            match parsed.lines(&d.id) {
                Ok(lines) => {
                    for (demand, head, amount) in lines {
                        add(
                            paid.entry((d.tenant_id.clone(), demand.clone(), head.clone()))
                                .or_default(),
                            *amount,
                        );
                    }
                }
                Err(why) => out.push(
                    Rule::CollectedEqualsApportioned,
                    format!("receipt {}: {why}", d.receipt_number),
                ),
            }
        }
        for ((tenant, demand, head), (_, collected)) in &heads {
            let key = (tenant.to_string(), demand.to_string(), head.to_string());
            let apportioned = paid.remove(&key).unwrap_or(0);
            if apportioned != *collected {
                out.push(
                    Rule::CollectedEqualsApportioned,
                    format!(
                        "demand {demand} head {head}: collected {collected} paise, live payments apportioned {apportioned}"
                    ),
                );
            }
        }
        for ((_, demand, head), amount) in paid {
            if amount != 0 {
                out.push(
                    Rule::CollectedEqualsApportioned,
                    format!(
                        "live payments apportioned {amount} paise to demand {demand} head {head}, which has no such detail"
                    ),
                );
            }
        }
    }

    /// (c): a bill agrees with its live payment detail.
    fn check_bills(&self, index: &Index<'_>, parsed: &Parsed, out: &mut Out) {
        let mut seen = BTreeSet::new();
        for b in &self.bills {
            seen.insert((b.tenant_id.as_str(), b.id.as_str()));
            let live = index
                .live_of_bill
                .get(&(b.tenant_id.as_str(), b.id.as_str()))
                .and_then(|l| l.first());
            let paid_status = b.status == "PAID" || b.status == "PARTIALLY_PAID";
            match live {
                None => {
                    if paid_status
                        || b.payment_id.is_some()
                        || b.amount_paid != 0
                        || b.advance_amount != 0
                        || b.advance_demand_detail_id.is_some()
                    {
                        out.push(
                            Rule::BillMatchesPayment,
                            format!(
                                "bill {} is {} (payment {:?}, amount paid {}, advance {} on {:?}) but has no live receipt",
                                b.id,
                                b.status,
                                b.payment_id,
                                b.amount_paid,
                                b.advance_amount,
                                b.advance_demand_detail_id
                            ),
                        );
                    }
                }
                Some(d) => {
                    if !paid_status || b.payment_id.as_deref() != Some(d.payment_id.as_str()) {
                        out.push(
                            Rule::BillMatchesPayment,
                            format!(
                                "bill {} is {} with payment {:?}, but receipt {} of payment {} is live on it",
                                b.id, b.status, b.payment_id, d.receipt_number, d.payment_id
                            ),
                        );
                    }
                    if i128::from(d.amount_paid)
                        != i128::from(b.amount_paid) + i128::from(b.advance_amount)
                    {
                        out.push(
                            Rule::BillMatchesPayment,
                            format!(
                                "bill {}: receipt {} paid {} paise, the bill records {} paid + {} advance",
                                b.id, d.receipt_number, d.amount_paid, b.amount_paid, b.advance_amount
                            ),
                        );
                    }
                    if let Ok(lines) = parsed.lines(&d.id) {
                        let sum: i128 = lines.iter().map(|l| i128::from(l.2)).sum();
                        if sum != i128::from(b.amount_paid) {
                            out.push(
                                Rule::BillMatchesPayment,
                                format!(
                                    "bill {}: receipt {} apportioned {sum} paise, the bill records {} paid",
                                    b.id, d.receipt_number, b.amount_paid
                                ),
                            );
                        }
                    }
                }
            }
        }
        for (tenant, bill) in index.live_of_bill.keys() {
            if !seen.contains(&(*tenant, *bill)) {
                out.push(
                    Rule::BillMatchesPayment,
                    format!("a live receipt pays bill {bill} of {tenant}, which does not exist"),
                );
            }
        }
    }

    /// (d) for pg transactions.
    fn check_online(&self, index: &Index<'_>, out: &mut Out) {
        for t in &self.pg {
            let links = index
                .pg_payment
                .get(&(t.tenant_id.as_str(), t.txn_id.as_str()))
                .cloned()
                .unwrap_or_default();
            let named = index
                .by_txn_number
                .get(&(t.tenant_id.as_str(), t.txn_id.as_str()))
                .cloned()
                .unwrap_or_default();
            let refunds = index
                .refunds
                .get(&("ONLINE", t.txn_id.as_str()))
                .cloned()
                .unwrap_or_default();
            let at = format!(
                "pg transaction {} ({}, {} paise)",
                t.txn_id, t.status, t.amount
            );
            match t.status.as_str() {
                "SUCCESS" => {
                    let receipted =
                        !links.is_empty() || !named.is_empty() || t.payment_id.is_some();
                    let refunded = !refunds.is_empty() || t.refund_id.is_some();
                    match (receipted, refunded) {
                        (true, true) => out.push(
                            Rule::OnlineMoneyAccounted,
                            format!("{at} has both a receipt and a refund due"),
                        ),
                        (false, false) => out.push(
                            Rule::OnlineMoneyAccounted,
                            format!(
                                "{at} has neither a receipt nor a refund due: its money is lost"
                            ),
                        ),
                        (true, false) => {
                            check_online_receipt(t, &links, &named, index, &at, out);
                        }
                        (false, true) => {
                            let ok = refunds.len() == 1
                                && t.refund_id.as_deref() == Some(refunds[0].id.as_str())
                                && refunds[0].amount == t.amount
                                && refunds[0].tenant_id == t.tenant_id;
                            if !ok {
                                out.push(
                                    Rule::OnlineMoneyAccounted,
                                    format!(
                                        "{at}: refund_id {:?}, refunds due {:?}: not exactly one refund due of its amount",
                                        t.refund_id,
                                        refunds.iter().map(|r| (&r.id, r.amount)).collect::<Vec<_>>()
                                    ),
                                );
                            }
                        }
                    }
                }
                "PENDING" | "FAILURE" => {
                    if !links.is_empty()
                        || !named.is_empty()
                        || t.payment_id.is_some()
                        || t.receipt.is_some()
                    {
                        out.push(Rule::OnlineMoneyAccounted, format!("{at} has a receipt"));
                    }
                    if !refunds.is_empty() || t.refund_id.is_some() {
                        out.push(Rule::OnlineMoneyAccounted, format!("{at} has a refund due"));
                    }
                }
                other => out.push(
                    Rule::OnlineMoneyAccounted,
                    format!("{at}: unknown status {other}"),
                ),
            }
        }
        for p in &self.pg_payments {
            if !index.pg.contains_key(p.txn_id.as_str()) {
                out.push(
                    Rule::OnlineMoneyAccounted,
                    format!(
                        "eg_pg_txn_payment names transaction {} which does not exist",
                        p.txn_id
                    ),
                );
            }
        }
    }

    /// (d) for BBPS postings.
    fn check_bbps(&self, index: &Index<'_>, out: &mut Out) {
        for b in &self.bbps {
            let at = format!(
                "BBPS posting {} ({}, {} paise)",
                b.txn_reference_id, b.status, b.amount
            );
            let payment = b.payment_id.as_deref().and_then(|id| index.payment_any(id));
            let live = payment.is_some_and(|p| index.is_live(p));
            let refunds: Vec<&RefundRow> = index
                .refunds
                .get(&("BBPS", b.txn_reference_id.as_str()))
                .into_iter()
                .flatten()
                .copied()
                .filter(|r| state_of(&r.tenant_id) == state_of(&b.tenant_id))
                .collect();
            let bbps_refunds = index
                .bbps_refund
                .get(b.txn_reference_id.as_str())
                .cloned()
                .unwrap_or_default();
            let check_payment = |out: &mut Out| match payment {
                Some(p) if live => {
                    if p.total_amount_paid != b.amount {
                        out.push(
                            Rule::BbpsMoneyAccounted,
                            format!(
                                "{at}: its payment {} is of {} paise",
                                p.id, p.total_amount_paid
                            ),
                        );
                    }
                }
                _ => out.push(
                    Rule::BbpsMoneyAccounted,
                    format!("{at}: no live payment (payment_id {:?})", b.payment_id),
                ),
            };
            match b.status.as_str() {
                "SUCCESS" => {
                    check_payment(out);
                    if !refunds.is_empty() || !bbps_refunds.is_empty() {
                        out.push(Rule::BbpsMoneyAccounted, format!("{at} has a refund due"));
                    }
                }
                "REFUND_PENDING" => {
                    check_payment(out);
                    let ok = refunds.len() == 1
                        && refunds[0].amount == b.amount
                        && bbps_refunds.len() == 1
                        && bbps_refunds[0].amount == b.amount;
                    if !ok {
                        out.push(
                            Rule::BbpsMoneyAccounted,
                            format!(
                                "{at}: refunds due {:?}, bbps_refund {:?}: not one refund due of its amount",
                                refunds.iter().map(|r| (&r.id, r.amount)).collect::<Vec<_>>(),
                                bbps_refunds.iter().map(|r| r.amount).collect::<Vec<_>>()
                            ),
                        );
                    }
                }
                "REVERSED" | "FAILED" => {
                    if live {
                        out.push(
                            Rule::BbpsMoneyAccounted,
                            format!("{at} still has a live payment {:?}", b.payment_id),
                        );
                    }
                    if b.status == "FAILED" && payment.is_some() {
                        out.push(
                            Rule::BbpsMoneyAccounted,
                            format!("{at} has a payment {:?}", b.payment_id),
                        );
                    }
                    if !refunds.is_empty() || !bbps_refunds.is_empty() {
                        out.push(Rule::BbpsMoneyAccounted, format!("{at} has a refund due"));
                    }
                }
                other => out.push(
                    Rule::BbpsMoneyAccounted,
                    format!("{at}: status {other} outside a posting's own transaction"),
                ),
            }
        }
    }

    /// (d): every refund due has its source.
    fn check_refunds(&self, index: &Index<'_>, out: &mut Out) {
        for r in &self.refunds {
            let at = format!(
                "refund due {} ({} {}, {} paise, {})",
                r.id, r.channel, r.source_ref, r.amount, r.status
            );
            if r.amount <= 0 {
                out.push(
                    Rule::RefundHasSource,
                    format!("{at}: not a positive amount"),
                );
            }
            if !["DUE", "REFUNDED", "ADVANCED"].contains(&r.status.as_str()) {
                out.push(Rule::RefundHasSource, format!("{at}: unknown status"));
            }
            match r.channel.as_str() {
                "ONLINE" => {
                    let ok = index.pg.get(r.source_ref.as_str()).is_some_and(|t| {
                        t.status == "SUCCESS" && t.refund_id.as_deref() == Some(r.id.as_str())
                    });
                    if !ok {
                        out.push(
                            Rule::RefundHasSource,
                            format!("{at}: no SUCCESS transaction names it"),
                        );
                    }
                }
                "BBPS" => {
                    let ok = index
                        .bbps
                        .get(r.source_ref.as_str())
                        .into_iter()
                        .flatten()
                        .any(|b| {
                            b.status == "REFUND_PENDING"
                                && state_of(&b.tenant_id) == state_of(&r.tenant_id)
                        });
                    if !ok {
                        out.push(
                            Rule::RefundHasSource,
                            format!("{at}: no REFUND_PENDING posting owes it"),
                        );
                    }
                }
                // Money received at the counter for a bill already paid: its own source.
                "COUNTER" => {}
                other => out.push(
                    Rule::RefundHasSource,
                    format!("{at}: unknown channel {other}"),
                ),
            }
        }
    }

    /// (d): the global equation (see the module's documentation).
    fn check_conservation(&self, index: &Index<'_>, out: &mut Out) {
        let mut pg_success = 0i128;
        for t in self.pg.iter().filter(|t| t.status == "SUCCESS") {
            add(&mut pg_success, t.amount);
        }
        let mut bbps_received = 0i128;
        let mut bbps_refund_pending = 0i128;
        for b in &self.bbps {
            match b.status.as_str() {
                "SUCCESS" => add(&mut bbps_received, b.amount),
                "REFUND_PENDING" => {
                    add(&mut bbps_received, b.amount);
                    add(&mut bbps_refund_pending, b.amount);
                }
                _ => {}
            }
        }
        let mut counter = 0i128;
        let mut live_payments = 0i128;
        for p in self.payments.iter().filter(|p| index.is_live(p)) {
            add(&mut live_payments, p.total_amount_paid);
            if index.is_counter(p) {
                add(&mut counter, p.total_amount_paid);
            }
        }
        let mut refunds = 0i128;
        let mut counter_refunds = 0i128;
        for r in &self.refunds {
            add(&mut refunds, r.amount);
            if r.channel == "COUNTER" {
                add(&mut counter_refunds, r.amount);
            }
        }
        let received = pg_success + bbps_received + counter + counter_refunds;
        if received + bbps_refund_pending != live_payments + refunds {
            out.push(
                Rule::MoneyConserved,
                format!(
                    "received {received} paise (pg {pg_success} + BBPS {bbps_received} + counter {counter} + counter refunds {counter_refunds}) \
                     + BBPS refund pending {bbps_refund_pending} != live receipts {live_payments} + refunds due {refunds}"
                ),
            );
        }
    }

    /// (e): receipt numbers unique per tenant.
    fn check_receipt_numbers(&self, out: &mut Out) {
        let mut seen: HashMap<(&str, &str), &str> = HashMap::new();
        for d in &self.details {
            if d.receipt_number.trim().is_empty() {
                out.push(
                    Rule::ReceiptNumberUnique,
                    format!("payment detail {} has no receipt number", d.id),
                );
                continue;
            }
            if let Some(other) = seen.insert((&d.tenant_id, &d.receipt_number), &d.id) {
                out.push(
                    Rule::ReceiptNumberUnique,
                    format!(
                        "receipt number {} of {} is on payment details {other} and {}",
                        d.receipt_number, d.tenant_id, d.id
                    ),
                );
            }
        }
    }

    /// (h): every advance held has one owner.
    fn check_advance(&self, out: &mut Out) {
        let details: HashMap<&str, &DemandDetailRow> = self
            .demand_details
            .iter()
            .map(|d| (d.id.as_str(), d))
            .collect();
        let mut owners: HashMap<&str, Vec<(String, i64)>> = HashMap::new();
        for b in &self.bills {
            if let Some(id) = &b.advance_demand_detail_id {
                owners
                    .entry(id)
                    .or_default()
                    .push((format!("bill {}", b.id), b.advance_amount));
                match details.get(id.as_str()) {
                    Some(d) if d.tax_amount == -b.advance_amount => {}
                    Some(d) => out.push(
                        Rule::AdvanceAccounted,
                        format!(
                            "bill {} holds an advance of {} paise on detail {id}, whose tax is {}",
                            b.id, b.advance_amount, d.tax_amount
                        ),
                    ),
                    None => out.push(
                        Rule::AdvanceAccounted,
                        format!(
                            "bill {} holds an advance on detail {id}, which does not exist",
                            b.id
                        ),
                    ),
                }
            } else if b.advance_amount != 0 {
                out.push(
                    Rule::AdvanceAccounted,
                    format!(
                        "bill {} records an advance of {} paise on no demand detail",
                        b.id, b.advance_amount
                    ),
                );
            }
        }
        for r in self.refunds.iter().filter(|r| r.status == "ADVANCED") {
            match &r.settlement_reference {
                Some(id) => owners
                    .entry(id)
                    .or_default()
                    .push((format!("refund due {}", r.id), r.amount)),
                None => out.push(
                    Rule::AdvanceAccounted,
                    format!("refund due {} is ADVANCED on no demand detail", r.id),
                ),
            }
        }
        for d in self
            .demand_details
            .iter()
            .filter(|d| is_advance_head(&d.tax_head_code))
        {
            let held = owners.get(d.id.as_str()).cloned().unwrap_or_default();
            let ok = match held.as_slice() {
                [] => d.tax_amount == 0,
                [(_, amount)] => -d.tax_amount == *amount,
                _ => false,
            };
            if !ok {
                out.push(
                    Rule::AdvanceAccounted,
                    format!(
                        "advance detail {} of demand {} (tax {}, used {}) is held by {:?}",
                        d.id, d.demand_id, d.tax_amount, d.collection_amount, held
                    ),
                );
            }
        }
    }

    /// (i): holds belong to PENDING, unclosed transactions.
    fn check_holds(&self, index: &Index<'_>, out: &mut Out) {
        for h in &self.holds {
            let ok = index.pg.get(h.holder_ref.as_str()).is_some_and(|t| {
                t.status == "PENDING" && t.closed_time.is_none() && t.tenant_id == h.tenant_id
            });
            if !ok {
                out.push(
                    Rule::HoldOnlyWhilePending,
                    format!(
                        "bill {} is held by {}, which is not a PENDING open transaction",
                        h.bill_id, h.holder_ref
                    ),
                );
            }
        }
    }
}

/// The receipt of a SUCCESS transaction: one live payment of its amount, named alike
/// everywhere.
fn check_online_receipt(
    t: &PgTxnRow,
    links: &[&PgPaymentRow],
    named: &[&PaymentRow],
    index: &Index<'_>,
    at: &str,
    out: &mut Out,
) {
    let [link] = links else {
        out.push(
            Rule::OnlineMoneyAccounted,
            format!("{at} has {} eg_pg_txn_payment rows", links.len()),
        );
        return;
    };
    let [payment] = named else {
        out.push(
            Rule::OnlineMoneyAccounted,
            format!(
                "{at}: {} payments carry its transaction number ({})",
                named.len(),
                named
                    .iter()
                    .map(|p| p.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        return;
    };
    if payment.id != link.payment_id || t.payment_id.as_deref() != Some(payment.id.as_str()) {
        out.push(
            Rule::OnlineMoneyAccounted,
            format!(
                "{at}: payment {} carries its number, eg_pg_txn_payment names {}, the transaction names {:?}",
                payment.id, link.payment_id, t.payment_id
            ),
        );
    }
    if !index.is_live(payment) {
        out.push(
            Rule::OnlineMoneyAccounted,
            format!(
                "{at}: its payment {} is {}",
                payment.id, payment.payment_status
            ),
        );
    }
    if payment.total_amount_paid != t.amount {
        out.push(
            Rule::OnlineMoneyAccounted,
            format!(
                "{at}: its payment {} is of {} paise",
                payment.id, payment.total_amount_paid
            ),
        );
    }
    let numbers: BTreeSet<String> = serde_json::from_str::<Vec<String>>(&link.receipt_numbers)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let actual: BTreeSet<String> = index
        .details_of
        .get(payment.id.as_str())
        .into_iter()
        .flatten()
        .map(|d| d.receipt_number.clone())
        .collect();
    if numbers != actual || t.receipt.as_ref().is_none_or(|r| !actual.contains(r)) {
        out.push(
            Rule::OnlineMoneyAccounted,
            format!(
                "{at}: receipt {:?} and recorded receipts {numbers:?} are not its payment's {actual:?}",
                t.receipt
            ),
        );
    }
}

/// Reads the books and checks the rules that hold at any instant.
pub async fn check(pool: &AnyPool) -> Result<Vec<Violation>, sqlx::Error> {
    Ok(Snapshot::load(pool).await?.violations())
}

/// A checker that remembers what it has seen, for the rules about change (f).
#[derive(Debug, Default)]
pub struct Watch {
    parsed: Parsed,
    pg: HashMap<String, String>,
    bbps: HashMap<(String, String), String>,
    refunds: HashMap<(String, String), (String, i64)>,
    /// (tenant, receipt number) → (payment detail id, live).
    receipts: HashMap<(String, String), (String, bool)>,
}

fn bbps_move_allowed(from: &str, to: &str) -> bool {
    from == to || (from == "SUCCESS" && (to == "REVERSED" || to == "REFUND_PENDING"))
}

impl Watch {
    pub fn new() -> Watch {
        Watch::default()
    }

    /// Loads the books, checks every rule, remembers this state; the snapshot read and the
    /// violations.
    pub async fn check(
        &mut self,
        pool: &AnyPool,
    ) -> Result<(Snapshot, Vec<Violation>), sqlx::Error> {
        let snapshot = Snapshot::load(pool).await?;
        let violations = self.observe(&snapshot);
        Ok((snapshot, violations))
    }

    /// Checks `snapshot` (every instant rule, and its changes since the last one seen) and
    /// remembers it.
    pub fn observe(&mut self, snapshot: &Snapshot) -> Vec<Violation> {
        let mut out = Out(snapshot.violations_with(&mut self.parsed));
        let mut pg = HashMap::new();
        for t in &snapshot.pg {
            if let Some(before) = self.pg.get(&t.txn_id)
                && (before == "SUCCESS" || before == "FAILURE")
                && *before != t.status
            {
                out.push(
                    Rule::SettledIsFinal,
                    format!(
                        "pg transaction {} went from {before} to {}",
                        t.txn_id, t.status
                    ),
                );
            }
            pg.insert(t.txn_id.clone(), t.status.clone());
        }
        for txn in self.pg.keys() {
            if !pg.contains_key(txn) {
                out.push(
                    Rule::SettledIsFinal,
                    format!("pg transaction {txn} has disappeared"),
                );
            }
        }
        let mut bbps = HashMap::new();
        for b in &snapshot.bbps {
            let key = (b.tenant_id.clone(), b.txn_reference_id.clone());
            if let Some(before) = self.bbps.get(&key)
                && !bbps_move_allowed(before, &b.status)
            {
                out.push(
                    Rule::SettledIsFinal,
                    format!(
                        "BBPS posting {} went from {before} to {}",
                        b.txn_reference_id, b.status
                    ),
                );
            }
            bbps.insert(key, b.status.clone());
        }
        for (_, reference) in self.bbps.keys() {
            if !snapshot
                .bbps
                .iter()
                .any(|b| &b.txn_reference_id == reference)
            {
                out.push(
                    Rule::SettledIsFinal,
                    format!("BBPS posting {reference} has disappeared"),
                );
            }
        }
        let mut refunds = HashMap::new();
        for r in &snapshot.refunds {
            let key = (r.tenant_id.clone(), r.id.clone());
            if let Some((status, amount)) = self.refunds.get(&key) {
                if *amount != r.amount {
                    out.push(
                        Rule::SettledIsFinal,
                        format!(
                            "refund due {} changed amount from {amount} to {}",
                            r.id, r.amount
                        ),
                    );
                }
                if status != &r.status && status != "DUE" {
                    out.push(
                        Rule::SettledIsFinal,
                        format!("refund due {} went from {status} to {}", r.id, r.status),
                    );
                }
            }
            refunds.insert(key, (r.status.clone(), r.amount));
        }
        for (_, id) in self.refunds.keys() {
            if !snapshot.refunds.iter().any(|r| &r.id == id) {
                out.push(
                    Rule::SettledIsFinal,
                    format!("refund due {id} has disappeared"),
                );
            }
        }
        let mut receipts = HashMap::new();
        for d in &snapshot.details {
            let key = (d.tenant_id.clone(), d.receipt_number.clone());
            if let Some((id, live)) = self.receipts.get(&key) {
                if id != &d.id {
                    out.push(
                        Rule::ReceiptKept,
                        format!(
                            "receipt number {} moved from payment detail {id} to {}",
                            d.receipt_number, d.id
                        ),
                    );
                }
                if !live && d.live {
                    out.push(
                        Rule::ReceiptKept,
                        format!("receipt {} came back to life", d.receipt_number),
                    );
                }
            }
            receipts.insert(key, (d.id.clone(), d.live));
        }
        for (tenant, number) in self.receipts.keys() {
            if !receipts.contains_key(&(tenant.clone(), number.clone())) {
                out.push(
                    Rule::ReceiptKept,
                    format!("receipt number {number} of {tenant} has disappeared"),
                );
            }
        }
        self.pg = pg;
        self.bbps = bbps;
        self.refunds = refunds;
        self.receipts = receipts;
        out.0
    }
}
