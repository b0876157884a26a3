-- Payment gateway (egov-pg-service): transactions, the bills each one pays, the payment
-- (receipt) a successful one made, the raw gateway exchange, the SANDBOX gateway's own
-- ledger, and the lease that lets one kosh instance at a time run reconciliation.
-- Money is BIGINT paise; times are BIGINT epoch ms; JSON is TEXT.

CREATE TABLE eg_pg_transactions (
    txn_id                VARCHAR(128)  NOT NULL,
    tenant_id             VARCHAR(256)  NOT NULL,
    txn_amount            BIGINT        NOT NULL,
    -- PENDING, SUCCESS or FAILURE; SUCCESS and FAILURE are final.
    txn_status            VARCHAR(16)   NOT NULL,
    txn_status_msg        VARCHAR(256),
    gateway               VARCHAR(64)   NOT NULL,
    -- The bill named at the top of the request (DIGIT's billId); every bill paid is in
    -- eg_pg_txn_bills.
    bill_id               VARCHAR(64)   NOT NULL,
    module                VARCHAR(64),
    consumer_code         VARCHAR(256)  NOT NULL,
    product_info          VARCHAR(512)  NOT NULL,
    callback_url          TEXT          NOT NULL,
    redirect_url          TEXT,
    -- The user who created the transaction (the only user who may update it).
    user_uuid             VARCHAR(64)   NOT NULL,
    user_id               BIGINT        NOT NULL,
    user_type             VARCHAR(32)   NOT NULL,
    user_name             VARCHAR(256)  NOT NULL,
    user_tenant_id        VARCHAR(256)  NOT NULL,
    -- The payer as the request named them (the receipt's paidBy and mobile number).
    name                  VARCHAR(256)  NOT NULL,
    mobile_number         VARCHAR(64)   NOT NULL,
    email_id              VARCHAR(256),
    gateway_txn_id        VARCHAR(256),
    gateway_payment_mode  VARCHAR(256),
    gateway_status_code   VARCHAR(256),
    gateway_status_msg    VARCHAR(512),
    -- The receipt number of the payment a SUCCESS made, and that payment's id.
    receipt               VARCHAR(256),
    payment_id            VARCHAR(64),
    -- [{billId, taxAmount, amountPaid}] with amounts in paise, as JSON.
    tax_and_payments      TEXT          NOT NULL,
    additional_details    TEXT,
    created_by            VARCHAR(64)   NOT NULL,
    created_time          BIGINT        NOT NULL,
    last_modified_by      VARCHAR(64),
    last_modified_time    BIGINT        NOT NULL,
    -- Who settled it (CREATE for a zero amount, USER, CALLBACK, RECONCILIATION) and when.
    settled_by            VARCHAR(32),
    settled_time          BIGINT,
    -- When reconciliation last asked the gateway about it.
    reconciled_time       BIGINT,
    PRIMARY KEY (tenant_id, txn_id)
);
-- Gateways call back with the transaction id alone, so it is unique on its own (as in DIGIT).
CREATE UNIQUE INDEX eg_pg_transactions_txn_id ON eg_pg_transactions (txn_id);
-- A successful transaction made exactly one payment, and a payment belongs to one transaction.
CREATE UNIQUE INDEX eg_pg_transactions_payment ON eg_pg_transactions (tenant_id, payment_id);
CREATE INDEX eg_pg_transactions_pending ON eg_pg_transactions (txn_status, created_time);
CREATE INDEX eg_pg_transactions_user ON eg_pg_transactions (user_uuid, created_time);
CREATE INDEX eg_pg_transactions_consumer ON eg_pg_transactions (tenant_id, consumer_code);

-- The bills a transaction pays (its taxAndPayments). `live` is 1 while the transaction is
-- PENDING or SUCCESS and 0 once it failed: a bill is in at most one live transaction, so two
-- concurrent creates for one bill cannot both succeed.
CREATE TABLE eg_pg_txn_bills (
    tenant_id    VARCHAR(256)  NOT NULL,
    txn_id       VARCHAR(128)  NOT NULL,
    bill_id      VARCHAR(64)   NOT NULL,
    amount_paid  BIGINT        NOT NULL,
    live         BIGINT        NOT NULL,
    PRIMARY KEY (tenant_id, txn_id, bill_id),
    FOREIGN KEY (tenant_id, txn_id) REFERENCES eg_pg_transactions (tenant_id, txn_id)
);
CREATE UNIQUE INDEX eg_pg_txn_bills_live ON eg_pg_txn_bills (tenant_id, bill_id) WHERE live = 1;
CREATE INDEX eg_pg_txn_bills_bill ON eg_pg_txn_bills (bill_id);

-- The payment a successful transaction made. The primary key is the rule "a transaction has
-- at most one receipt", kept by the database whatever races.
CREATE TABLE eg_pg_txn_payment (
    tenant_id        VARCHAR(256)  NOT NULL,
    txn_id           VARCHAR(128)  NOT NULL,
    payment_id       VARCHAR(64)   NOT NULL,
    -- The receipt numbers, one per bill, as a JSON array.
    receipt_numbers  TEXT          NOT NULL,
    receipt_date     BIGINT        NOT NULL,
    created_time     BIGINT        NOT NULL,
    PRIMARY KEY (tenant_id, txn_id),
    FOREIGN KEY (tenant_id, txn_id) REFERENCES eg_pg_transactions (tenant_id, txn_id)
);
CREATE UNIQUE INDEX eg_pg_txn_payment_payment ON eg_pg_txn_payment (tenant_id, payment_id);

-- DIGIT's transaction dump: the redirect kosh produced and the gateway's last answer.
CREATE TABLE eg_pg_transactions_dump (
    tenant_id           VARCHAR(256)  NOT NULL,
    txn_id              VARCHAR(128)  NOT NULL,
    txn_request         TEXT,
    txn_response        TEXT,
    created_by          VARCHAR(64),
    created_time        BIGINT        NOT NULL,
    last_modified_by    VARCHAR(64),
    last_modified_time  BIGINT        NOT NULL,
    PRIMARY KEY (tenant_id, txn_id),
    FOREIGN KEY (tenant_id, txn_id) REFERENCES eg_pg_transactions (tenant_id, txn_id)
);

-- The SANDBOX gateway's own books: what the payer chose on kosh's sandbox payment page. It
-- plays an outside bank, which knows transactions by their id alone.
CREATE TABLE pg_sandbox_payments (
    txn_id        VARCHAR(128)  NOT NULL PRIMARY KEY,
    tenant_id     VARCHAR(256)  NOT NULL,
    amount        BIGINT        NOT NULL,
    -- SUCCESS, FAILURE or PENDING; SUCCESS and FAILURE are final.
    status        VARCHAR(16)   NOT NULL,
    sandbox_ref   VARCHAR(64)   NOT NULL,
    created_ms    BIGINT        NOT NULL,
    updated_ms    BIGINT        NOT NULL
);

-- Jobs that must run on one kosh instance at a time (reconciliation) hold a lease row: an
-- instance takes it when it is free or expired, renews it while working, and frees it after.
CREATE TABLE kosh_job_lease (
    job_name     VARCHAR(128)  NOT NULL PRIMARY KEY,
    holder       VARCHAR(128),
    expires_ms   BIGINT        NOT NULL,
    last_run_ms  BIGINT
);
