-- Personal data at rest (kosh_platform::pii, issue 15 item 3). Each table that holds people's
-- personal data gets one `pii` column: the sealed JSON (AES-256-GCM, `v1.<key id>.<base64>`)
-- of that row's personal fields. The old columns keep only a blind index (`h:` and 30 hex
-- characters of a keyed hash) where kosh searches by them (mobile numbers, emails, a
-- citizen's user name) and nothing otherwise (NULL, or '' where the column is NOT NULL).
-- Rows written before this migration are sealed at start-up, in batches, by
-- kosh_server::pii::seal_existing: a row whose `pii` is NULL still holds its plain values.
ALTER TABLE eg_user ADD COLUMN pii TEXT;
ALTER TABLE egbs_bill ADD COLUMN pii TEXT;
ALTER TABLE egcl_payment ADD COLUMN pii TEXT;
ALTER TABLE egcl_refund_due ADD COLUMN pii TEXT;
ALTER TABLE eg_pg_transactions ADD COLUMN pii TEXT;
ALTER TABLE bbps_txn ADD COLUMN pii TEXT;
ALTER TABLE bbps_txn_bill ADD COLUMN pii TEXT;
ALTER TABLE bbps_complaint ADD COLUMN pii TEXT;
-- Set once a start-up found no row left to seal, so later starts do not scan the tables.
CREATE TABLE kosh_pii_state (
    name     VARCHAR(64)  NOT NULL PRIMARY KEY,
    done_ms  BIGINT       NOT NULL
);
