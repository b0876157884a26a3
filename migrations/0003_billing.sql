-- Billing (billing-service): demands and their tax-head details, an audit copy of every
-- change to them, and bills with their details (one per demand) and account details (one per
-- tax head). Money is BIGINT paise; times are BIGINT epoch ms; flags are BIGINT 0/1.

CREATE TABLE egbs_demand (
    id                      VARCHAR(64)   NOT NULL,
    tenant_id               VARCHAR(256)  NOT NULL,
    consumer_code           VARCHAR(256)  NOT NULL,
    consumer_type           VARCHAR(256)  NOT NULL,
    business_service        VARCHAR(256)  NOT NULL,
    -- The payer's user uuid (egov-user), when the demand has one.
    payer                   VARCHAR(64),
    tax_period_from         BIGINT        NOT NULL,
    tax_period_to           BIGINT        NOT NULL,
    minimum_amount_payable  BIGINT        NOT NULL,
    -- How long a bill of this demand stays valid (ms), or a fixed expiry date.
    bill_expiry_time        BIGINT,
    fixed_bill_expiry_date  BIGINT,
    -- ACTIVE, CANCELLED or ADJUSTED.
    status                  VARCHAR(32)   NOT NULL,
    is_payment_completed    BIGINT        NOT NULL,
    additional_details      TEXT,
    created_by              VARCHAR(64)   NOT NULL,
    created_ms              BIGINT        NOT NULL,
    last_modified_by        VARCHAR(64)   NOT NULL,
    last_modified_ms        BIGINT        NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- DIGIT's rule: one ACTIVE demand per consumer code, service and tax period.
CREATE UNIQUE INDEX egbs_demand_one_active_per_period ON egbs_demand
    (tenant_id, consumer_code, business_service, tax_period_from, tax_period_to)
    WHERE status = 'ACTIVE';
CREATE INDEX egbs_demand_consumer ON egbs_demand (tenant_id, business_service, consumer_code);
CREATE INDEX egbs_demand_payer ON egbs_demand (payer);

CREATE TABLE egbs_demand_detail (
    id                  VARCHAR(64)   NOT NULL,
    tenant_id           VARCHAR(256)  NOT NULL,
    demand_id           VARCHAR(64)   NOT NULL,
    tax_head_code       VARCHAR(256)  NOT NULL,
    tax_amount          BIGINT        NOT NULL,
    collection_amount   BIGINT        NOT NULL,
    additional_details  TEXT,
    created_by          VARCHAR(64)   NOT NULL,
    created_ms          BIGINT        NOT NULL,
    last_modified_by    VARCHAR(64)   NOT NULL,
    last_modified_ms    BIGINT        NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, demand_id) REFERENCES egbs_demand (tenant_id, id)
);
CREATE INDEX egbs_demand_detail_demand ON egbs_demand_detail (tenant_id, demand_id);

-- A copy of the demand as it was after each create, update or payment (DIGIT's
-- egbs_demand_v1_audit), with who changed it and when.
CREATE TABLE egbs_demand_audit (
    audit_id                VARCHAR(64)   NOT NULL,
    demand_id               VARCHAR(64)   NOT NULL,
    tenant_id               VARCHAR(256)  NOT NULL,
    consumer_code           VARCHAR(256)  NOT NULL,
    consumer_type           VARCHAR(256)  NOT NULL,
    business_service        VARCHAR(256)  NOT NULL,
    payer                   VARCHAR(64),
    tax_period_from         BIGINT        NOT NULL,
    tax_period_to           BIGINT        NOT NULL,
    minimum_amount_payable  BIGINT        NOT NULL,
    bill_expiry_time        BIGINT,
    fixed_bill_expiry_date  BIGINT,
    status                  VARCHAR(32)   NOT NULL,
    is_payment_completed    BIGINT        NOT NULL,
    additional_details      TEXT,
    -- What caused the change: CREATE, UPDATE, PAYMENT or PAYMENT_REVERSAL.
    reason                  VARCHAR(32)   NOT NULL,
    changed_by              VARCHAR(64)   NOT NULL,
    changed_ms              BIGINT        NOT NULL,
    PRIMARY KEY (tenant_id, audit_id)
);
CREATE INDEX egbs_demand_audit_demand ON egbs_demand_audit (tenant_id, demand_id);

CREATE TABLE egbs_demand_detail_audit (
    audit_id            VARCHAR(64)   NOT NULL,
    -- The egbs_demand_audit row this detail belongs to.
    demand_audit_id     VARCHAR(64)   NOT NULL,
    detail_id           VARCHAR(64)   NOT NULL,
    demand_id           VARCHAR(64)   NOT NULL,
    tenant_id           VARCHAR(256)  NOT NULL,
    tax_head_code       VARCHAR(256)  NOT NULL,
    tax_amount          BIGINT        NOT NULL,
    collection_amount   BIGINT        NOT NULL,
    additional_details  TEXT,
    PRIMARY KEY (tenant_id, audit_id)
);
CREATE INDEX egbs_demand_detail_audit_parent ON egbs_demand_detail_audit (tenant_id, demand_audit_id);

