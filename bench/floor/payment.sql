-- The naive floor (issue 17): one CASH payment's six essential writes, each in its own
-- transaction (autocommit), with nothing around them. Captured with PostgreSQL's statement
-- log (log_statement = all) from kosh at git fc94684: a CASH payment of a one-tax-head (WS)
-- bill is BEGIN, 23 statements, COMMIT: 7 reads and 16 writes, which are the consumer-code
-- lock (UPDATE egbs_demand SET status = status), the demand, the demand detail, the bill,
-- the bill detail, the bill account detail, the receipt-number counter, the payment, the
-- payment detail, the demand audit, the demand detail audit, the payment audit, the audit
-- chain (head upsert, chain insert, head update) and the outbox event.
--
-- The six kept here are the ones that make the payment: (1) the money applied to the demand
-- detail, (2) the bill marked PAID, (3) the receipt number from its counter row (city and
-- service, kosh's hot row), (4) the payment, (5) the payment detail with the bill's JSON,
-- (6) the outbox event. Left out: the lock, the demand row, the bill detail and account
-- detail, the three audit rows and the audit chain's three statements.
--
-- Statements and their constants are kosh's; the ids come from bench_floor, a table
-- kosh-bench fills with the bills kosh made (one lookup first, not part of the payment); new
-- rows get a random id. Payload sizes match kosh's: the payment's sealed personal data
-- 247 bytes, the bill JSON in the payment detail 1,260 bytes, the sealed outbox event
-- 4,237 bytes. Run by pgbench on PostgreSQL and by kosh-bench's driver on SQLite (see
-- bench/src/floor.rs).
\set n random(1, :nbills)
\set uid random(1, 9000000000000000000)
SELECT f.tenant_id, f.bill_id, f.demand_id, f.demand_detail_id, f.consumer_code, f.business_service, f.seq_name, p.bill_json, p.payment_pii, p.event_json FROM bench_floor f, bench_floor_payload p WHERE f.n = :n AND p.k = 1 \gset
UPDATE egbs_demand_detail SET tax_amount = 45000, collection_amount = 45000, additional_details = NULL, last_modified_by = 'bench-floor', last_modified_ms = 1796634823985 WHERE tenant_id = :tenant_id AND id = :demand_detail_id AND demand_id = :demand_id;
UPDATE egbs_bill SET status = 'PAID', amount_paid = 45000, payment_id = :uid, advance_amount = 0, advance_demand_detail_id = NULL, last_modified_by = 'bench-floor', last_modified_ms = 1796634825482 WHERE tenant_id = :tenant_id AND id = :bill_id;
INSERT INTO id_counter (tenant_id, seq_name, last_value) VALUES ('pb', :seq_name, 1) ON CONFLICT (tenant_id, seq_name) DO UPDATE SET last_value = id_counter.last_value + excluded.last_value RETURNING last_value;
INSERT INTO egcl_payment (id, tenant_id, total_due, total_amount_paid, transaction_number, transaction_date, payment_mode, instrument_date, instrument_number, instrument_status, ifsc_code, additional_details, paid_by, mobile_number, payer_name, payer_address, payer_email, payer_id, payment_status, file_store_id, created_by, created_ms, last_modified_by, last_modified_ms, pii) VALUES (:uid, :tenant_id, 45000, 45000, :uid, 1796634825482, 'CASH', 1796634825482, NULL, 'APPROVED', NULL, NULL, NULL, 'h:21ec16148c0c60addd27c4b41e6bbc', NULL, NULL, NULL, NULL, 'NEW', NULL, 'bench-floor', 1796634825482, 'bench-floor', 1796634825482, :payment_pii);
INSERT INTO egcl_paymentdetail (id, tenant_id, payment_id, due, amount_paid, receipt_number, receipt_date, receipt_type, business_service, bill_id, consumer_code, manual_receipt_number, manual_receipt_date, additional_details, bill, live, created_by, created_ms, last_modified_by, last_modified_ms) VALUES (:uid, :tenant_id, :uid, 45000, 45000, :uid, 1796634825482, 'BILLBASED', :business_service, :uid, :consumer_code, NULL, NULL, NULL, :bill_json, 1, 'bench-floor', 1796634825482, 'bench-floor', 1796634825482) ON CONFLICT (tenant_id, bill_id) WHERE live = 1 DO NOTHING;
INSERT INTO kosh_outbox (id, tenant_id, topic, event_key, payload, created_ms, published_ms) VALUES (:uid, :tenant_id, 'egov.collection.payment-create', :uid, :event_json, 1796634825482, NULL);
