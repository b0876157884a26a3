-- BBPS biller adapter: every BBPS payment posting kosh received (keyed by the BBPS
-- transaction reference), the bills each one paid with their receipt numbers, refunds due
-- for reversals kosh could not undo, and complaints with their turnaround deadlines.
-- Money is BIGINT paise; times are BIGINT epoch ms; JSON is TEXT.

CREATE TABLE bbps_txn (
    -- The state whose biller master the posting was made against: a BBPS transaction
    -- reference is unique across BBPS, so one state sees it once whatever the biller.
    tenant_id           VARCHAR(256)  NOT NULL,
    txn_reference_id    VARCHAR(64)   NOT NULL,
    biller_id           VARCHAR(64)   NOT NULL,
    business_service    VARCHAR(256)  NOT NULL,
    -- JSON or XML: the profile of the first posting.
    profile             VARCHAR(8)    NOT NULL,
    -- SHA-256 of what identifies the payment (biller, customer parameters, amount, bills):
    -- a repeat with the same hash gets the first answer, another hash is BPR007.
    request_hash        VARCHAR(64)   NOT NULL,
    ref_id              VARCHAR(64),
    msg_id              VARCHAR(64),
    payment_ref_id      VARCHAR(128),
    -- [{name, value}] as the operating unit sent them, as JSON.
    customer_params     TEXT          NOT NULL,
    customer_mobile     VARCHAR(32),
    amount              BIGINT        NOT NULL,
    payment_mode        VARCHAR(64),
    payment_channel     VARCHAR(32),
    agent_id            VARCHAR(64),
    -- The transaction time as the operating unit wrote it.
    txn_ts              VARCHAR(64),
    -- SUCCESS (a live receipt), FAILED (refused, nothing posted), REVERSED (receipt
    -- cancelled, or reversed before any posting), REFUND_PENDING (reversal asked, receipt
    -- kept, refund due in bbps_refund). POSTING only inside the posting's own transaction.
    status              VARCHAR(32)   NOT NULL,
    compliance_code     VARCHAR(8),
    compliance_reason   VARCHAR(1024),
    payment_id          VARCHAR(64),
    -- The receipt number of the first bill paid: the biller's approval reference.
    approval_ref_num    VARCHAR(256),
    receipt_date        BIGINT,
    -- YYYY-MM-DD in India Standard Time, the day the daily report lists it under.
    business_date       VARCHAR(10)   NOT NULL,
    created_by          VARCHAR(64)   NOT NULL,
    created_ms          BIGINT        NOT NULL,
    reversal_reason     VARCHAR(1024),
    reversed_ms         BIGINT,
    last_modified_ms    BIGINT        NOT NULL,
    PRIMARY KEY (tenant_id, txn_reference_id)
);
CREATE INDEX bbps_txn_day ON bbps_txn (tenant_id, business_date);

-- The bills a posting paid, in the order of the posting, as they were when paid.
CREATE TABLE bbps_txn_bill (
    tenant_id           VARCHAR(256)  NOT NULL,
    txn_reference_id    VARCHAR(64)   NOT NULL,
    seq                 BIGINT        NOT NULL,
    bill_tenant_id      VARCHAR(256)  NOT NULL,
    bill_id             VARCHAR(64)   NOT NULL,
    bill_number         VARCHAR(256),
    consumer_code       VARCHAR(256)  NOT NULL,
    customer_name       VARCHAR(256),
    bill_date           BIGINT        NOT NULL,
    bill_expiry         BIGINT,
    period_from         BIGINT,
    period_to           BIGINT,
    bill_amount         BIGINT        NOT NULL,
    amount_paid         BIGINT        NOT NULL,
    receipt_number      VARCHAR(256)  NOT NULL,
    PRIMARY KEY (tenant_id, txn_reference_id, seq),
    FOREIGN KEY (tenant_id, txn_reference_id) REFERENCES bbps_txn (tenant_id, txn_reference_id)
);

-- A reversal kosh could not apply (the receipt is not the latest of its consumer code, so
-- DIGIT's rules forbid cancelling it): the money is owed back to the payer. One per
-- transaction.
CREATE TABLE bbps_refund (
    tenant_id           VARCHAR(256)  NOT NULL,
    txn_reference_id    VARCHAR(64)   NOT NULL,
    amount              BIGINT        NOT NULL,
    reason              VARCHAR(1024),
    -- DUE until someone pays it back.
    status              VARCHAR(16)   NOT NULL,
    created_by          VARCHAR(64)   NOT NULL,
    created_ms          BIGINT        NOT NULL,
    PRIMARY KEY (tenant_id, txn_reference_id),
    FOREIGN KEY (tenant_id, txn_reference_id) REFERENCES bbps_txn (tenant_id, txn_reference_id)
);

-- Complaints an operating unit registers (BBPS complaint management): a transaction
-- complaint names a BBPS transaction reference, a service complaint a biller.
CREATE TABLE bbps_complaint (
    tenant_id           VARCHAR(256)  NOT NULL,
    complaint_id        VARCHAR(64)   NOT NULL,
    -- TRANSACTION or SERVICE
    complaint_type      VARCHAR(16)   NOT NULL,
    txn_reference_id    VARCHAR(64),
    biller_id           VARCHAR(64),
    disposition         VARCHAR(256)  NOT NULL,
    description         VARCHAR(2048),
    customer_mobile     VARCHAR(32),
    participation_type  VARCHAR(32),
    -- ASSIGNED when registered; RE_ASSIGNED, ESCALATED, RESOLVED, REJECTED, UNRESOLVED.
    status              VARCHAR(32)   NOT NULL,
    remarks             VARCHAR(2048),
    -- When the biller must have resolved it (registration + the biller's turnaround time).
    tat_deadline_ms     BIGINT        NOT NULL,
    resolved_ms         BIGINT,
    created_by          VARCHAR(64)   NOT NULL,
    created_ms          BIGINT        NOT NULL,
    last_modified_by    VARCHAR(64)   NOT NULL,
    last_modified_ms    BIGINT        NOT NULL,
    PRIMARY KEY (tenant_id, complaint_id)
);
CREATE INDEX bbps_complaint_txn ON bbps_complaint (tenant_id, txn_reference_id);
