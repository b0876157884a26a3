//! Assert the books (issue 14, item 7): a seeded, randomized run that interleaves counter
//! payments (full, part, over, negative, stale bills, overriding an online hold), online
//! payments by two citizens through the simulated gateways with every outcome (success,
//! failure, pending, abandoned, a late success after the transaction was closed, repeated
//! callbacks, the payer's own status update), reconciliation passes as the test clock
//! moves, BBPS postings and reversals, counter cancellations, demand updates, refunds
//! settled (paid back or kept as advance) and bills fetched again, on SQLite and on
//! PostgreSQL. After every step the books are checked from the database
//! (`kosh_blackbox::books`), the run's own record of what the outside world did is checked
//! against them (the gateway's money, the counter's answers, BBPS's answers), and no
//! answer may be a 5xx. A failure names the seed, the step and the whole step log.
//!
//! `KOSH_BOOKS_SEED=<n>` replays one seed in every run function and `KOSH_BOOKS_STEPS=<n>`
//! changes the number of steps per run; `KOSH_BOOKS_LOG=1` prints the step log of a passing
//! run too.
//!
//! The last test plants one violation per rule straight into the database and shows that
//! the checker reports each.

use std::collections::HashMap;
use std::fmt::Write as _;

use kosh_blackbox::books::{Rule, Snapshot, Violation, Watch};
use kosh_blackbox::{Backend, Kosh, on_both_databases};
use kosh_pg::sim::{GatewaySim, SimCallback, SimGateway, SimOutcome};
use kosh_platform::money::{Paise, rupees_json};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    books_balance_seed_a,
    books_balance_seed_b,
    books_balance_seed_c,
    books_balance_seed_d_with_races,
    the_checker_catches_planted_violations,
);

/// Steps per run function, unless KOSH_BOOKS_STEPS says otherwise.
const STEPS: usize = 1500;

async fn books_balance_seed_a(backend: Backend) {
    run(backend, 0x6b6f_7368_0001).await;
}

async fn books_balance_seed_b(backend: Backend) {
    run(backend, 0x6b6f_7368_0002).await;
}

async fn books_balance_seed_c(backend: Backend) {
    run(backend, 0x6b6f_7368_0003).await;
}

/// With races: the counter, BBPS and the gateway's callback on one bill at once.
async fn books_balance_seed_d_with_races(backend: Backend) {
    run_with(backend, 0x6b6f_7368_0004, true).await;
}

/// 2019-06-15 10:00 IST, inside the 2019-20 tax periods.
const NOW: i64 = 1_560_573_000_000;
const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const TENANT: &str = "pb.amritsar";
const PT_FROM: i64 = 1_554_076_800_000;
const PT_TO: i64 = 1_585_679_399_000;
const PT_FROM_2018: i64 = 1_522_540_800_000;
const PT_TO_2018: i64 = 1_554_076_799_000;
const WS_FROM: i64 = 1_554_076_800_000;
const WS_TO: i64 = 1_617_235_199_999;
const PASSWORD: &str = "Secret@123";
const UNIT: &str = "bbps-books";
const UNIT_PASSWORD: &str = "Bbps@2026x";
const CALLBACK: &str = "https://ui.example/citizen/payment/success";
const UPDATE: &str = "/pg-service/transaction/v1/_update";

fn seed_for(default: u64) -> u64 {
    std::env::var("KOSH_BOOKS_SEED")
        .ok()
        .and_then(|s| {
            let s = s.trim();
            s.strip_prefix("0x")
                .map(|h| u64::from_str_radix(h, 16).ok())
                .unwrap_or_else(|| s.parse().ok())
        })
        .unwrap_or(default)
}

