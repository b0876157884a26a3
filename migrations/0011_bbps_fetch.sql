-- BBPS bill fetches an operating unit made under a BBPS refId (Head@refId in the NPCI
-- profile, refId in the JSON one): a payment posted with the same refId links to its fetch,
-- shown with the transaction in status answers and the daily report. Keyed per unit, since
-- a unit sees only its own postings. No personal data: bill numbers, consumer codes and
-- amounts only (no customer parameters, no names).

CREATE TABLE bbps_fetch (
    -- The state whose billers were asked.
    tenant_id           VARCHAR(256)  NOT NULL,
    ref_id              VARCHAR(64)   NOT NULL,
    -- The operating unit's user.
    created_by          VARCHAR(64)   NOT NULL,
    biller_id           VARCHAR(64)   NOT NULL,
    -- JSON or XML.
    profile             VARCHAR(8)    NOT NULL,
    -- 000 (bills found) or 200 with the BFR compliance code.
    response_code       VARCHAR(8)    NOT NULL,
    compliance_code     VARCHAR(8),
    -- [{billerBillId, consumerCode, tenantId, amount (paise)}], as JSON.
    bills               TEXT          NOT NULL,
    -- The latest fetch under the refId (a unit may fetch again before paying).
    created_ms          BIGINT        NOT NULL,
    PRIMARY KEY (tenant_id, created_by, ref_id)
);
