-- Portable SQL for SQLite and PostgreSQL alike (DESIGN.md): BIGINT epoch-ms times, TEXT
-- for JSON, tenant_id in every unique key, counter rows instead of sequences.

-- Counter rows behind idgen's [SEQ_x] tokens. A row is advanced inside the caller's
-- transaction, so a rolled-back request leaves no gap and every number is used once.
CREATE TABLE id_counter (
    tenant_id   VARCHAR(256) NOT NULL,
    seq_name    VARCHAR(256) NOT NULL,
    last_value  BIGINT       NOT NULL,
    PRIMARY KEY (tenant_id, seq_name)
);
