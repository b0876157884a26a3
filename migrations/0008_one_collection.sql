-- One bill, one collection, whatever the channel (counter, online, BBPS).
--
-- Money that arrives for a bill another channel has already paid is never dropped and never
-- makes a second receipt: it becomes a refund due (excess collection), one row per source of
-- money, which an authorised employee settles by paying it back (REFUNDED) or by keeping it
-- as the consumer's advance (ADVANCED).
CREATE TABLE egcl_refund_due (
    id                    VARCHAR(64)   NOT NULL,
    tenant_id             VARCHAR(256)  NOT NULL,
    -- ONLINE (a payment-gateway transaction), BBPS (a BBPS posting), COUNTER.
    channel               VARCHAR(16)   NOT NULL,
    -- The channel's own reference of the money: the pg txnId, the BBPS txnReferenceId.
    source_ref            VARCHAR(256)  NOT NULL,
    -- The bill the money was meant for (the first, when it was meant for several).
    bill_id               VARCHAR(64)   NOT NULL,
    consumer_code         VARCHAR(256)  NOT NULL,
    business_service      VARCHAR(256)  NOT NULL,
    amount                BIGINT        NOT NULL,
    reason                VARCHAR(1024) NOT NULL,
    payer_name            VARCHAR(256),
    mobile_number         VARCHAR(64),
    -- DUE until settled; then REFUNDED or ADVANCED (final).
    status                VARCHAR(16)   NOT NULL,
    settled_by            VARCHAR(64),
    settled_ms            BIGINT,
    -- The refund's bank or cash reference, or the advance's demand detail id.
    settlement_reference  VARCHAR(256),
    settlement_note       VARCHAR(1024),
    created_by            VARCHAR(64)   NOT NULL,
    created_ms            BIGINT        NOT NULL,
    last_modified_ms      BIGINT        NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- The same money is owed back once: one refund due per channel reference.
CREATE UNIQUE INDEX egcl_refund_due_source ON egcl_refund_due (tenant_id, channel, source_ref);
CREATE INDEX egcl_refund_due_day ON egcl_refund_due (tenant_id, created_ms);
CREATE INDEX egcl_refund_due_consumer ON egcl_refund_due (tenant_id, consumer_code);

-- Bills with an online payment in progress. A payment-gateway transaction holds its bills
-- while it is PENDING; a counter payment of a held bill is refused (naming the transaction)
-- unless an employee overrides it, because the payer may be paying online right now. BBPS
-- postings are not held back: the operating unit has already taken that money.
CREATE TABLE egcl_bill_hold (
    tenant_id     VARCHAR(256)  NOT NULL,
    bill_id       VARCHAR(64)   NOT NULL,
    -- The holder: ONLINE and the pg txnId.
    channel       VARCHAR(16)   NOT NULL,
    holder_ref    VARCHAR(256)  NOT NULL,
    held_by       VARCHAR(64)   NOT NULL,
    created_ms    BIGINT        NOT NULL,
    -- When reconciliation will have asked the gateway about it.
    settle_by_ms  BIGINT        NOT NULL,
    PRIMARY KEY (tenant_id, bill_id, holder_ref)
);
CREATE INDEX egcl_bill_hold_holder ON egcl_bill_hold (tenant_id, holder_ref);
-- Transactions already PENDING hold their bills from now on (settled by: the default
-- reconciliation age, twice 15 minutes, after their creation).
INSERT INTO egcl_bill_hold (tenant_id, bill_id, channel, holder_ref, held_by, created_ms, settle_by_ms)
SELECT b.tenant_id, b.bill_id, 'ONLINE', b.txn_id, t.user_uuid, t.created_time, t.created_time + 1800000
FROM eg_pg_txn_bills b JOIN eg_pg_transactions t ON t.tenant_id = b.tenant_id AND t.txn_id = b.txn_id
WHERE b.live = 1 AND t.txn_status = 'PENDING';

-- No payer can block another: a bill may be in one live transaction per user (the same
-- user's retry still waits for their own PENDING one, as in DIGIT); another user's online
-- payment of it is allowed, and whichever confirms second becomes a refund due.
ALTER TABLE eg_pg_txn_bills ADD COLUMN user_uuid VARCHAR(64) NOT NULL DEFAULT '';
UPDATE eg_pg_txn_bills SET user_uuid = (
    SELECT t.user_uuid FROM eg_pg_transactions t
    WHERE t.tenant_id = eg_pg_txn_bills.tenant_id AND t.txn_id = eg_pg_txn_bills.txn_id
);
DROP INDEX eg_pg_txn_bills_live;
CREATE UNIQUE INDEX eg_pg_txn_bills_live ON eg_pg_txn_bills (tenant_id, bill_id, user_uuid) WHERE live = 1;

-- A transaction the gateway had no record of is closed, not failed: it stays PENDING on the
-- wire, frees its bills, and a later SUCCESS from the gateway still settles it (receipt, or
-- refund due) while reconciliation keeps asking within the late-success window.
ALTER TABLE eg_pg_transactions ADD COLUMN closed_time BIGINT;
-- The refund due a SUCCESS became when its bills had been paid by another channel.
ALTER TABLE eg_pg_transactions ADD COLUMN refund_id VARCHAR(64);
