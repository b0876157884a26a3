-- Identity (egov-user): users, their roles, opaque tokens (stored hashed), failed logins.

CREATE TABLE eg_user (
    id                BIGINT        NOT NULL PRIMARY KEY,
    uuid              VARCHAR(64)   NOT NULL,
    tenant_id         VARCHAR(256)  NOT NULL,
    user_name         VARCHAR(180)  NOT NULL,
    user_type         VARCHAR(32)   NOT NULL,
    name              VARCHAR(250),
    mobile_number     VARCHAR(50),
    email_id          VARCHAR(300),
    locale            VARCHAR(32),
    active            BIGINT        NOT NULL,
    password_hash     TEXT,
    account_locked    BIGINT        NOT NULL DEFAULT 0,
    account_locked_ms BIGINT,
    -- SYSTEM users: the addresses and CIDR ranges they may log in and call from, comma-separated.
    allowed_ips       TEXT,
    -- The rest of DIGIT's profile (gender, addresses, dob, ...), as a JSON object.
    profile           TEXT          NOT NULL,
    created_by        VARCHAR(64),
    created_ms        BIGINT        NOT NULL,
    last_modified_by  VARCHAR(64),
    last_modified_ms  BIGINT        NOT NULL,
    pwd_expiry_ms     BIGINT,
    CONSTRAINT eg_user_uuid_key UNIQUE (uuid),
    CONSTRAINT eg_user_name_key UNIQUE (tenant_id, user_name, user_type)
);
CREATE INDEX eg_user_mobile ON eg_user (tenant_id, mobile_number);

CREATE TABLE eg_user_role (
    user_id         BIGINT        NOT NULL,
    role_code       VARCHAR(64)   NOT NULL,
    role_tenant_id  VARCHAR(256)  NOT NULL,
    PRIMARY KEY (user_id, role_code, role_tenant_id)
);
CREATE INDEX eg_user_role_code ON eg_user_role (role_code, role_tenant_id);

-- Tokens are opaque random strings; only their SHA-256 is kept, so a copy of the database
-- gives no usable token. Any kosh instance can check them, and logout revokes them.
CREATE TABLE eg_user_token (
    token_hash  VARCHAR(64)   NOT NULL PRIMARY KEY,
    kind        VARCHAR(8)    NOT NULL,
    user_id     BIGINT        NOT NULL,
    -- The other token of the pair issued together (access ↔ refresh).
    pair_hash   VARCHAR(64)   NOT NULL,
    created_ms  BIGINT        NOT NULL,
    expires_ms  BIGINT        NOT NULL,
    revoked     BIGINT        NOT NULL DEFAULT 0
);
CREATE INDEX eg_user_token_user ON eg_user_token (user_id);

CREATE TABLE eg_login_failure (
    user_id  BIGINT       NOT NULL,
    ip       VARCHAR(64),
    at_ms    BIGINT       NOT NULL,
    -- 0 once the account was unlocked or a login succeeded.
    active   BIGINT       NOT NULL DEFAULT 1
);
CREATE INDEX eg_login_failure_user ON eg_login_failure (user_id, at_ms);
