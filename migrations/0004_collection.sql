-- Collection (collection-services): payments, one payment detail (and receipt) per bill, the
-- bill as it was paid, request idempotency, and the outbox of events for other systems.

CREATE TABLE egcl_payment (
    id                  VARCHAR(64)   NOT NULL,
    tenant_id           VARCHAR(256)  NOT NULL,
    total_due           BIGINT        NOT NULL,
    total_amount_paid   BIGINT        NOT NULL,
    transaction_number  VARCHAR(128),
    transaction_date    BIGINT        NOT NULL,
    payment_mode        VARCHAR(32)   NOT NULL,
    instrument_date     BIGINT,
    instrument_number   VARCHAR(128),
    -- APPROVED, REMITTED, CANCELLED, DISHONOURED, ...
    instrument_status   VARCHAR(32)   NOT NULL,
    ifsc_code           VARCHAR(64),
    additional_details  TEXT,
    paid_by             VARCHAR(256),
    mobile_number       VARCHAR(64),
    payer_name          VARCHAR(256),
    payer_address       VARCHAR(1024),
    payer_email         VARCHAR(256),
    payer_id            VARCHAR(256),
    -- NEW, DEPOSITED, CANCELLED, DISHONOURED
    payment_status      VARCHAR(32)   NOT NULL,
    file_store_id       VARCHAR(256),
    created_by          VARCHAR(64)   NOT NULL,
    created_ms          BIGINT        NOT NULL,
    last_modified_by    VARCHAR(64)   NOT NULL,
    last_modified_ms    BIGINT        NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX egcl_payment_txn ON egcl_payment (tenant_id, transaction_number);
CREATE INDEX egcl_payment_date ON egcl_payment (tenant_id, transaction_date);

CREATE TABLE egcl_paymentdetail (
    id                      VARCHAR(64)   NOT NULL,
    tenant_id               VARCHAR(256)  NOT NULL,
    payment_id              VARCHAR(64)   NOT NULL,
    due                     BIGINT        NOT NULL,
    amount_paid             BIGINT        NOT NULL,
    receipt_number          VARCHAR(256)  NOT NULL,
    receipt_date            BIGINT        NOT NULL,
    receipt_type            VARCHAR(32)   NOT NULL,
    business_service        VARCHAR(256)  NOT NULL,
    bill_id                 VARCHAR(64)   NOT NULL,
    consumer_code           VARCHAR(256)  NOT NULL,
    manual_receipt_number   VARCHAR(256),
    manual_receipt_date     BIGINT,
    additional_details      TEXT,
    -- The bill as it was paid, with this payment's apportionment (DIGIT's egcl_bill,
    -- egcl_billdetial and egcl_billaccountdetail snapshot), as JSON.
    bill                    TEXT          NOT NULL,
    -- 1 while the payment stands; 0 once cancelled or dishonoured.
    live                    BIGINT        NOT NULL,
    created_by              VARCHAR(64)   NOT NULL,
    created_ms              BIGINT        NOT NULL,
    last_modified_by        VARCHAR(64)   NOT NULL,
    last_modified_ms        BIGINT        NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, payment_id) REFERENCES egcl_payment (tenant_id, id)
);
-- A bill has at most one live payment (DESIGN.md invariant 1), whatever races.
CREATE UNIQUE INDEX egcl_paymentdetail_live_bill ON egcl_paymentdetail (tenant_id, bill_id) WHERE live = 1;
-- Receipt numbers are unique per tenant and never reused.
CREATE UNIQUE INDEX egcl_paymentdetail_receipt ON egcl_paymentdetail (tenant_id, receipt_number);
CREATE INDEX egcl_paymentdetail_payment ON egcl_paymentdetail (tenant_id, payment_id);
CREATE INDEX egcl_paymentdetail_consumer ON egcl_paymentdetail (tenant_id, consumer_code);

-- Every state a payment passed through (create, cancel, dishonour, remit), as JSON.
CREATE TABLE egcl_payment_audit (
    audit_id    VARCHAR(64)   NOT NULL,
    tenant_id   VARCHAR(256)  NOT NULL,
    payment_id  VARCHAR(64)   NOT NULL,
    action      VARCHAR(32)   NOT NULL,
    payment     TEXT          NOT NULL,
    changed_by  VARCHAR(64)   NOT NULL,
    changed_ms  BIGINT        NOT NULL,
    PRIMARY KEY (tenant_id, audit_id)
);

-- A request repeated with the same Idempotency-Key gets the first answer. The key is
-- claimed in the same transaction as the payment it creates.
CREATE TABLE kosh_idempotency (
    scope           VARCHAR(128)  NOT NULL,
    idem_key        VARCHAR(255)  NOT NULL,
    request_hash    VARCHAR(64)   NOT NULL,
    response_status BIGINT        NOT NULL,
    response_body   TEXT          NOT NULL,
    created_ms      BIGINT        NOT NULL,
    expires_ms      BIGINT        NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX kosh_idempotency_expiry ON kosh_idempotency (expires_ms);

-- Events DIGIT publishes on Kafka (egov.collection.payment-create, ...), written in the
-- same transaction as the change they report; a relay publishes and marks them.
CREATE TABLE kosh_outbox (
    id            VARCHAR(64)   NOT NULL PRIMARY KEY,
    tenant_id     VARCHAR(256)  NOT NULL,
    topic         VARCHAR(256)  NOT NULL,
    event_key     VARCHAR(256)  NOT NULL,
    payload       TEXT          NOT NULL,
    created_ms    BIGINT        NOT NULL,
    published_ms  BIGINT
);
CREATE INDEX kosh_outbox_unpublished ON kosh_outbox (published_ms, created_ms);
