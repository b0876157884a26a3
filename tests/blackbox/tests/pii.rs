//! Personal data protected (issue 15 item 3), on SQLite and on PostgreSQL: after users,
//! bills, counter payments, payment-gateway transactions and BBPS postings are made with known
//! mobile numbers, emails, PAN, Aadhaar and names, no text column of any table holds them;
//! searches by mobile number, email and user name still find them; answers are masked for
//! roles the SecurityPolicy master does not let see them and plain for employees and for the
//! record's own user; rows written before sealing began are sealed at start-up with every
//! answer unchanged; `kosh keys rotate` re-seals so the old key can go; keys that do not fit
//! the database stop kosh at start-up.

use kosh_blackbox::{Backend, Kosh, on_both_databases};
use kosh_platform::pii::{self, table};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Row;

on_both_databases!(
    no_plain_personal_data_at_rest_and_searches_still_find_it,
    answers_are_masked_for_roles_that_may_not_see_personal_data,
    rows_written_before_sealing_are_sealed_at_start_and_read_the_same,
    rotation_reseals_under_the_new_key_and_the_old_one_can_go,
);

/// 2019-06-15 10:00 IST, inside the 2019-20 tax periods.
const NOW: i64 = 1_560_573_000_000;
const PERIOD_FROM: i64 = 1_554_076_800_000;
const PERIOD_TO: i64 = 1_585_679_399_000;
const AMR: &str = "pb.amritsar";
const MOBILE: &str = "9812345678";
const EMAIL: &str = "meera.kaur@example.org";
const PAN: &str = "ABCPK4321Q";
const AADHAAR: &str = "987654321098";
const NAME: &str = "Meera Kaur";
const ADDRESS: &str = "12 Lawrence Road";
const PAYER_MOBILE: &str = "9811122233";
const PAYER_NAME: &str = "Harjit Sandhu";
const PASSWORD: &str = "Secret@123";
const UNIT_PASSWORD: &str = "Bbps@2026x";
const PT_BILLER: &str = "PBMT00000PUN01";
const REFERENCE: &str = "AU019166PIIT00000001";

/// The known personal values, none of which may be found in the database.
const SECRETS: [&str; 7] = [MOBILE, EMAIL, PAN, AADHAAR, NAME, PAYER_MOBILE, PAYER_NAME];

struct World {
    kosh: Kosh,
    citizen_token: String,
    citizen_uuid: String,
    unit_token: String,
}

async fn citizen(kosh: &Kosh) -> (String, String) {
    let user = kosh
        .create_user(json!({"userName": MOBILE, "name": NAME, "mobileNumber": MOBILE, "emailId": EMAIL,
            "pan": PAN, "aadhaarNumber": AADHAAR, "permanentAddress": ADDRESS, "fatherOrHusbandName": PAYER_NAME,
            "type": "CITIZEN", "active": true, "password": PASSWORD, "tenantId": "pb",
            "roles": [{"code": "CITIZEN", "tenantId": "pb"}]}))
        .await;
    let uuid = user["uuid"].as_str().expect("uuid").to_string();
    (kosh.token(MOBILE, PASSWORD, "pb", "CITIZEN").await, uuid)
}

async fn unit(kosh: &Kosh) -> String {
    kosh.create_user(
        json!({"userName": "bbps-unit-pii", "name": "BBPS unit", "type": "SYSTEM", "active": true,
        "password": UNIT_PASSWORD, "tenantId": "pb", "allowedIps": ["127.0.0.1"],
        "roles": [{"code": "BBPS", "tenantId": "pb"}]}),
    )
    .await;
    kosh.token("bbps-unit-pii", UNIT_PASSWORD, "pb", "SYSTEM")
        .await
}