CREATE TABLE egbs_bill (
    id                          VARCHAR(64)   NOT NULL,
    tenant_id                   VARCHAR(256)  NOT NULL,
    consumer_code               VARCHAR(256)  NOT NULL,
    business_service            VARCHAR(256)  NOT NULL,
    -- NULL only inside the transaction that creates the bill: the number is taken after
    -- the bill has won its place as the ACTIVE bill, so a lost race costs no number.
    bill_number                 VARCHAR(1024),
    bill_date                   BIGINT        NOT NULL,
    -- The bill's place among the bills of its consumer code (1, 2, ...): "latest" without
    -- relying on two bills never being made in the same millisecond.
    seq                         BIGINT        NOT NULL,
    -- ACTIVE, PAID, PARTIALLY_PAID, CANCELLED or EXPIRED.
    status                      VARCHAR(32)   NOT NULL,
    total_amount                BIGINT        NOT NULL,
    amount_paid                 BIGINT        NOT NULL,
    -- The payer, copied from the user when the bill is made.
    user_id                     VARCHAR(64),
    payer_name                  VARCHAR(256),
    payer_address               VARCHAR(1024),
    payer_email                 VARCHAR(256),
    mobile_number               VARCHAR(32),
    -- Part payment rules, from the business service and the demands.
    part_payment_allowed        BIGINT        NOT NULL,
    is_advance_allowed          BIGINT        NOT NULL,
    minimum_amount_to_be_paid   BIGINT        NOT NULL,
    -- Payment modes refused for this bill, comma-separated.
    collection_modes_not_allowed TEXT,
    additional_details          TEXT,
    file_store_id               VARCHAR(256),
    -- The payment that paid the bill (a bill has at most one live payment), the advance it
    -- left and the demand detail holding that advance.
    payment_id                  VARCHAR(64),
    advance_amount              BIGINT        NOT NULL,
    advance_demand_detail_id    VARCHAR(64),
    created_by                  VARCHAR(64)   NOT NULL,
    created_ms                  BIGINT        NOT NULL,
    last_modified_by            VARCHAR(64)   NOT NULL,
    last_modified_ms            BIGINT        NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- One ACTIVE bill per consumer code of a service in a tenant. DIGIT's index leaves the
-- service out; kosh keeps it because a bill belongs to one business service (its receipt
-- format, part-payment rules and apportionment come from it).
CREATE UNIQUE INDEX egbs_bill_one_active ON egbs_bill (tenant_id, business_service, consumer_code)
    WHERE status = 'ACTIVE';
CREATE INDEX egbs_bill_consumer ON egbs_bill (tenant_id, business_service, consumer_code, seq);
CREATE INDEX egbs_bill_consumer_code ON egbs_bill (tenant_id, consumer_code);
CREATE INDEX egbs_bill_user ON egbs_bill (user_id);
CREATE INDEX egbs_bill_mobile ON egbs_bill (mobile_number);
CREATE INDEX egbs_bill_number ON egbs_bill (tenant_id, bill_number);

-- One per demand on the bill.
CREATE TABLE egbs_bill_detail (
    id                  VARCHAR(64)   NOT NULL,
    tenant_id           VARCHAR(256)  NOT NULL,
    bill_id             VARCHAR(64)   NOT NULL,
    demand_id           VARCHAR(64)   NOT NULL,
    from_period         BIGINT        NOT NULL,
    to_period           BIGINT        NOT NULL,
    expiry_date         BIGINT        NOT NULL,
    amount              BIGINT        NOT NULL,
    amount_paid         BIGINT        NOT NULL,
    additional_details  TEXT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, bill_id) REFERENCES egbs_bill (tenant_id, id)
);
CREATE INDEX egbs_bill_detail_bill ON egbs_bill_detail (tenant_id, bill_id);

-- One per tax head of a bill detail (demand details of the same head are merged).
CREATE TABLE egbs_bill_account_detail (
    id                  VARCHAR(64)   NOT NULL,
    tenant_id           VARCHAR(256)  NOT NULL,
    bill_detail_id      VARCHAR(64)   NOT NULL,
    demand_detail_id    VARCHAR(64)   NOT NULL,
    tax_head_code       VARCHAR(256)  NOT NULL,
    order_no            BIGINT        NOT NULL,
    amount              BIGINT        NOT NULL,
    -- What the bill's payment put on this head.
    adjusted_amount     BIGINT        NOT NULL,
    additional_details  TEXT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, bill_detail_id) REFERENCES egbs_bill_detail (tenant_id, id)
);
CREATE INDEX egbs_bill_account_detail_parent ON egbs_bill_account_detail (tenant_id, bill_detail_id);