fn steps() -> usize {
    std::env::var("KOSH_BOOKS_STEPS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(STEPS)
}

fn paise(v: &Value) -> i64 {
    Paise::from_json(v).map(Paise::get).unwrap_or(0)
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// The first error code of a DIGIT error body, or the status.
fn outcome(status: StatusCode, body: &Value) -> String {
    match body["Errors"][0]["code"].as_str() {
        Some(code) => format!("{} {code}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// Bills and the amounts put on them, for the log.
fn describe(shares: &[(Value, i64)]) -> String {
    shares
        .iter()
        .map(|(b, a)| {
            format!(
                "{} bill {} {} ({a} paise)",
                text(&b["consumerCode"]),
                text(&b["id"]),
                text(&b["status"])
            )
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

/// A CASH payment of `shares` at the counter.
fn cash_for(shares: &[(Value, i64)], override_hold: bool) -> Value {
    let total: i64 = shares.iter().map(|(_, a)| a).sum();
    let mut payment = json!({"tenantId": TENANT, "totalAmountPaid": rupees_json(total),
        "paymentMode": "CASH", "paidBy": "Asha", "payerName": "Asha", "mobileNumber": "9876543210",
        "paymentDetails": shares.iter().map(|(b, a)| json!({"billId": b["id"], "totalDue": b["totalAmount"],
            "totalAmountPaid": rupees_json(*a), "businessService": b["businessService"]})).collect::<Vec<_>>()});
    if override_hold {
        payment["additionalDetails"] = json!({"overridePendingOnlinePayment": true});
    }
    json!({"RequestInfo": {"apiId": "Rainmaker"}, "Payment": payment})
}

/// A BBPS payment posting (JSON profile) of `amount` paise.
fn posting_json(service: Service, reference: &str, params: &Value, amount: i64) -> Value {
    json!({"RequestInfo": {"apiId": "bbps"}, "billerId": service.biller(),
        "txnReferenceId": reference, "refId": "FETCHBOOKS", "paymentRefId": "UPI0000123456",
        "customerParams": params, "customerMobile": "9876543210", "amount": amount,
        "paymentMode": "UPI", "paymentChannel": "MOB", "agentId": "AU01AU02INT529468291",
        "txnTimestamp": "2019-06-15T10:00:00+05:30"})
}

/// Runs `future` after `delay`.
async fn after<F: std::future::Future>(delay: std::time::Duration, future: F) -> F::Output {
    tokio::time::sleep(delay).await;
    future.await
}

/// Runs `future` when there is one.
async fn maybe<F: std::future::Future>(future: Option<F>) -> Option<F::Output> {
    match future {
        Some(f) => Some(f.await),
        None => None,
    }
}

/// The gateway's callback reaching `_update` without a token.
async fn callback_get(kosh: &Kosh, callback: &SimCallback) -> (StatusCode, Value) {
    let mut url = reqwest::Url::parse(&kosh.url(UPDATE)).expect("url");
    url.query_pairs_mut().extend_pairs(callback.params.iter());
    let response = kosh.client.get(url).send().await.expect("callback");
    kosh_blackbox::read(response).await
}

/// The steps a run is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// Fetch a consumer code's bill again.
    Fetch,
    /// A CASH payment: full, part, over, negative, zero, fractional; of a fresh or a stale
    /// bill; of one or two bills; sometimes overriding an online hold.
    Counter,
    /// An online transaction by one of the two citizens, of one or two bills.
    OnlineCreate,
    /// The payer pays at the gateway (success, failure, pending); the callback now or lost.
    GatewayOutcome,
    /// A callback delivered (again).
    RepeatCallback,
    /// The creator asks kosh about their transaction.
    OwnerUpdate,
    /// Time passes and reconciliation runs.
    Reconcile,
    /// The payer paid on the page of a transaction kosh has closed.
    LateSuccess,
    /// A payment the gateway held as pending completes or fails there.
    GatewaySettles,
    /// A BBPS posting: full, part, over, random.
    BbpsPosting,
    /// A BBPS reversal: of a paid posting, of any posting, of a reference never posted.
    BbpsReversal,
    /// The counter cancels one of its payments.
    CounterCancel,
    /// An employee raises (or lowers) a tax.
    DemandUpdate,
    /// An employee settles a refund due: paid back or kept as advance.
    SettleRefund,
    /// Time passes.
    Tick,
    /// Counter, BBPS, a gateway callback, a cancellation and a reversal on one consumer
    /// code at once.
    Race,
}

/// Each step and how often it comes.
const OPS: [(Op, u32); 16] = [
    (Op::Fetch, 5),
    (Op::Counter, 14),
    (Op::OnlineCreate, 14),
    (Op::GatewayOutcome, 12),
    (Op::RepeatCallback, 6),
    (Op::OwnerUpdate, 4),
    (Op::Reconcile, 8),
    (Op::LateSuccess, 5),
    (Op::GatewaySettles, 4),
    (Op::BbpsPosting, 10),
    (Op::BbpsReversal, 5),
    (Op::CounterCancel, 6),
    (Op::DemandUpdate, 16),
    (Op::SettleRefund, 3),
    (Op::Tick, 3),
    (Op::Race, 6),
];

struct Citizen {
    token: String,
    name: &'static str,
    mobile: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    Pt,
    Ws,
}

impl Service {
    fn code(self) -> &'static str {
        match self {
            Service::Pt => "PT",
            Service::Ws => "WS",
        }
    }

    fn biller(self) -> &'static str {
        match self {
            Service::Pt => "PBMT00000PUN01",
            Service::Ws => "PBWS00000PUN01",
        }
    }

    fn account_param(self) -> &'static str {
        match self {
            Service::Pt => "Property ID",
            Service::Ws => "Connection Number",
        }
    }
}

struct Account {
    service: Service,
    code: String,
}

struct Txn {
    id: String,
    gateway: SimGateway,
    redirect: Option<String>,
    /// Index into the citizens.
    creator: usize,
    amount: i64,
    /// The bills it pays.
    bills: Vec<String>,
    /// What the payer did at the gateway.
    sim: Option<SimOutcome>,
    callback: Option<SimCallback>,
}

struct CounterPayment {
    id: String,
    /// The consumer codes it paid.
    codes: Vec<String>,
    receipt: String,
    amount: i64,
    /// The model: false once a CANCEL was answered 200.
    live: bool,
}

struct Posting {
    reference: String,
    /// The account it was posted for (none for a reversal of a reference never posted).
    account: Option<usize>,
    amount: i64,
    /// The status kosh last answered for it.
    answered: String,
}

struct World {
    kosh: Kosh,
    sim: GatewaySim,
    rng: StdRng,
    seed: u64,
    backend: Backend,
    citizens: Vec<Citizen>,
    unit_token: String,
    accounts: Vec<Account>,
    /// The latest bill fetched per consumer code.
    bills: HashMap<String, Value>,
    /// Bills fetched earlier (paid, expired, replaced): for stale payments.
    old_bills: Vec<Value>,
    txns: Vec<Txn>,
    counter: Vec<CounterPayment>,
    postings: Vec<Posting>,
    watch: Watch,
    snapshot: Snapshot,
    log: Vec<String>,
    step: usize,
    next_ref: u64,
    /// Why the last fetch found no bill.
    last_fetch: String,
    /// Time spent checking the books.
    checking: std::time::Duration,
    /// Whether steps may run channels concurrently (a replay of the seed is then exact only
    /// up to the first race).
    races: bool,
}

/// kosh on `backend` with every gateway pointing at a fresh simulator, background
/// reconciliation off, tokens that outlive the run, the clock at NOW; two citizens, the
/// BBPS unit, and the demands of a few consumer codes.
async fn world(backend: Backend, seed: u64) -> World {
    let sim = GatewaySim::start().await.expect("simulator");
    let config = sim.config();
    let kosh = Kosh::start_with(backend, |s| {
        s.pg_gateways = Some(config);
        s.pg_reconcile_every_seconds = 0;
        s.access_token_minutes = 10 * 365 * 24 * 60;
    })
    .await;
    kosh.set_clock(NOW).await;
    let mut citizens = Vec::new();
    let mut payer = String::new();
    for (mobile, name) in [("9876543210", "Asha"), ("9876500000", "Ravi")] {
        let user = kosh
            .create_user(
                json!({"userName": mobile, "name": name, "mobileNumber": mobile,
                "type": "CITIZEN", "active": true, "password": PASSWORD, "tenantId": "pb",
                "roles": [{"code": "CITIZEN", "tenantId": "pb"}]}),
            )
            .await;
        if payer.is_empty() {
            payer = text(&user["uuid"]);
        }
        citizens.push(Citizen {
            token: kosh.token(mobile, PASSWORD, "pb", "CITIZEN").await,
            name,
            mobile,
        });
    }
    kosh.create_user(
        json!({"userName": UNIT, "name": "BBPS unit", "type": "SYSTEM", "active": true,
        "password": UNIT_PASSWORD, "tenantId": "pb", "allowedIps": ["127.0.0.1"],
        "roles": [{"code": "BBPS", "tenantId": "pb"}]}),
    )
    .await;
    let unit_token = kosh.token(UNIT, UNIT_PASSWORD, "pb", "SYSTEM").await;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut accounts = Vec::new();
    for (i, service) in [
        Service::Pt,
        Service::Pt,
        Service::Pt,
        Service::Ws,
        Service::Ws,
    ]
    .into_iter()
    .enumerate()
    {
        let code = format!("BK-{}-{}", service.code(), i + 1);
        let mut periods = vec![(
            if service == Service::Pt {
                PT_FROM
            } else {
                WS_FROM
            },
            if service == Service::Pt { PT_TO } else { WS_TO },
        )];
        if i == 0 {
            // Arrears: a bill of two periods.
            periods.push((PT_FROM_2018, PT_TO_2018));
        }
        for (from, to) in periods {
            let mut heads = match service {
                Service::Pt => vec![json!({"taxHeadMasterCode": "PT_TAX",
                    "taxAmount": rng.random_range(300..3000), "collectionAmount": 0})],
                Service::Ws => vec![json!({"taxHeadMasterCode": "WS_CHARGE",
                    "taxAmount": rng.random_range(200..2000), "collectionAmount": 0})],
            };
            if rng.random_bool(0.6) {
                heads.push(match service {
                    Service::Pt => json!({"taxHeadMasterCode": "PT_FIRE_CESS",
                        "taxAmount": rng.random_range(1..200), "collectionAmount": 0}),
                    Service::Ws => json!({"taxHeadMasterCode": "WS_WATER_CESS",
                        "taxAmount": rng.random_range(1..150), "collectionAmount": 0}),
                });
            }
            if service == Service::Pt && rng.random_bool(0.4) {
                heads.push(json!({"taxHeadMasterCode": "PT_TIME_REBATE",
                    "taxAmount": -rng.random_range(5..50), "collectionAmount": 0}));
            }
            let body = json!({"RequestInfo": {}, "Demands": [{"tenantId": TENANT, "consumerCode": code,
                "consumerType": "BUILTUP", "businessService": service.code(), "payer": {"uuid": payer},
                "taxPeriodFrom": from, "taxPeriodTo": to, "demandDetails": heads}]});
            let (status, answer) = kosh.post("/billing-service/demand/_create", body).await;
            assert_eq!(status, StatusCode::CREATED, "{answer}");
        }
        accounts.push(Account { service, code });
    }
    World {
        kosh,
        sim,
        rng,
        seed,
        backend,
        citizens,
        unit_token,
        accounts,
        bills: HashMap::new(),
        old_bills: Vec::new(),
        txns: Vec::new(),
        counter: Vec::new(),
        postings: Vec::new(),
        watch: Watch::new(),
        snapshot: Snapshot::default(),
        log: Vec::new(),
        step: 0,
        next_ref: 0,
        last_fetch: String::new(),
        checking: std::time::Duration::ZERO,
        races: false,
    }
}

/// One randomized run of `steps()` steps, one channel at a time.
async fn run(backend: Backend, default_seed: u64) {
    run_with(backend, default_seed, false).await;
}

async fn run_with(backend: Backend, default_seed: u64, races: bool) {
    let seed = seed_for(default_seed);
    let mut w = world(backend, seed).await;
    w.races = races;
    w.check().await;
    let steps = steps();
    let started = std::time::Instant::now();
    for step in 1..=steps {
        w.step = step;
        // Time passes between steps, so that no two payments share a millisecond: which
        // receipt of a consumer code is the latest (the one a cancellation may take back)
        // is then decided, and a seed replays the same run.
        let ms = w.rng.random_range(1..3 * SECOND);
        w.advance(ms).await;
        let line = w.random_step().await;
        w.log.push(format!("#{step} {line}"));
        w.check().await;
    }
    let line = w.drain().await;
    w.log.push(format!("#drain {line}"));
    w.check().await;
    w.assert_gateway_money_settled();
    if std::env::var_os("KOSH_BOOKS_LOG").is_some() {
        eprintln!("{}", w.log.join("\n"));
    }
    eprintln!(
        "books: {backend:?} seed {seed:#x}: {steps} steps in {:.1?} ({:.1?} checking the books); {} counter payments, {} online transactions, {} BBPS postings, {} refunds due",
        started.elapsed(),
        w.checking,
        w.counter.len(),
        w.txns.len(),
        w.postings.len(),
        w.snapshot.refunds.len()
    );
    w.kosh.stop().await;
}

impl World {
    /// Panics with the seed, the step and the log.
    fn fail(&self, why: &str) -> ! {
        let mut log = String::new();
        for line in &self.log {
            let _ = writeln!(log, "  {line}");
        }
        panic!(
            "books violated on {:?}, seed {:#x} (KOSH_BOOKS_SEED={}), step {}:\n{why}\nstep log:\n{log}",
            self.backend, self.seed, self.seed, self.step
        );
    }

    fn no_5xx(&self, what: &str, status: StatusCode, body: &Value) {
        if status.is_server_error() {
            self.fail(&format!("{what} answered {status}: {body}"));
        }
    }

    async fn post(&self, what: &str, path: &str, body: Value) -> (StatusCode, Value) {
        let (status, answer) = self.kosh.post(path, body).await;
        self.no_5xx(what, status, &answer);
        (status, answer)
    }

    async fn post_as(
        &self,
        what: &str,
        token: &str,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let (status, answer) = self.kosh.post_as(token, path, body).await;
        self.no_5xx(what, status, &answer);
        (status, answer)
    }

    /// The books and the run's own record, after a step.
    async fn check(&mut self) {
        let started = std::time::Instant::now();
        let checked = self.watch.check(self.kosh.state().db.pool()).await;
        self.checking += started.elapsed();
        let (snapshot, violations) = match checked {
            Ok(found) => found,
            Err(e) => self.fail(&format!("the books could not be read: {e}")),
        };
        self.snapshot = snapshot;
        if !violations.is_empty() {
            let list: Vec<String> = violations.iter().map(Violation::to_string).collect();
            self.fail(&list.join("\n"));
        }
        self.check_model();
    }

    /// What the outside world did agrees with the books: kosh never marks SUCCESS money
    /// the gateway did not take, nor FAILURE money it took; every counter payment answered
    /// 200 stands until its cancellation is answered 200; every BBPS posting is as kosh
    /// last answered.
    fn check_model(&self) {
        let pg: HashMap<&str, &str> = self
            .snapshot
            .pg
            .iter()
            .map(|t| (t.txn_id.as_str(), t.status.as_str()))
            .collect();
        for t in &self.txns {
            let status = pg.get(t.id.as_str()).copied().unwrap_or("MISSING");
            let fine = match status {
                "SUCCESS" => t.sim == Some(SimOutcome::Success) || t.amount == 0,
                "FAILURE" => t.sim == Some(SimOutcome::Failure),
                "PENDING" => true,
                _ => false,
            };
            if !fine {
                self.fail(&format!(
                    "transaction {} is {status} in kosh, the gateway says {:?}",
                    t.id, t.sim
                ));
            }
        }
        let payments: HashMap<&str, &str> = self
            .snapshot
            .payments
            .iter()
            .map(|p| (p.id.as_str(), p.payment_status.as_str()))
            .collect();
        for p in &self.counter {
            let status = payments.get(p.id.as_str()).copied().unwrap_or("MISSING");
            let standing = ["NEW", "DEPOSITED", "RECONCILED"].contains(&status);
            if standing != p.live {
                self.fail(&format!(
                    "counter payment {} (receipt {}, {} paise) is {status}; the counter was told it is {}",
                    p.id,
                    p.receipt,
                    p.amount,
                    if p.live { "live" } else { "cancelled" }
                ));
            }
        }
        let bbps: HashMap<&str, &str> = self
            .snapshot
            .bbps
            .iter()
            .map(|b| (b.txn_reference_id.as_str(), b.status.as_str()))
            .collect();
        for p in &self.postings {
            if !["SUCCESS", "FAILED", "REVERSED", "REFUND_PENDING"].contains(&p.answered.as_str()) {
                continue;
            }
            let status = bbps.get(p.reference.as_str()).copied().unwrap_or("MISSING");
            if status != p.answered {
                self.fail(&format!(
                    "BBPS posting {} ({} paise) is {status}; BBPS was answered {}",
                    p.reference, p.amount, p.answered
                ));
            }
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            Some(&items[self.rng.random_range(0..items.len())])
        }
    }

    fn pick_index(&mut self, len: usize) -> Option<usize> {
        (len > 0).then(|| self.rng.random_range(0..len))
    }

    fn account(&mut self) -> usize {
        self.rng.random_range(0..self.accounts.len())
    }

    async fn random_step(&mut self) -> String {
        let weight = |&(op, w): &(Op, u32)| if op == Op::Race && !self.races { 0 } else { w };
        let total: u32 = OPS.iter().map(weight).sum();
        let mut roll = self.rng.random_range(0..total);
        let mut chosen = Op::Tick;
        for entry in &OPS {
            if roll < weight(entry) {
                chosen = entry.0;
                break;
            }
            roll -= weight(entry);
        }
        match chosen {
            Op::Fetch => self.fetch_bill_step().await,
            Op::Counter => self.counter_payment().await,
            Op::OnlineCreate => self.online_create().await,
            Op::GatewayOutcome => self.gateway_outcome().await,
            Op::RepeatCallback => self.repeat_callback().await,
            Op::OwnerUpdate => self.owner_update().await,
            Op::Reconcile => self.reconcile().await,
            Op::LateSuccess => self.late_success().await,
            Op::GatewaySettles => self.gateway_settles_pending().await,
            Op::BbpsPosting => self.bbps_posting().await,
            Op::BbpsReversal => self.bbps_reversal().await,
            Op::CounterCancel => self.counter_cancel().await,
            Op::DemandUpdate => self.demand_update().await,
            Op::SettleRefund => self.settle_refund().await,
            Op::Tick => self.tick().await,
            Op::Race => self.race().await,
        }
    }

    // ---- bills ----------------------------------------------------------------------

    async fn fetch_bill(&mut self, account: usize) -> Option<Value> {
        let service = self.accounts[account].service.code();
        let code = self.accounts[account].code.clone();
        let (status, body) = self
            .post(
                "fetch bill",
                &format!(
                    "/billing-service/bill/v2/_fetchbill?tenantId={TENANT}&businessService={service}&consumerCode={code}"
                ),
                json!({"RequestInfo": {}}),
            )
            .await;
        let bill = body["Bill"][0].clone();
        if status != StatusCode::CREATED || bill.is_null() {
            self.last_fetch = outcome(status, &body);
            return None;
        }
        if let Some(old) = self.bills.insert(code, bill.clone())
            && old["id"] != bill["id"]
        {
            self.old_bills.push(old);
        }
        Some(bill)
    }

    async fn fetch_bill_step(&mut self) -> String {
        let account = self.account();
        match self.fetch_bill(account).await {
            Some(bill) => format!(
                "fetch {}: bill {} {} total {}",
                self.accounts[account].code, bill["id"], bill["status"], bill["totalAmount"]
            ),
            None => format!(
                "fetch {}: no bill ({})",
                self.accounts[account].code, self.last_fetch
            ),
        }
    }

    /// The bill to pay: usually the latest fetched (fetched now when there is none),
    /// sometimes an older one.
    async fn bill_to_pay(&mut self, account: usize) -> Option<Value> {
        if !self.old_bills.is_empty() && self.rng.random_bool(0.1) {
            let i = self.rng.random_range(0..self.old_bills.len());
            return Some(self.old_bills[i].clone());
        }
        match self.bills.get(&self.accounts[account].code) {
            Some(bill) if self.rng.random_bool(0.4) => Some(bill.clone()),
            _ => self.fetch_bill(account).await,
        }
    }

    // ---- the counter ----------------------------------------------------------------

    async fn counter_payment(&mut self) -> String {
        let account = self.account();
        let Some(bill) = self.bill_to_pay(account).await else {
            return format!(
                "counter {}: no bill ({})",
                self.accounts[account].code, self.last_fetch
            );
        };
        let total = paise(&bill["totalAmount"]);
        let minimum = paise(&bill["minimumAmountToBePaid"]).max(100);
        let (kind, amount) = match self.rng.random_range(0..100) {
            0..40 => ("full", total),
            40..60 if total > minimum + 100 => (
                "part",
                self.rng.random_range(minimum / 100..total / 100) * 100,
            ),
            60..72 => ("over", total + self.rng.random_range(1..500) * 100),
            72..77 => ("negative", -self.rng.random_range(1..1000) * 100),
            77..80 => ("zero", 0),
            80..85 => ("paise", total - 50),
            _ => ("full", total),
        };
        let mut shares = vec![(bill, amount)];
        // Sometimes one payment covers the bills of two consumer codes.
        if self.rng.random_bool(0.12) {
            let other = self.account();
            if other != account
                && let Some(second) = self.bill_to_pay(other).await
                && second["id"] != shares[0].0["id"]
            {
                let amount = self.share(&second, 0.2);
                shares.push((second, amount));
            }
        }
        let override_hold = self.rng.random_bool(0.35);
        let (status, body) = self
            .post(
                "counter payment",
                "/collection-services/payments/_create",
                cash_for(&shares, override_hold),
            )
            .await;
        let amount: i64 = shares.iter().map(|(_, a)| a).sum();
        let mut line = format!(
            "counter {kind} {amount} paise on {}{}: {}",
            describe(&shares),
            if override_hold { " (override)" } else { "" },
            outcome(status, &body)
        );
        if status == StatusCode::OK {
            let _ = write!(line, " {}", self.record_counter(&body, amount));
        }
        line
    }

    /// Remembers a counter payment the counter was told is made.
    fn record_counter(&mut self, body: &Value, amount: i64) -> String {
        let p = &body["Payments"][0];
        let receipts: Vec<String> = p["paymentDetails"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| text(&d["receiptNumber"]))
            .collect();
        let receipt = receipts.join("+");
        let codes = p["paymentDetails"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| text(&d["bill"]["consumerCode"]))
            .collect();
        self.counter.push(CounterPayment {
            id: text(&p["id"]),
            codes,
            receipt: receipt.clone(),
            amount,
            live: true,
        });
        format!("payment {} receipt {receipt}", p["id"])
    }

    /// Several channels at once on one consumer code: the counter paying its bill
    /// (overriding any online hold), a BBPS posting, the gateway's callback of an online
    /// transaction of the bill that the payer has just paid (when there is one), and
    /// sometimes the counter cancelling its latest payment of the consumer code and BBPS
    /// reversing a posting of it. Whatever order the server takes them in, the books must
    /// balance: one wins the bill, the others are refused or become refunds due.
    async fn race(&mut self) -> String {
        let account = self.account();
        let code = self.accounts[account].code.clone();
        let bill = self.fetch_bill(account).await;
        let bill_id = bill.as_ref().map(|b| text(&b["id"])).unwrap_or_default();
        let total = bill.as_ref().map_or(100_00, |b| paise(&b["totalAmount"]));
        let open = (0..self.txns.len()).find(|&i| {
            self.txns[i].sim.is_none()
                && self.txns[i].redirect.is_some()
                && self.txns[i].bills.contains(&bill_id)
        });
        if let Some(i) = open {
            let redirect = self.txns[i].redirect.clone().expect("redirect");
            match self.sim.pay(&redirect, SimOutcome::Success) {
                Ok(cb) => {
                    self.txns[i].sim = Some(SimOutcome::Success);
                    self.txns[i].callback = Some(cb);
                }
                Err(e) => self.fail(&format!(
                    "the gateway refused kosh's redirect for {}: {e}",
                    self.txns[i].id
                )),
            }
        }
        let cancel = if self.rng.random_bool(0.5) {
            (0..self.counter.len())
                .rev()
                .find(|&i| self.counter[i].live && self.counter[i].codes.contains(&code))
        } else {
            None
        };
        let reverse = if self.rng.random_bool(0.5) {
            (0..self.postings.len()).rev().find(|&i| {
                self.postings[i].answered == "SUCCESS" && self.postings[i].account == Some(account)
            })
        } else {
            None
        };
        self.next_ref += 1;
        let reference = format!("AU01BOOKS{:011}", self.next_ref);
        let service = self.accounts[account].service;
        let params = self.bbps_params(account);
        // Each starts after its own small delay, so that any of them may come first.
        let delays: Vec<std::time::Duration> = (0..5)
            .map(|_| std::time::Duration::from_millis(self.rng.random_range(0..25)))
            .collect();
        let kosh = &self.kosh;
        let counter = maybe(bill.clone().map(|b| {
            after(
                delays[0],
                kosh.post(
                    "/collection-services/payments/_create",
                    cash_for(&[(b, total)], true),
                ),
            )
        }));
        let bbps = after(
            delays[1],
            kosh.post_as(
                &self.unit_token,
                "/bbps/v1/payments",
                posting_json(service, &reference, &params, total),
            ),
        );
        let callback = maybe(
            open.and_then(|i| self.txns[i].callback.as_ref())
                .map(|cb| after(delays[2], callback_get(kosh, cb))),
        );
        let cancelling = maybe(cancel.map(|i| {
            after(
                delays[3],
                kosh.post(
                    "/collection-services/payments/_workflow",
                    json!({"RequestInfo": {}, "PaymentWorkflows": [{"paymentId": self.counter[i].id,
                        "action": "CANCEL", "tenantId": TENANT, "reason": "books race"}]}),
                ),
            )
        }));
        let reversing = maybe(reverse.map(|i| {
            after(
                delays[4],
                kosh.post_as(
                    &self.unit_token,
                    "/bbps/v1/payments/reverse",
                    json!({"txnReferenceId": self.postings[i].reference, "reason": "books race"}),
                ),
            )
        }));
        let (counter, (bs, bb), online, cancelled, reversed) =
            tokio::join!(counter, bbps, callback, cancelling, reversing);
        let mut line = format!("race on {code}");
        if let Some(b) = &bill {
            let _ = write!(line, " {}", describe(&[(b.clone(), total)]));
        }
        if let Some((status, body)) = counter {
            self.no_5xx("race: counter", status, &body);
            let _ = write!(line, "; counter {}", outcome(status, &body));
            if status == StatusCode::OK {
                let _ = write!(line, " {}", self.record_counter(&body, total));
            }
        }
        self.no_5xx("race: BBPS", bs, &bb);
        let answered = text(&bb["status"]);
        let _ = write!(
            line,
            "; BBPS {reference} {total} paise {answered} {}",
            bb["reason"]["complianceRespCd"]
        );
        self.postings.push(Posting {
            reference,
            account: Some(account),
            amount: total,
            answered,
        });
        if let (Some(i), Some((status, body))) = (open, online) {
            self.no_5xx("race: callback", status, &body);
            let _ = write!(
                line,
                "; callback {} {}",
                self.txns[i].id, body["Transaction"][0]["txnStatus"]
            );
        }
        if let (Some(i), Some((status, body))) = (cancel, cancelled) {
            self.no_5xx("race: cancel", status, &body);
            if status == StatusCode::OK {
                self.counter[i].live = false;
            }
            let _ = write!(
                line,
                "; cancel {} {}",
                self.counter[i].receipt,
                outcome(status, &body)
            );
        }
        if let (Some(i), Some((status, body))) = (reverse, reversed) {
            self.no_5xx("race: reversal", status, &body);
            let answered = text(&body["status"]);
            if status == StatusCode::OK {
                self.postings[i].answered = answered.clone();
            }
            let _ = write!(line, "; reverse {} {answered}", self.postings[i].reference);
        }
        line
    }

    async fn counter_cancel(&mut self) -> String {
        let live: Vec<usize> = (0..self.counter.len())
            .filter(|&i| self.counter[i].live)
            .collect();
        let Some(&i) = self.pick(&live) else {
            return "cancel: no live counter payment".into();
        };
        let id = self.counter[i].id.clone();
        let (status, body) = self
            .post(
                "cancel",
                "/collection-services/payments/_workflow",
                json!({"RequestInfo": {}, "PaymentWorkflows": [{"paymentId": id, "action": "CANCEL",
                    "tenantId": TENANT, "reason": "books test"}]}),
            )
            .await;
        if status == StatusCode::OK {
            self.counter[i].live = false;
        }
        format!(
            "cancel payment {id} (receipt {}): {}",
            self.counter[i].receipt,
            outcome(status, &body)
        )
    }

    // ---- online ---------------------------------------------------------------------

    /// What to pay on a bill: usually all of it, sometimes a part (whole rupees, at least
    /// the minimum).
    fn share(&mut self, bill: &Value, part: f64) -> i64 {
        let total = paise(&bill["totalAmount"]);
        let minimum = paise(&bill["minimumAmountToBePaid"]).max(100);
        if total > minimum + 100 && self.rng.random_bool(part) {
            self.rng.random_range(minimum / 100..total / 100) * 100
        } else {
            total
        }
    }

    async fn online_create(&mut self) -> String {
        let account = self.account();
        let Some(bill) = self.bill_to_pay(account).await else {
            return format!(
                "online {}: no bill ({})",
                self.accounts[account].code, self.last_fetch
            );
        };
        let amount = self.share(&bill, 0.15);
        let mut shares = vec![(bill, amount)];
        // Sometimes one transaction pays the bills of two consumer codes.
        if self.rng.random_bool(0.15) {
            let other = self.account();
            if other != account
                && let Some(second) = self.bill_to_pay(other).await
                && second["id"] != shares[0].0["id"]
            {
                let amount = self.share(&second, 0.1);
                shares.push((second, amount));
            }
        }
        let creator = usize::from(self.rng.random_bool(0.4));
        let gateway = if self.rng.random_bool(0.5) {
            SimGateway::Sandbox
        } else {
            *self.pick(&SimGateway::ALL).expect("gateways")
        };
        let amount: i64 = shares.iter().map(|(_, a)| a).sum();
        let first = &shares[0].0;
        let citizen = &self.citizens[creator];
        let request = json!({"RequestInfo": {"apiId": "Rainmaker"}, "Transaction": {
            "tenantId": TENANT, "txnAmount": rupees_json(amount), "module": first["businessService"],
            "billId": first["id"], "consumerCode": first["consumerCode"],
            "productInfo": "Payment", "gateway": gateway.name(),
            "taxAndPayments": shares.iter().map(|(b, a)| json!({"billId": b["id"], "amountPaid": rupees_json(*a)})).collect::<Vec<_>>(),
            "user": {"name": citizen.name, "mobileNumber": citizen.mobile, "tenantId": "pb"},
            "callbackUrl": CALLBACK}});
        let token = citizen.token.clone();
        let name = citizen.name;
        let (status, body) = self
            .post_as(
                "online create",
                &token,
                "/pg-service/transaction/v1/_create",
                request,
            )
            .await;
        let mut line = format!(
            "online by {name} via {} {amount} paise on {}: {}",
            gateway.name(),
            describe(&shares),
            outcome(status, &body)
        );
        if status == StatusCode::OK {
            let t = &body["Transaction"];
            let _ = write!(line, " txn {} {}", t["txnId"], t["txnStatus"]);
            self.txns.push(Txn {
                id: text(&t["txnId"]),
                gateway,
                redirect: t["redirectUrl"].as_str().map(str::to_string),
                creator,
                amount,
                bills: shares.iter().map(|(b, _)| text(&b["id"])).collect(),
                sim: None,
                callback: None,
            });
        }
        line
    }

    fn status_of(&self, txn_id: &str) -> Option<&str> {
        self.snapshot
            .pg
            .iter()
            .find(|t| t.txn_id == txn_id)
            .map(|t| t.status.as_str())
    }

    fn closed(&self, txn_id: &str) -> bool {
        self.snapshot
            .pg
            .iter()
            .any(|t| t.txn_id == txn_id && t.closed_time.is_some())
    }

    async fn deliver(&mut self, i: usize) -> String {
        let Some(callback) = self.txns[i].callback.clone() else {
            return "no callback".into();
        };
        let (status, body) = callback_get(&self.kosh, &callback).await;
        self.no_5xx("callback", status, &body);
        format!(
            "callback {}: {} {}",
            self.txns[i].id,
            outcome(status, &body),
            body["Transaction"][0]["txnStatus"]
        )
    }

    /// The payer pays (or not) at the gateway; the callback comes now or later.
    async fn gateway_outcome(&mut self) -> String {
        let open: Vec<usize> = (0..self.txns.len())
            .filter(|&i| {
                self.txns[i].sim.is_none()
                    && self.txns[i].redirect.is_some()
                    && self.status_of(&self.txns[i].id) == Some("PENDING")
            })
            .collect();
        let Some(&i) = self.pick(&open) else {
            return "gateway: no open transaction".into();
        };
        let outcome = match self.rng.random_range(0..100) {
            0..55 => SimOutcome::Success,
            55..80 => SimOutcome::Failure,
            _ => SimOutcome::Pending,
        };
        let redirect = self.txns[i].redirect.clone().expect("redirect");
        let callback = match self.sim.pay(&redirect, outcome) {
            Ok(cb) => cb,
            Err(e) => self.fail(&format!(
                "the gateway refused kosh's redirect for {}: {e}",
                self.txns[i].id
            )),
        };
        self.txns[i].sim = Some(outcome);
        self.txns[i].callback = Some(callback);
        let mut line = format!(
            "gateway {} {outcome:?}{}",
            self.txns[i].id,
            if self.closed(&self.txns[i].id) {
                " (a late answer: kosh had closed it)"
            } else {
                ""
            }
        );
        if self.rng.random_bool(0.6) {
            let delivered = self.deliver(i).await;
            let _ = write!(line, "; {delivered}");
        } else {
            line.push_str("; callback lost for now");
        }
        line
    }

    async fn repeat_callback(&mut self) -> String {
        let with: Vec<usize> = (0..self.txns.len())
            .filter(|&i| self.txns[i].callback.is_some())
            .collect();
        match self.pick(&with) {
            Some(&i) => self.deliver(i).await,
            None => "callback: none to send".into(),
        }
    }

    async fn owner_update(&mut self) -> String {
        let Some(i) = self.pick_index(self.txns.len()) else {
            return "update: no transaction".into();
        };
        format!("owner update {}", self.owner_update_of(i).await)
    }

    async fn advance(&mut self, ms: i64) {
        self.kosh.advance_clock(ms).await;
    }

    async fn reconcile(&mut self) -> String {
        let ms = if self.rng.random_bool(0.1) {
            self.rng.random_range(2 * HOUR..6 * HOUR)
        } else {
            self.rng.random_range(MINUTE..40 * MINUTE)
        };
        self.advance(ms).await;
        let (status, body) = self
            .post(
                "reconcile",
                "/pg-service/transaction/v1/_reconcile",
                json!({"RequestInfo": {}}),
            )
            .await;
        format!(
            "clock +{}s, reconcile: {} {}",
            ms / SECOND,
            outcome(status, &body),
            body["Reconciliation"]
        )
    }

    /// The payer paid on the page of a transaction kosh has closed: the gateway reports it
    /// late.
    async fn late_success(&mut self) -> String {
        let closed: Vec<usize> = (0..self.txns.len())
            .filter(|&i| {
                self.txns[i].sim.is_none()
                    && self.txns[i].redirect.is_some()
                    && self.closed(&self.txns[i].id)
            })
            .collect();
        let Some(&i) = self.pick(&closed) else {
            return "late success: no closed transaction".into();
        };
        let redirect = self.txns[i].redirect.clone().expect("redirect");
        let callback = match self.sim.pay(&redirect, SimOutcome::Success) {
            Ok(cb) => cb,
            Err(e) => self.fail(&format!(
                "the gateway refused kosh's redirect for {}: {e}",
                self.txns[i].id
            )),
        };
        self.txns[i].sim = Some(SimOutcome::Success);
        self.txns[i].callback = Some(callback);
        let mut line = format!("late success {} after close", self.txns[i].id);
        if self.rng.random_bool(0.5) {
            let delivered = self.deliver(i).await;
            let _ = write!(line, "; {delivered}");
        } else {
            line.push_str("; left for reconciliation");
        }
        line
    }

    /// A payment the gateway held as pending completes (or fails) at the gateway.
    async fn gateway_settles_pending(&mut self) -> String {
        let pending: Vec<usize> = (0..self.txns.len())
            .filter(|&i| self.txns[i].sim == Some(SimOutcome::Pending))
            .collect();
        let Some(&i) = self.pick(&pending) else {
            return "gateway settles: nothing pending at the gateway".into();
        };
        let outcome = if self.rng.random_bool(0.7) {
            SimOutcome::Success
        } else {
            SimOutcome::Failure
        };
        let (gateway, id) = (self.txns[i].gateway, self.txns[i].id.clone());
        if !self.sim.set_outcome(gateway, &id, outcome) {
            self.fail(&format!("the gateway does not know {id}"));
        }
        self.txns[i].sim = Some(outcome);
        format!("gateway settles {id} as {outcome:?} (kosh not told)")
    }

    // ---- BBPS -----------------------------------------------------------------------

    fn bbps_params(&self, account: usize) -> Value {
        let a = &self.accounts[account];
        json!([{"name": "City", "value": "Amritsar"}, {"name": a.service.account_param(), "value": a.code}])
    }

    async fn bbps_posting(&mut self) -> String {
        let account = self.account();
        let service = self.accounts[account].service;
        let params = self.bbps_params(account);
        let token = self.unit_token.clone();
        let (status, fetched) = self
            .post_as(
                "BBPS fetch",
                &token,
                "/bbps/v1/bills/fetch",
                json!({"billerId": service.biller(), "refId": "FETCHBOOKS", "customerParams": params}),
            )
            .await;
        let due = if status == StatusCode::OK {
            fetched["bills"][0]["amount"].as_i64().unwrap_or(0)
        } else {
            0
        };
        if due == 0 && self.rng.random_bool(0.7) {
            return format!("BBPS {}: nothing due", self.accounts[account].code);
        }
        let (kind, amount) = match self.rng.random_range(0..100) {
            0..55 if due > 0 => ("full", due),
            55..75 if due > 20_000 => ("part", self.rng.random_range(100..due / 100) * 100),
            75..85 => ("over", due + self.rng.random_range(1..300) * 100),
            85..95 => ("random", self.rng.random_range(1..3000) * 100),
            _ => ("full", due.max(100)),
        };
        self.next_ref += 1;
        let reference = format!("AU01BOOKS{:011}", self.next_ref);
        let (status, answer) = self
            .post_as(
                "BBPS posting",
                &token,
                "/bbps/v1/payments",
                posting_json(service, &reference, &params, amount),
            )
            .await;
        let answered = text(&answer["status"]);
        self.postings.push(Posting {
            reference: reference.clone(),
            account: Some(account),
            amount,
            answered: answered.clone(),
        });
        format!(
            "BBPS {} {kind} {amount} paise (due {due}) ref {reference}: {} {answered} {}",
            self.accounts[account].code,
            outcome(status, &answer),
            answer["reason"]["complianceRespCd"]
        )
    }

    async fn bbps_reversal(&mut self) -> String {
        let token = self.unit_token.clone();
        let paid: Vec<usize> = (0..self.postings.len())
            .filter(|&i| self.postings[i].answered == "SUCCESS")
            .collect();
        let roll = self.rng.random_range(0..100);
        let (reference, index) = if roll < 75 && !paid.is_empty() {
            let i = paid[self.rng.random_range(0..paid.len())];
            (self.postings[i].reference.clone(), Some(i))
        } else if roll < 92 && !self.postings.is_empty() {
            let i = self.rng.random_range(0..self.postings.len());
            (self.postings[i].reference.clone(), Some(i))
        } else {
            self.next_ref += 1;
            (format!("AU01BOOKS{:011}", self.next_ref), None)
        };
        let (status, answer) = self
            .post_as(
                "BBPS reversal",
                &token,
                "/bbps/v1/payments/reverse",
                json!({"txnReferenceId": reference, "reason": "debit reversed", "billerId": "PBMT00000PUN01", "amount": 10000}),
            )
            .await;
        let answered = text(&answer["status"]);
        match index {
            Some(i) if status == StatusCode::OK => self.postings[i].answered = answered.clone(),
            None if status == StatusCode::OK => self.postings.push(Posting {
                reference: reference.clone(),
                account: None,
                amount: 0,
                answered: answered.clone(),
            }),
            _ => {}
        }
        format!(
            "BBPS reverse {reference}: {} {answered}",
            outcome(status, &answer)
        )
    }

    // ---- demands, refunds, time -----------------------------------------------------

    async fn demand_update(&mut self) -> String {
        let account = self.account();
        let (service, code) = (
            self.accounts[account].service.code(),
            self.accounts[account].code.clone(),
        );
        let (status, body) = self
            .post(
                "demand search",
                &format!(
                    "/billing-service/demand/_search?tenantId={TENANT}&consumerCode={code}&businessService={service}"
                ),
                json!({"RequestInfo": {}}),
            )
            .await;
        let demands = body["Demands"].as_array().cloned().unwrap_or_default();
        if status != StatusCode::OK || demands.is_empty() {
            return format!("demand update {code}: search {}", outcome(status, &body));
        }
        let mut demand = demands[self.rng.random_range(0..demands.len())].clone();
        let heads: Vec<usize> = demand["demandDetails"]
            .as_array()
            .map(|ds| {
                (0..ds.len())
                    .filter(|&i| {
                        paise(&ds[i]["taxAmount"]) > 0
                            && !text(&ds[i]["taxHeadMasterCode"]).contains("ADVANCE")
                    })
                    .collect()
            })
            .unwrap_or_default();
        let Some(&i) = self.pick(&heads) else {
            return format!("demand update {code}: no charge head");
        };
        let detail = &mut demand["demandDetails"][i];
        let before = paise(&detail["taxAmount"]);
        let delta = if self.rng.random_bool(0.85) {
            self.rng.random_range(1..1500) * 100
        } else {
            -self.rng.random_range(1..=(before / 100).max(1)) * 100
        };
        detail["taxAmount"] = rupees_json(before + delta);
        let head = text(&detail["taxHeadMasterCode"]);
        let (status, body) = self
            .post(
                "demand update",
                "/billing-service/demand/_update",
                json!({"RequestInfo": {}, "Demands": [demand]}),
            )
            .await;
        format!(
            "demand update {code} {head} {before} → {} paise: {}",
            before + delta,
            outcome(status, &body)
        )
    }

    async fn settle_refund(&mut self) -> String {
        // In the order they were made (time-ordered ids), not the database's row order.
        let mut due: Vec<String> = self
            .snapshot
            .refunds
            .iter()
            .filter(|r| r.status == "DUE")
            .map(|r| r.id.clone())
            .collect();
        due.sort();
        let Some(id) = self.pick(&due).cloned() else {
            return "settle refund: none due".into();
        };
        let action = if self.rng.random_bool(0.6) {
            "REFUNDED"
        } else {
            "ADVANCED"
        };
        let (status, body) = self
            .post(
                "settle refund",
                "/collection-services/refunds/_settle",
                json!({"RequestInfo": {}, "Refund": {"tenantId": TENANT, "id": id, "action": action,
                    "reference": format!("NEFT-{}", self.step)}}),
            )
            .await;
        format!("settle refund {id} as {action}: {}", outcome(status, &body))
    }

    async fn tick(&mut self) -> String {
        let ms = if self.rng.random_bool(0.3) {
            self.rng.random_range(HOUR..12 * HOUR)
        } else {
            self.rng.random_range(SECOND..10 * MINUTE)
        };
        self.advance(ms).await;
        format!("clock +{}s", ms / SECOND)
    }

    /// The end of the run: the gateway settles everything it still holds as pending, and
    /// every payer asks about their transaction, so that every payment the gateway took is
    /// settled in kosh.
    async fn drain(&mut self) -> String {
        let mut line = String::from("drain:");
        for i in 0..self.txns.len() {
            if self.txns[i].sim == Some(SimOutcome::Pending) {
                let outcome = if self.rng.random_bool(0.7) {
                    SimOutcome::Success
                } else {
                    SimOutcome::Failure
                };
                let (gateway, id) = (self.txns[i].gateway, self.txns[i].id.clone());
                self.sim.set_outcome(gateway, &id, outcome);
                self.txns[i].sim = Some(outcome);
            }
        }
        // A gateway that does not answer in time (a loaded machine) leaves a transaction
        // PENDING, as it should: ask again, a few times.
        for _ in 0..3 {
            self.check().await;
            let unsettled: Vec<usize> = (0..self.txns.len())
                .filter(|&i| {
                    self.txns[i].sim.is_some()
                        && self.status_of(&self.txns[i].id) == Some("PENDING")
                })
                .collect();
            if unsettled.is_empty() {
                break;
            }
            for i in unsettled {
                let _ = write!(line, " [{}]", self.owner_update_of(i).await);
            }
        }
        line
    }

    async fn owner_update_of(&mut self, i: usize) -> String {
        let token = self.citizens[self.txns[i].creator].token.clone();
        let mut url = reqwest::Url::parse(&self.kosh.url(UPDATE)).expect("url");
        url.query_pairs_mut()
            .append_pair("eg_pg_txnid", &self.txns[i].id);
        let response = self
            .kosh
            .client
            .post(url)
            .json(&json!({"RequestInfo": {"apiId": "Rainmaker", "authToken": token}}))
            .send()
            .await
            .expect("update");
        let (status, body) = kosh_blackbox::read(response).await;
        self.no_5xx("owner update", status, &body);
        format!(
            "{} {} {}",
            self.txns[i].id,
            outcome(status, &body),
            body["Transaction"][0]["txnStatus"]
        )
    }

    /// After the drain: every payment the gateway took is SUCCESS in kosh (receipted or
    /// refund due, which the books checked), every one it declined is FAILURE.
    fn assert_gateway_money_settled(&self) {
        for t in &self.txns {
            let status = self.status_of(&t.id).unwrap_or("MISSING");
            let expected = match t.sim {
                Some(SimOutcome::Success) => "SUCCESS",
                Some(SimOutcome::Failure) => "FAILURE",
                _ => continue,
            };
            if status != expected {
                self.fail(&format!(
                    "after the drain, transaction {} is {status}; the gateway says {:?}",
                    t.id, t.sim
                ));
            }
        }
    }
}

// ---- planted violations ---------------------------------------------------------------

/// A few scripted steps that leave one of everything: a part-paid counter receipt, a
/// receipted online transaction, an online transaction whose money became a refund due, a
/// BBPS posting, a WS payment with advance. Then one violation per rule is planted straight
/// into the database, the checker must report it, and it is undone.
async fn the_checker_catches_planted_violations(backend: Backend) {
    let mut w = world(backend, 0x6b6f_7368_00ff).await;
    w.check().await;
    // A: a PT part payment at the counter (120 rupees; every PT_TAX here is 300 or more).
    let bill_a = w.fetch_bill(1).await.expect("bill");
    let counter_a = pay_cash(&w, &bill_a, 120_00).await;
    // B: an online payment of a bill of two periods, receipted.
    let bill_b = w.fetch_bill(0).await.expect("bill");
    let txn_b = create_and_pay(&mut w, &bill_b, true).await;
    // C: an online payment overtaken by an overriding counter payment: a refund due.
    let bill_c = w.fetch_bill(2).await.expect("bill");
    let txn_c = create_and_pay(&mut w, &bill_c, false).await;
    let over = cash_for(&[(bill_c.clone(), paise(&bill_c["totalAmount"]))], true);
    let (status, body) = w
        .kosh
        .post("/collection-services/payments/_create", over)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let i = w.txns.len() - 1;
    let delivered = w.deliver(i).await;
    assert!(delivered.contains("SUCCESS"), "{delivered}");
    // D: WS paid with 75 rupees of advance.
    let bill_d = w.fetch_bill(3).await.expect("bill");
    let counter_d = pay_cash(&w, &bill_d, paise(&bill_d["totalAmount"]) + 75_00).await;
    // E: a BBPS posting on the other WS connection.
    let line = w.bbps_posting_of(4).await;
    assert!(line.contains("SUCCESS"), "{line}");
    w.check().await;

    let s = w.snapshot.clone();
    let pg_b = s.pg.iter().find(|t| t.txn_id == txn_b).expect("txn b");
    let pg_c = s.pg.iter().find(|t| t.txn_id == txn_c).expect("txn c");
    assert!(pg_b.receipt.is_some(), "B is receipted");
    assert!(pg_c.refund_id.is_some(), "C is a refund due");
    let detail_a = s
        .details
        .iter()
        .find(|d| d.payment_id == counter_a)
        .expect("A's receipt");
    let detail_d = s
        .details
        .iter()
        .find(|d| d.payment_id == counter_d)
        .expect("D's receipt");
    let posting = s.bbps.first().expect("posting").clone();
    let snapshot_a: Value = serde_json::from_str(&detail_a.bill).expect("snapshot");
    let demand_a = text(&snapshot_a["billDetails"][0]["demandId"]);
    let part_detail = s
        .demand_details
        .iter()
        .find(|d| d.demand_id == demand_a && d.tax_head_code == "PT_TAX")
        .expect("PT_TAX of A");
    assert!(
        part_detail.collection_amount > 0
            && part_detail.collection_amount + 100 <= part_detail.tax_amount,
        "A's PT_TAX is part paid: {part_detail:?}"
    );
    let advance = s
        .demand_details
        .iter()
        .find(|d| d.tax_head_code.contains("ADVANCE") && d.tax_amount == -75_00)
        .expect("D's advance");
    let bill_of_b = text(&bill_b["id"]);
    let ids = |v: &str| format!("'{}'", v.replace('\'', "''"));

    let plants: Vec<(Rule, &str, Vec<String>, Vec<String>)> = vec![
        (
            Rule::CollectedEqualsApportioned,
            "100 paise more collected on a part-paid PT_TAX than any payment apportioned",
            vec![format!(
                "UPDATE egbs_demand_detail SET collection_amount = collection_amount + 100 WHERE id = {}",
                ids(&part_detail.id)
            )],
            vec![format!(
                "UPDATE egbs_demand_detail SET collection_amount = collection_amount - 100 WHERE id = {}",
                ids(&part_detail.id)
            )],
        ),
        (
            Rule::CollectedWithinTax,
            "a collection above its tax",
            vec![format!(
                "UPDATE egbs_demand_detail SET collection_amount = tax_amount + 1 WHERE id = {}",
                ids(&part_detail.id)
            )],
            vec![format!(
                "UPDATE egbs_demand_detail SET collection_amount = {} WHERE id = {}",
                part_detail.collection_amount,
                ids(&part_detail.id)
            )],
        ),
        (
            Rule::OnlineMoneyAccounted,
            "a refund due for a transaction that was receipted",
            vec![format!(
                "INSERT INTO egcl_refund_due (id, tenant_id, channel, source_ref, bill_id, consumer_code, business_service, \
                 amount, reason, status, created_by, created_ms, last_modified_ms) VALUES ('planted-refund', '{TENANT}', \
                 'ONLINE', {}, {}, 'BK-PT-1', 'PT', {}, 'planted', 'DUE', 'test', 0, 0)",
                ids(&txn_b),
                ids(&bill_of_b),
                pg_b.amount
            )],
            vec!["DELETE FROM egcl_refund_due WHERE id = 'planted-refund'".into()],
        ),
        (
            Rule::OnlineMoneyAccounted,
            "a SUCCESS transaction's refund_id flipped away",
            vec![format!(
                "UPDATE eg_pg_transactions SET refund_id = 'someone-else' WHERE txn_id = {}",
                ids(&txn_c)
            )],
            vec![format!(
                "UPDATE eg_pg_transactions SET refund_id = {} WHERE txn_id = {}",
                ids(pg_c.refund_id.as_deref().unwrap_or_default()),
                ids(&txn_c)
            )],
        ),
        (
            Rule::RefundHasSource,
            "a refund due no transaction owes",
            vec![format!(
                "INSERT INTO egcl_refund_due (id, tenant_id, channel, source_ref, bill_id, consumer_code, business_service, \
                 amount, reason, status, created_by, created_ms, last_modified_ms) VALUES ('planted-orphan', '{TENANT}', \
                 'ONLINE', 'PB_PG_NO_SUCH_TXN', {}, 'BK-PT-1', 'PT', 500, 'planted', 'DUE', 'test', 0, 0)",
                ids(&bill_of_b)
            )],
            vec!["DELETE FROM egcl_refund_due WHERE id = 'planted-orphan'".into()],
        ),
        (
            Rule::MoneyConserved,
            "a receipted online transaction that took 100 paise more than its receipt",
            vec![format!(
                "UPDATE eg_pg_transactions SET txn_amount = txn_amount + 100 WHERE txn_id = {}",
                ids(&txn_b)
            )],
            vec![format!(
                "UPDATE eg_pg_transactions SET txn_amount = txn_amount - 100 WHERE txn_id = {}",
                ids(&txn_b)
            )],
        ),
        (
            Rule::BbpsMoneyAccounted,
            "a BBPS posting marked REVERSED while its receipt stands",
            vec![format!(
                "UPDATE bbps_txn SET status = 'REVERSED' WHERE txn_reference_id = {}",
                ids(&posting.txn_reference_id)
            )],
            vec![format!(
                "UPDATE bbps_txn SET status = 'SUCCESS' WHERE txn_reference_id = {}",
                ids(&posting.txn_reference_id)
            )],
        ),
        (
            Rule::ReceiptNumberUnique,
            "a receipt number duplicated on another payment detail",
            vec![
                "DROP INDEX egcl_paymentdetail_receipt".into(),
                format!(
                    "UPDATE egcl_paymentdetail SET receipt_number = {} WHERE id = {}",
                    ids(&detail_a.receipt_number),
                    ids(&detail_d.id)
                ),
            ],
            vec![
                format!(
                    "UPDATE egcl_paymentdetail SET receipt_number = {} WHERE id = {}",
                    ids(&detail_d.receipt_number),
                    ids(&detail_d.id)
                ),
                "CREATE UNIQUE INDEX egcl_paymentdetail_receipt ON egcl_paymentdetail (tenant_id, receipt_number)"
                    .into(),
            ],
        ),
        (
            Rule::OneLiveReceiptPerBill,
            "a second live receipt on a paid bill",
            vec![
                "DROP INDEX egcl_paymentdetail_live_bill".into(),
                format!(
                    "INSERT INTO egcl_paymentdetail (id, tenant_id, payment_id, due, amount_paid, receipt_number, receipt_date, \
                     receipt_type, business_service, bill_id, consumer_code, bill, live, created_by, created_ms, \
                     last_modified_by, last_modified_ms) SELECT 'planted-detail', tenant_id, payment_id, due, 0, 'PLANTED/1', \
                     receipt_date, receipt_type, business_service, bill_id, consumer_code, bill, 1, created_by, created_ms, \
                     last_modified_by, last_modified_ms FROM egcl_paymentdetail WHERE id = {}",
                    ids(&detail_d.id)
                ),
            ],
            vec![
                "DELETE FROM egcl_paymentdetail WHERE id = 'planted-detail'".into(),
                "CREATE UNIQUE INDEX egcl_paymentdetail_live_bill ON egcl_paymentdetail (tenant_id, bill_id) WHERE live = 1"
                    .into(),
            ],
        ),
        (
            Rule::PaymentConsistent,
            "a standing payment's detail marked not live",
            vec![format!(
                "UPDATE egcl_paymentdetail SET live = 0 WHERE id = {}",
                ids(&detail_a.id)
            )],
            vec![format!(
                "UPDATE egcl_paymentdetail SET live = 1 WHERE id = {}",
                ids(&detail_a.id)
            )],
        ),
        (
            Rule::BillMatchesPayment,
            "a paid bill back to ACTIVE",
            vec![format!(
                "UPDATE egbs_bill SET status = 'ACTIVE' WHERE id = {}",
                ids(&detail_d.bill_id)
            )],
            vec![format!(
                "UPDATE egbs_bill SET status = 'PAID' WHERE id = {}",
                ids(&detail_d.bill_id)
            )],
        ),
        (
            Rule::SettledIsFinal,
            "a SUCCESS transaction back to PENDING",
            vec![format!(
                "UPDATE eg_pg_transactions SET txn_status = 'PENDING' WHERE txn_id = {}",
                ids(&txn_b)
            )],
            vec![format!(
                "UPDATE eg_pg_transactions SET txn_status = 'SUCCESS' WHERE txn_id = {}",
                ids(&txn_b)
            )],
        ),
        (
            Rule::ReceiptKept,
            "a receipt renumbered",
            vec![format!(
                "UPDATE egcl_paymentdetail SET receipt_number = 'PLANTED/2' WHERE id = {}",
                ids(&detail_a.id)
            )],
            vec![format!(
                "UPDATE egcl_paymentdetail SET receipt_number = {} WHERE id = {}",
                ids(&detail_a.receipt_number),
                ids(&detail_a.id)
            )],
        ),
        (
            Rule::AdvanceAccounted,
            "an advance of 1 rupee more than the payment left",
            vec![format!(
                "UPDATE egbs_demand_detail SET tax_amount = tax_amount - 100 WHERE id = {}",
                ids(&advance.id)
            )],
            vec![format!(
                "UPDATE egbs_demand_detail SET tax_amount = tax_amount + 100 WHERE id = {}",
                ids(&advance.id)
            )],
        ),
        (
            Rule::HoldOnlyWhilePending,
            "a hold left behind by a settled transaction",
            vec![format!(
                "INSERT INTO egcl_bill_hold (tenant_id, bill_id, channel, holder_ref, held_by, created_ms, settle_by_ms) \
                 VALUES ('{TENANT}', {}, 'ONLINE', {}, 'test', 0, 0)",
                ids(&bill_of_b),
                ids(&txn_b)
            )],
            vec![format!(
                "DELETE FROM egcl_bill_hold WHERE holder_ref = {}",
                ids(&txn_b)
            )],
        ),
    ];

    let clean = w.watch_clone();
    let mut caught = Vec::new();
    for (rule, what, plant, undo) in plants {
        execute(&w.kosh, &plant).await;
        let mut watch = clean.clone_watch();
        let (_, found) = watch.check(w.kosh.state().db.pool()).await.expect("books");
        execute(&w.kosh, &undo).await;
        assert!(
            found.iter().any(|v| v.rule == rule),
            "{backend:?}: the checker missed {} ({what}); it found: {found:#?}",
            rule.as_str()
        );
        caught.push(format!(
            "{} ({what}): {}",
            rule.as_str(),
            found
                .iter()
                .filter(|v| v.rule == rule)
                .map(Violation::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ));
        // Undone, the books are clean again.
        let mut watch = clean.clone_watch();
        let (_, after) = watch.check(w.kosh.state().db.pool()).await.expect("books");
        assert!(after.is_empty(), "{what} was not undone: {after:#?}");
    }
    eprintln!(
        "books: {backend:?}: planted and caught:\n  {}",
        caught.join("\n  ")
    );
    w.kosh.stop().await;
}

/// A copy of the checker's memory, so that each plant is judged against the clean state.
struct CleanWatch(Snapshot);

impl CleanWatch {
    fn clone_watch(&self) -> Watch {
        let mut watch = Watch::new();
        let primed = watch.observe(&self.0);
        assert!(primed.is_empty(), "{primed:#?}");
        watch
    }
}

impl World {
    fn watch_clone(&self) -> CleanWatch {
        CleanWatch(self.snapshot.clone())
    }

    async fn bbps_posting_of(&mut self, account: usize) -> String {
        let service = self.accounts[account].service;
        let params = self.bbps_params(account);
        let token = self.unit_token.clone();
        let (_, fetched) = self
            .post_as(
                "BBPS fetch",
                &token,
                "/bbps/v1/bills/fetch",
                json!({"billerId": service.biller(), "refId": "FETCHBOOKS", "customerParams": params}),
            )
            .await;
        let amount = fetched["bills"][0]["amount"].as_i64().unwrap_or(0);
        self.next_ref += 1;
        let reference = format!("AU01BOOKS{:011}", self.next_ref);
        let (_, answer) = self
            .post_as(
                "BBPS posting",
                &token,
                "/bbps/v1/payments",
                posting_json(service, &reference, &params, amount),
            )
            .await;
        format!("{reference}: {}", answer["status"])
    }
}

/// A counter payment that must succeed; its id.
async fn pay_cash(w: &World, bill: &Value, amount: i64) -> String {
    let (status, body) = w
        .kosh
        .post(
            "/collection-services/payments/_create",
            cash_for(&[(bill.clone(), amount)], false),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    text(&body["Payments"][0]["id"])
}

/// An online transaction for the whole bill, paid at the sandbox gateway; its callback
/// delivered when `deliver`. Its id.
async fn create_and_pay(w: &mut World, bill: &Value, deliver: bool) -> String {
    let citizen = &w.citizens[0];
    let request = json!({"RequestInfo": {"apiId": "Rainmaker"}, "Transaction": {
        "tenantId": TENANT, "txnAmount": bill["totalAmount"], "module": bill["businessService"],
        "billId": bill["id"], "consumerCode": bill["consumerCode"], "productInfo": "Payment",
        "gateway": "SANDBOX", "taxAndPayments": [{"billId": bill["id"], "amountPaid": bill["totalAmount"]}],
        "user": {"name": citizen.name, "mobileNumber": citizen.mobile, "tenantId": "pb"},
        "callbackUrl": CALLBACK}});
    let (status, body) = w
        .kosh
        .post_as(
            &citizen.token,
            "/pg-service/transaction/v1/_create",
            request,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let t = &body["Transaction"];
    let redirect = text(&t["redirectUrl"]);
    let callback = w.sim.pay(&redirect, SimOutcome::Success).expect("pay");
    w.txns.push(Txn {
        id: text(&t["txnId"]),
        gateway: SimGateway::Sandbox,
        redirect: Some(redirect),
        creator: 0,
        amount: paise(&bill["totalAmount"]),
        bills: vec![text(&bill["id"])],
        sim: Some(SimOutcome::Success),
        callback: Some(callback),
    });
    let i = w.txns.len() - 1;
    if deliver {
        let line = w.deliver(i).await;
        assert!(line.contains("SUCCESS"), "{line}");
    }
    text(&t["txnId"])
}

/// Runs statements straight against the database, in one transaction.
async fn execute(kosh: &Kosh, statements: &[String]) {
    let mut tx = kosh.state().db.begin_write().await.expect("begin");
    for sql in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    tx.commit().await.expect("commit");
}