async fn bill_for(kosh: &Kosh, code: &str, payer: &str) -> Value {
    let body = json!({"RequestInfo": {}, "Demands": [{"tenantId": AMR, "consumerCode": code, "consumerType": "BUILTUP",
        "businessService": "PT", "payer": {"uuid": payer}, "taxPeriodFrom": PERIOD_FROM, "taxPeriodTo": PERIOD_TO,
        "minimumAmountPayable": 0,
        "demandDetails": [{"taxHeadMasterCode": "PT_TAX", "taxAmount": 1000, "collectionAmount": 0}]}]});
    let (status, answer) = kosh.post("/billing-service/demand/_create", body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, body) = kosh
        .post(
            &format!("/billing-service/bill/v2/_fetchbill?tenantId={AMR}&businessService=PT&consumerCode={code}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["Bill"][0].clone()
}

/// A citizen with every personal field; bills of three consumer codes: one paid at the
/// counter by another payer (with an Idempotency-Key, so the stored answer is checked too),
/// one with the citizen's pending online payment, one paid through a BBPS unit that also
/// files a complaint.
async fn world(backend: Backend, adjust: impl FnOnce(&mut kosh_server::cli::Settings)) -> World {
    let kosh = Kosh::start_with(backend, |s| {
        s.pg_reconcile_every_seconds = 0;
        adjust(s);
    })
    .await;
    kosh.set_clock(NOW).await;
    let (citizen_token, citizen_uuid) = citizen(&kosh).await;
    let unit_token = unit(&kosh).await;

    let paid = bill_for(&kosh, "PT-PII-1", &citizen_uuid).await;
    assert_eq!(paid["mobileNumber"], MOBILE, "{paid}");
    assert_eq!(paid["payerName"], NAME, "{paid}");
    let body = json!({"RequestInfo": {"apiId": "Rainmaker"}, "Payment": {
        "tenantId": AMR, "totalAmountPaid": paid["totalAmount"], "paymentMode": "CASH",
        "paidBy": PAYER_NAME, "payerName": PAYER_NAME, "mobileNumber": PAYER_MOBILE, "payerEmail": EMAIL,
        "paymentDetails": [{"billId": paid["id"], "totalDue": paid["totalAmount"],
            "totalAmountPaid": paid["totalAmount"], "businessService": "PT"}]}});
    let response = kosh
        .client
        .post(kosh.url("/collection-services/payments/_create"))
        .bearer_auth(&kosh.admin_token)
        .header("Idempotency-Key", "pii-counter-1")
        .json(&body)
        .send()
        .await
        .expect("payment");
    assert_eq!(response.status(), StatusCode::OK);

    let online = bill_for(&kosh, "PT-PII-2", &citizen_uuid).await;
    let request = json!({"RequestInfo": {"apiId": "Rainmaker"}, "Transaction": {
        "tenantId": AMR, "txnAmount": online["totalAmount"], "module": "PT",
        "billId": online["id"], "consumerCode": online["consumerCode"],
        "productInfo": "Property Tax Payment", "gateway": "SANDBOX",
        "taxAndPayments": [{"billId": online["id"], "amountPaid": online["totalAmount"]}],
        "user": {"name": NAME, "mobileNumber": MOBILE, "emailId": EMAIL, "tenantId": "pb"},
        "callbackUrl": "https://ui.example/citizen/payment/success"}});
    let (status, body) = kosh
        .post_as(
            &citizen_token,
            "/pg-service/transaction/v1/_create",
            request,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    bill_for(&kosh, "PT-PII-3", &citizen_uuid).await;
    let posting = json!({"RequestInfo": {"apiId": "bbps"}, "billerId": PT_BILLER, "txnReferenceId": REFERENCE,
        "refId": "FETCH1", "paymentRefId": "UPI0000123456",
        "customerParams": [{"name": "City", "value": AMR}, {"name": "Property ID", "value": "PT-PII-3"}],
        "customerMobile": MOBILE, "amount": 100000, "paymentMode": "UPI", "paymentChannel": "MOB",
        "agentId": "AU01AU02INT529468291", "txnTimestamp": "2019-06-15T10:00:00+05:30"});
    let (status, answer) = kosh
        .post_as(&unit_token, "/bbps/v1/payments", posting)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "SUCCESS", "{answer}");
    let (status, answer) = kosh
        .post_as(
            &unit_token,
            "/bbps/v1/complaints",
            json!({"complaintType": "Transaction", "complaintId": "CC9000000001", "txnReferenceId": REFERENCE,
                "disposition": "Transaction Successful, account not updated", "customerMobile": MOBILE}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    World {
        kosh,
        citizen_token,
        citizen_uuid,
        unit_token,
    }
}

/// Every text column of every table of kosh's database: (table, column).
async fn text_columns(kosh: &Kosh) -> Vec<(String, String)> {
    let pool = kosh.state().db.pool();
    let mut out = Vec::new();
    match kosh.backend {
        Backend::Postgres => {
            let rows = sqlx::query(
                "SELECT table_name::TEXT, column_name::TEXT FROM information_schema.columns \
                 WHERE table_schema = 'public' AND data_type IN ('text', 'character varying') \
                 ORDER BY table_name, column_name",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            for r in rows {
                out.push((r.get::<String, _>(0), r.get::<String, _>(1)));
            }
        }
        Backend::Sqlite => {
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            for t in tables {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT name, type FROM pragma_table_info('{t}')"
                )))
                .fetch_all(pool)
                .await
                .unwrap();
                for r in rows {
                    let ty = r.get::<String, _>(1).to_ascii_uppercase();
                    if ty.contains("CHAR") || ty.contains("TEXT") {
                        out.push((t.clone(), r.get::<String, _>(0)));
                    }
                }
            }
        }
    }
    assert!(out.len() > 50, "{out:?}");
    out
}

/// Where in the database (table.column: count) any of `needles` is found as plain text.
async fn found_in_database(kosh: &Kosh, needles: &[&str]) -> Vec<String> {
    let pool = kosh.state().db.pool();
    let mut found = Vec::new();
    for (t, c) in text_columns(kosh).await {
        for needle in needles {
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM {t} WHERE {c} LIKE $1"
            )))
            .bind(format!("%{needle}%"))
            .fetch_one(pool)
            .await
            .unwrap();
            if n > 0 {
                found.push(format!("{t}.{c} holds {needle:?} ({n} rows)"));
            }
        }
    }
    found
}

