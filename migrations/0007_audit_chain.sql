-- Tamper-evident audit (kosh_platform::audit_chain). Every audit row kosh writes, in any
-- audit table, gets one entry here: its place in its tenant's chain and a hash over the
-- previous entry's hash and the row's content. The audit tables themselves are unchanged;
-- `kosh audit verify` re-hashes each referenced row from its table.
CREATE TABLE kosh_audit_chain (
    tenant_id   VARCHAR(256)  NOT NULL,
    -- 1, 2, 3, ... without gaps within a tenant.
    seq         BIGINT        NOT NULL,
    -- The audit table the row is in, and its key there (audit_id).
    table_name  VARCHAR(64)   NOT NULL,
    row_key     VARCHAR(64)   NOT NULL,
    -- Lower-case hex SHA-256 of prev_hash || the row's canonical bytes.
    row_hash    VARCHAR(64)   NOT NULL,
    -- The row_hash of entry seq - 1 (64 zeros for the first entry).
    prev_hash   VARCHAR(64)   NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
-- A row is chained once; the verifier finds unchained rows through this key.
CREATE UNIQUE INDEX kosh_audit_chain_row ON kosh_audit_chain (tenant_id, table_name, row_key);

-- The chain head of each tenant: a counter row (no database sequence, DESIGN.md) advanced in
-- the transaction that writes the audit rows, so a rolled-back write leaves no gap and
-- concurrent writers of one tenant queue on this row.
CREATE TABLE kosh_audit_head (
    tenant_id   VARCHAR(256)  NOT NULL,
    last_seq    BIGINT        NOT NULL,
    last_hash   VARCHAR(64)   NOT NULL,
    PRIMARY KEY (tenant_id)
);
