-- tuma PostgreSQL schema, version 1. Mirrors the SQLite schema (see its comments).
-- Message ids are the domain's 128-bit time-sortable ids as 16-byte big-endian BYTEA: bytea
-- compares bytewise, so ids sort by creation time and inserts land at the right edge of
-- every id index. Times are Unix milliseconds (BIGINT). Statuses use the domain's names.
-- Tables are created unqualified: they go to the first schema of the connection's
-- search_path (tests use a schema of their own).

CREATE TABLE accounts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id    BIGINT NOT NULL REFERENCES accounts(id),
    label         TEXT NOT NULL,
    hash          BYTEA NOT NULL UNIQUE CHECK (length(hash) = 32),
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE messages (
    id              BYTEA PRIMARY KEY CHECK (length(id) = 16),
    account_id      BIGINT NOT NULL,
    recipient       BIGINT NOT NULL,    -- E.164 digits as an integer
    sender          TEXT NOT NULL,      -- SenderId::address(), parsed back on read
    body            TEXT NOT NULL,
    encoding        TEXT NOT NULL,
    status          TEXT NOT NULL,
    initial_status  TEXT NOT NULL,      -- the first event (not stored in `events`)
    segment_count   INTEGER NOT NULL CHECK (segment_count BETWEEN 1 AND 255),
    connector       TEXT NOT NULL,
    multipart       TEXT NOT NULL,
    reference       TEXT,
    callback_url    TEXT,
    idem_key        TEXT,
    idem_hash       BYTEA,
    created_at_ms   BIGINT NOT NULL,
    send_at_ms      BIGINT,
    expires_at_ms   BIGINT NOT NULL,
    error_code      TEXT,
    error_message   TEXT
);

CREATE UNIQUE INDEX messages_idempotency ON messages (account_id, idem_key)
    WHERE idem_key IS NOT NULL;
-- Only unfinished messages can expire or be released: partial indexes stay small.
CREATE INDEX messages_expiry ON messages (expires_at_ms)
    WHERE status IN ('accepted', 'scheduled', 'submitted');
CREATE INDEX messages_scheduled ON messages (send_at_ms)
    WHERE status = 'scheduled';

-- A segment's row is written at its first change: no row means `pending`, never sent.
CREATE TABLE segments (
    message_id      BYTEA NOT NULL,
    idx             INTEGER NOT NULL,
    status          TEXT NOT NULL,
    smsc_id         TEXT,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (message_id, idx)
);

-- Status changes after the initial status; seq starts at 1.
CREATE TABLE events (
    message_id BYTEA NOT NULL,
    seq        INTEGER NOT NULL,
    status     TEXT NOT NULL,
    at_ms      BIGINT NOT NULL,
    detail     TEXT,
    PRIMARY KEY (message_id, seq)
);

CREATE TABLE outbox (
    message_id BYTEA PRIMARY KEY,
    connector  TEXT NOT NULL,
    due_at_ms  BIGINT NOT NULL
);

-- (connector, id key) -> segment; keys from smpp::id_keys, see tuma_store::apply::key_string.
CREATE TABLE smsc_keys (
    connector  TEXT NOT NULL,
    key        TEXT NOT NULL,
    message_id BYTEA NOT NULL,
    idx        INTEGER NOT NULL,
    PRIMARY KEY (connector, key)
);

CREATE TABLE parked_receipts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connector     TEXT NOT NULL,
    protocol_id   TEXT,
    text_id       TEXT,
    state         INTEGER NOT NULL,
    detail        TEXT,
    error_code    TEXT,
    error_message TEXT,
    at_ms         BIGINT NOT NULL
);
CREATE INDEX parked_receipts_at ON parked_receipts (at_ms);

CREATE TABLE parked_keys (
    connector TEXT NOT NULL,
    key       TEXT NOT NULL,
    parked_id BIGINT NOT NULL REFERENCES parked_receipts(id) ON DELETE CASCADE,
    PRIMARY KEY (connector, key, parked_id)
);
CREATE INDEX parked_keys_parked ON parked_keys (parked_id);

CREATE TABLE suppressions (
    account_id    BIGINT NOT NULL,
    number        BIGINT NOT NULL,
    reason        TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (account_id, number)
);

CREATE TABLE inbound (
    id             BYTEA PRIMARY KEY CHECK (length(id) = 16),
    account_id     BIGINT NOT NULL,
    sender         BIGINT NOT NULL,
    recipient      TEXT NOT NULL,
    body           TEXT NOT NULL,
    connector      TEXT NOT NULL,
    received_at_ms BIGINT NOT NULL
);
CREATE INDEX inbound_account ON inbound (account_id, id);

CREATE TABLE webhooks (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id   BIGINT NOT NULL,
    message_id   BYTEA NOT NULL,
    url          TEXT NOT NULL,
    status       TEXT NOT NULL,
    status_at_ms BIGINT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at_ms   BIGINT NOT NULL,
    last_error   TEXT,
    state        TEXT NOT NULL
);
CREATE INDEX webhooks_due ON webhooks (next_at_ms) WHERE state = 'pending';
CREATE INDEX webhooks_account ON webhooks (account_id, id);