async fn user_search(kosh: &Kosh, token: &str, criteria: Value) -> Vec<Value> {
    let mut body = criteria;
    body["tenantId"] = json!("pb");
    let (status, answer) = kosh.post_as(token, "/user/v1/_search", body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["user"].as_array().cloned().unwrap_or_default()
}

async fn bill_search(kosh: &Kosh, token: &str, query: &str) -> Vec<Value> {
    let (status, answer) = kosh
        .post_as(
            token,
            &format!("/billing-service/bill/v2/_search?tenantId={AMR}&{query}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["Bill"].as_array().cloned().unwrap_or_default()
}

async fn payment_search(kosh: &Kosh, token: &str, query: &str) -> Vec<Value> {
    let (status, answer) = kosh
        .post_as(
            token,
            &format!("/collection-services/payments/_search?tenantId={AMR}&{query}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["Payments"].as_array().cloned().unwrap_or_default()
}

async fn txn_search(kosh: &Kosh, token: &str, query: &str) -> Vec<Value> {
    let (status, answer) = kosh
        .post_as(
            token,
            &format!("/pg-service/transaction/v1/_search?tenantId={AMR}&{query}"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["Transaction"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// What the administrator (who sees everything plain) is answered about the world: compared
/// before and after a change of storage.
async fn answers(w: &World) -> Value {
    let k = &w.kosh;
    let admin = &k.admin_token;
    let mut users = user_search(k, admin, json!({"mobileNumber": MOBILE})).await;
    for u in &mut users {
        // The last login moves; the rest must not.
        u.as_object_mut().unwrap().remove("lastModifiedDate");
    }
    json!({
        "users": users,
        "byEmail": user_search(k, admin, json!({"emailId": EMAIL})).await.len(),
        "byUserName": user_search(k, admin, json!({"userName": MOBILE})).await.len(),
        "bills": bill_search(k, admin, &format!("mobileNumber={MOBILE}")).await,
        "payments": payment_search(k, admin, &format!("mobileNumber={PAYER_MOBILE}")).await,
        "allPayments": payment_search(k, admin, "consumerCodes=PT-PII-1,PT-PII-3").await,
        "txns": txn_search(k, admin, "consumerCode=PT-PII-2").await,
        "ownTxns": txn_search(k, &w.citizen_token, "").await,
    })
}

async fn no_plain_personal_data_at_rest_and_searches_still_find_it(backend: Backend) {
    let w = world(backend, |_| {}).await;
    let k = &w.kosh;
    let found = found_in_database(k, &SECRETS).await;
    assert!(found.is_empty(), "plain personal data at rest: {found:#?}");
    // Every personal column of every table is sealed.
    for t in table::ALL {
        let unsealed: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {} WHERE pii IS NULL",
            t.name
        )))
        .fetch_one(k.state().db.pool())
        .await
        .unwrap();
        assert_eq!(unsealed, 0, "{}", t.name);
    }

    // Searches by mobile number, email and user name find what was made, plain for the
    // administrator.
    let a = answers(&w).await;
    let user = &a["users"][0];
    assert_eq!(a["users"].as_array().unwrap().len(), 1, "{a}");
    assert_eq!(user["mobileNumber"], MOBILE);
    assert_eq!(user["userName"], MOBILE);
    assert_eq!(user["emailId"], EMAIL);
    assert_eq!(user["pan"], PAN);
    assert_eq!(user["aadhaarNumber"], AADHAAR);
    assert_eq!(user["name"], NAME);
    assert_eq!(user["permanentAddress"], ADDRESS);
    assert_eq!(a["byEmail"], 1);
    assert_eq!(a["byUserName"], 1);
    let bills = a["bills"].as_array().unwrap();
    assert_eq!(bills.len(), 3, "{a}");
    assert!(
        bills
            .iter()
            .all(|b| b["mobileNumber"] == MOBILE && b["payerName"] == NAME)
    );
    let payment = &a["payments"][0];
    assert_eq!(payment["mobileNumber"], PAYER_MOBILE, "{a}");
    assert_eq!(payment["paidBy"], PAYER_NAME);
    assert_eq!(payment["payerEmail"], EMAIL);
    // The bill as it was paid keeps its payer.
    assert_eq!(
        payment["paymentDetails"][0]["bill"]["mobileNumber"], MOBILE,
        "{payment}"
    );
    assert_eq!(a["allPayments"].as_array().unwrap().len(), 2, "{a}");
    let txn = &a["txns"][0];
    assert_eq!(txn["user"]["mobileNumber"], MOBILE, "{txn}");
    assert_eq!(txn["user"]["name"], NAME);
    assert_eq!(txn["user"]["emailId"], EMAIL);
    assert_eq!(txn["user"]["userName"], MOBILE);
    // Sign-in by the citizen's user name (their mobile number) still works.
    let (status, body) = k.login(MOBILE, PASSWORD, "pb", "CITIZEN").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["UserRequest"]["mobileNumber"], MOBILE);
    // The stored answer of the Idempotency-Key and the outbox events are sealed whole.
    for sql in [
        "SELECT COUNT(*) FROM kosh_idempotency WHERE response_body NOT LIKE 'v1.%'",
        "SELECT COUNT(*) FROM kosh_outbox WHERE payload NOT LIKE 'v1.%'",
    ] {
        let n: i64 = sqlx::query_scalar(sql)
            .fetch_one(k.state().db.pool())
            .await
            .unwrap();
        assert_eq!(n, 0, "{sql}");
    }
    w.kosh.stop().await;
}

async fn answers_are_masked_for_roles_that_may_not_see_personal_data(backend: Backend) {
    let w = world(backend, |_| {}).await;
    let k = &w.kosh;
    // The citizen sees their own records plain.
    let own = user_search(k, &w.citizen_token, json!({"uuid": [w.citizen_uuid]})).await;
    assert_eq!(own[0]["mobileNumber"], MOBILE, "{own:?}");
    assert_eq!(own[0]["pan"], PAN);
    let own_bills = bill_search(k, &w.citizen_token, "consumerCode=PT-PII-2&service=PT").await;
    assert_eq!(own_bills[0]["mobileNumber"], MOBILE, "{own_bills:?}");
    let own_txns = txn_search(k, &w.citizen_token, "").await;
    assert_eq!(own_txns[0]["user"]["mobileNumber"], MOBILE, "{own_txns:?}");

    // A BBPS operating unit (SYSTEM) fetching a bill sees the payer masked.
    let (status, body) = k
        .post_as(
            &w.unit_token,
            &format!("/billing-service/bill/v2/_fetchbill?tenantId={AMR}&businessService=PT&consumerCode=PT-PII-2"),
            json!({"RequestInfo": {}}),
        )
        .await;
    if status == StatusCode::CREATED {
        let bill = &body["Bill"][0];
        assert_eq!(bill["mobileNumber"], "******5678", "{body}");
        assert_eq!(
            bill["payerName"], NAME,
            "names are plain by the shipped policy"
        );
        assert_eq!(bill["totalAmount"], 1000);
    } else {
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    // Its own posting's payment: the payer masked.
    let payments = payment_search(k, &w.unit_token, "consumerCodes=PT-PII-3").await;
    for p in &payments {
        assert_ne!(p["mobileNumber"], MOBILE, "{p}");
        assert_ne!(
            p["paymentDetails"][0]["bill"]["mobileNumber"], MOBILE,
            "{p}"
        );
    }

    // An employee whose roles the policy does not name (a grievance officer) sees the
    // personal data of someone else's user record masked.
    k.create_user(json!({"userName": "pii-gro", "name": "Grievance Officer", "type": "EMPLOYEE", "active": true,
        "password": PASSWORD, "tenantId": "pb", "roles": [{"code": "GRO", "tenantId": "pb"}]}))
        .await;
    let gro = k.token("pii-gro", PASSWORD, "pb", "EMPLOYEE").await;
    let found = user_search(k, &gro, json!({"uuid": [w.citizen_uuid]})).await;
    assert_eq!(found.len(), 1, "{found:?}");
    let u = &found[0];
    assert_eq!(u["mobileNumber"], "******5678", "{u}");
    assert_eq!(u["userName"], "******5678", "{u}");
    assert_eq!(u["emailId"], "m****@example.org", "{u}");
    assert_eq!(u["pan"], "******321Q", "{u}");
    assert_eq!(u["aadhaarNumber"], "********1098", "{u}");
    assert_eq!(u["permanentAddress"], "1* L******* R***", "{u}");
    assert_eq!(u["name"], NAME, "names are plain by the shipped policy");
    // Searching by the plain mobile number still finds the record (masked).
    let by_mobile = user_search(k, &gro, json!({"mobileNumber": MOBILE})).await;
    assert_eq!(by_mobile.len(), 1);
    assert_eq!(by_mobile[0]["mobileNumber"], "******5678");
    // The unmasking roles of the master see it plain (here the administrator).
    let plain = user_search(k, &k.admin_token, json!({"uuid": [w.citizen_uuid]})).await;
    assert_eq!(plain[0]["mobileNumber"], MOBILE);
    assert_eq!(plain[0]["pan"], PAN);

    // A trade-licence clerk fetching and searching at the city sees payers masked.
    k.create_user(
        json!({"userName": "pii-tl", "name": "TL clerk", "type": "EMPLOYEE", "active": true,
        "password": PASSWORD, "tenantId": AMR, "roles": [{"code": "TL_CEMP", "tenantId": AMR}]}),
    )
    .await;
    let clerk = k.token("pii-tl", PASSWORD, AMR, "EMPLOYEE").await;
    let (status, body) = k
        .post_as(
            &clerk,
            &format!("/billing-service/bill/v2/_fetchbill?tenantId={AMR}&businessService=PT&consumerCode=PT-PII-2"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["Bill"][0]["mobileNumber"], "******5678", "{body}");
    assert_eq!(body["Bill"][0]["totalAmount"], 1000);
    let payments = payment_search(k, &clerk, "consumerCodes=PT-PII-1").await;
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0]["mobileNumber"], "******2233", "{payments:?}");
    assert_eq!(payments[0]["payerEmail"], "m****@example.org");
    assert_eq!(
        payments[0]["paymentDetails"][0]["bill"]["mobileNumber"],
        "******5678"
    );
    // The counter's own view (the administrator) is plain, and the cached fetch answered
    // to the clerk did not change what an employee with an unmasking role is answered.
    let (_, body) = k
        .post(
            &format!("/billing-service/bill/v2/_fetchbill?tenantId={AMR}&businessService=PT&consumerCode=PT-PII-2"),
            json!({"RequestInfo": {}}),
        )
        .await;
    assert_eq!(body["Bill"][0]["mobileNumber"], MOBILE, "{body}");
    // Policy, directly: PTADMIN and the BBPS role masked, the counter roles plain.
    let masked = pii::masking_for(AMR, pii::Model::User, ["PTADMIN"]);
    assert!(masked.masks(pii::Attr::Mobile) && masked.masks(pii::Attr::Pan));
    assert!(pii::masking_for(AMR, pii::Model::Payer, ["BBPS"]).masks(pii::Attr::Mobile));
    assert!(pii::masking_for(AMR, pii::Model::Payer, ["COLL_OPERATOR"]).is_plain());
    assert!(pii::masking_for(AMR, pii::Model::User, ["SUPERUSER"]).is_plain());
    w.kosh.stop().await;
}

/// Writes every sealed row back as it was before sealing began: plain personal columns, a
/// NULL `pii`, plain bill snapshots, outbox payloads and stored answers.
async fn unseal_everything(kosh: &Kosh) {
    let pool = kosh.state().db.pool();
    let vault = pii::vault();
    // Before migration 0009 no start had sealed anything.
    sqlx::query("DELETE FROM kosh_pii_state")
        .execute(pool)
        .await
        .unwrap();
    for t in table::ALL {
        let keys = t.key.join(", ");
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {keys}, pii FROM {} WHERE pii IS NOT NULL",
            t.name
        )))
        .fetch_all(pool)
        .await
        .unwrap();
        for row in rows {
            let sealed: String = row.get(t.key.len());
            let mut personal: serde_json::Map<String, Value> =
                vault.open_json(&sealed).expect("opens");
            let set: Vec<String> = t
                .columns
                .iter()
                .enumerate()
                .map(|(i, (c, _))| format!("{c} = ${}", i + 1))
                .collect();
            let wher: Vec<String> = t
                .key
                .iter()
                .enumerate()
                .map(|(i, k)| format!("{k} = ${}", t.columns.len() + i + 1))
                .collect();
            let sql = format!(
                "UPDATE {} SET {}, pii = NULL WHERE {}",
                t.name,
                set.join(", "),
                wher.join(" AND ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (c, _) in t.columns {
                q = q.bind(personal.get(*c).and_then(Value::as_str).map(str::to_string));
            }
            for i in 0..t.key.len() {
                match row.try_get::<String, _>(i) {
                    Ok(s) => q = q.bind(s),
                    Err(_) => q = q.bind(row.get::<i64, _>(i)),
                }
            }
            q.execute(pool).await.unwrap();
            // A payment's bill snapshots get their payer back.
            if let Some(Value::Object(bills)) = personal.remove("bills") {
                for (detail, fields) in bills {
                    let text: String =
                        sqlx::query_scalar("SELECT bill FROM egcl_paymentdetail WHERE id = $1")
                            .bind(&detail)
                            .fetch_one(pool)
                            .await
                            .unwrap();
                    let mut bill: Value = serde_json::from_str(&text).unwrap();
                    for (k, v) in fields.as_object().unwrap() {
                        bill[k] = v.clone();
                    }
                    sqlx::query("UPDATE egcl_paymentdetail SET bill = $1 WHERE id = $2")
                        .bind(bill.to_string())
                        .bind(&detail)
                        .execute(pool)
                        .await
                        .unwrap();
                }
            }
        }
    }
    for (t, keys, c) in table::SEALED_COLUMNS {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {}, {c} FROM {t} WHERE {c} LIKE 'v1.%'",
            keys.join(", ")
        )))
        .fetch_all(pool)
        .await
        .unwrap();
        for row in rows {
            let sealed: String = row.get(keys.len());
            let wher: Vec<String> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| format!("{k} = ${}", i + 2))
                .collect();
            let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE {t} SET {c} = $1 WHERE {}",
                wher.join(" AND ")
            )))
            .bind(vault.open_str(&sealed).unwrap());
            for i in 0..keys.len() {
                q = q.bind(row.get::<String, _>(i));
            }
            q.execute(pool).await.unwrap();
        }
    }
}

async fn rows_written_before_sealing_are_sealed_at_start_and_read_the_same(backend: Backend) {
    let w = world(backend, |_| {}).await;
    let before = answers(&w).await;
    unseal_everything(&w.kosh).await;
    // The database now looks as it did before migration 0009's sealing: plain values.
    let found = found_in_database(&w.kosh, &[MOBILE, PAN, NAME]).await;
    assert!(found.len() >= 5, "{found:#?}");
    // ...and kosh still reads it (a row whose pii is NULL reads its plain columns).
    let World {
        kosh,
        citizen_token,
        citizen_uuid,
        unit_token,
    } = w;
    let kosh = kosh.restart_with(|_| {}).await;
    kosh.set_clock(NOW).await;
    let w = World {
        kosh,
        citizen_token,
        citizen_uuid,
        unit_token,
    };
    let found = found_in_database(&w.kosh, &SECRETS).await;
    assert!(found.is_empty(), "after the start-up sealing: {found:#?}");
    assert_eq!(answers(&w).await, before);
    // Sealing again finds nothing to do.
    assert_eq!(
        kosh_server::pii::seal_existing(&w.kosh.state().db)
            .await
            .unwrap(),
        0
    );
    w.kosh.stop().await;
}

async fn rotation_reseals_under_the_new_key_and_the_old_one_can_go(backend: Backend) {
    let k1 = format!("k1:{}", pii::keys::fresh_key());
    let k2 = format!("k2:{}", pii::keys::fresh_key());
    let index = pii::keys::fresh_key();
    let (k1c, indexc) = (k1.clone(), index.clone());
    let w = world(backend, move |s| {
        s.pii_keys = Some(k1c);
        s.pii_index_key = Some(indexc);
    })
    .await;
    let before = answers(&w).await;
    let sealed_under = |prefix: &'static str| {
        let kosh = &w.kosh;
        async move {
            let mut n = 0;
            for (t, c) in text_columns(kosh).await {
                let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT COUNT(*) FROM {t} WHERE {c} LIKE $1"
                )))
                .bind(format!("{prefix}%"))
                .fetch_one(kosh.state().db.pool())
                .await
                .unwrap();
                n += count;
            }
            n
        }
    };
    let under_k1 = sealed_under("v1.k1.").await;
    assert!(under_k1 > 10, "{under_k1}");

    // kosh keys rotate with KOSH_PII_KEYS="k2,k1".
    let mut settings = w.kosh.settings().clone();
    settings.pii_keys = Some(format!("{k2},{k1}"));
    let db = kosh_server::open_database(&settings).await.unwrap();
    let resealed = kosh_server::pii::rotate(&db, &pii::vault()).await.unwrap();
    assert_eq!(resealed as i64, under_k1);
    assert_eq!(
        kosh_server::pii::rotate(&db, &pii::vault()).await.unwrap(),
        0
    );
    assert_eq!(sealed_under("v1.k1.").await, 0);
    assert_eq!(sealed_under("v1.k2.").await, under_k1);

    // Started with k2 alone, everything reads as before.
    let World {
        kosh,
        citizen_token,
        citizen_uuid,
        unit_token,
    } = w;
    let kosh = kosh.restart_with(move |s| s.pii_keys = Some(k2)).await;
    kosh.set_clock(NOW).await;
    let w = World {
        kosh,
        citizen_token,
        citizen_uuid,
        unit_token,
    };
    assert_eq!(answers(&w).await, before);
    assert!(found_in_database(&w.kosh, &SECRETS).await.is_empty());

    // Keys that do not fit the database stop kosh at start-up (a lost key file, or two
    // instances that generated their own): nothing is written under a key the others lack.
    // (Last: opening the database puts these keys in force in this process.)
    let mut wrong = w.kosh.settings().clone();
    wrong.pii_keys = Some(format!("k9:{}", pii::keys::fresh_key()));
    let err = kosh_server::open_database(&wrong).await.unwrap_err();
    assert!(format!("{err:#}").contains("do not open"), "{err:#}");
    let mut wrong_index = w.kosh.settings().clone();
    wrong_index.pii_index_key = Some(pii::keys::fresh_key());
    let err = kosh_server::open_database(&wrong_index).await.unwrap_err();
    assert!(format!("{err:#}").contains("KOSH_PII_INDEX_KEY"), "{err:#}");
    w.kosh.stop().await;
}
