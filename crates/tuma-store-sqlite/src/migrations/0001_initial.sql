-- tuma SQLite schema, version 1.
-- Message ids are the domain's 128-bit time-sortable ids as 16-byte big-endian BLOBs: they
-- sort by creation time, so inserts land at the right edge of every id index.
-- Times are Unix milliseconds (INTEGER). Statuses use the domain's lower-case names.

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts(id),
    label         TEXT NOT NULL,
    hash          BLOB NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE messages (
    id              BLOB PRIMARY KEY,
    account_id      INTEGER NOT NULL,
    recipient       INTEGER NOT NULL,   -- E.164 digits as an integer
    sender          TEXT NOT NULL,      -- SenderId::address(), parsed back on read
    body            TEXT NOT NULL,
    encoding        TEXT NOT NULL,
    status          TEXT NOT NULL,
    initial_status  TEXT NOT NULL,      -- the first event (not stored in `events`)
    segment_count   INTEGER NOT NULL,
    connector       TEXT NOT NULL,
    multipart       TEXT NOT NULL,
    reference       TEXT,
    callback_url    TEXT,
    idem_key        TEXT,
    idem_hash       BLOB,
    created_at_ms   INTEGER NOT NULL,
    send_at_ms      INTEGER,
    expires_at_ms   INTEGER NOT NULL,
    error_code      TEXT,
    error_message   TEXT
) STRICT, WITHOUT ROWID;

CREATE UNIQUE INDEX messages_idempotency ON messages (account_id, idem_key)
    WHERE idem_key IS NOT NULL;
-- Only unfinished messages can expire or be released: partial indexes stay small.
-- The condition is spelled with OR, not `status IN (...)`: every status UPDATE evaluates it
-- for the old and the new row, and an IN list makes SQLite build two temporary tables per
-- UPDATE for that. Queries must repeat the condition word for word to use the index.
CREATE INDEX messages_expiry ON messages (expires_at_ms)
    WHERE (status = 'accepted' OR status = 'scheduled' OR status = 'submitted');
CREATE INDEX messages_scheduled ON messages (send_at_ms)
    WHERE status = 'scheduled';

-- A segment's row is written at its first change: no row means `pending`, never sent. This
-- keeps intake at two inserts per message (message, outbox) whatever its segment count.
CREATE TABLE segments (
    message_id      BLOB NOT NULL,
    idx             INTEGER NOT NULL,
    status          TEXT NOT NULL,
    smsc_id         TEXT,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (message_id, idx)
) STRICT, WITHOUT ROWID;

-- Status changes after the initial status (which is messages.initial_status at
-- messages.created_at_ms, sequence 0); seq starts at 1.
CREATE TABLE events (
    message_id BLOB NOT NULL,
    seq        INTEGER NOT NULL,
    status     TEXT NOT NULL,
    at_ms      INTEGER NOT NULL,
    detail     TEXT,
    PRIMARY KEY (message_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE outbox (
    message_id BLOB PRIMARY KEY,
    connector  TEXT NOT NULL,
    due_at_ms  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- (connector, id key) -> segment; keys from smpp::id_keys, see tuma_store::apply::key_string.
CREATE TABLE smsc_keys (
    connector  TEXT NOT NULL,
    key        TEXT NOT NULL,
    message_id BLOB NOT NULL,
    idx        INTEGER NOT NULL,
    PRIMARY KEY (connector, key)
) STRICT, WITHOUT ROWID;

CREATE TABLE parked_receipts (
    id            INTEGER PRIMARY KEY,
    connector     TEXT NOT NULL,
    protocol_id   TEXT,
    text_id       TEXT,
    state         INTEGER NOT NULL,
    detail        TEXT,
    error_code    TEXT,
    error_message TEXT,
    at_ms         INTEGER NOT NULL
) STRICT;
CREATE INDEX parked_receipts_at ON parked_receipts (at_ms);

CREATE TABLE parked_keys (
    connector TEXT NOT NULL,
    key       TEXT NOT NULL,
    parked_id INTEGER NOT NULL,
    PRIMARY KEY (connector, key, parked_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX parked_keys_parked ON parked_keys (parked_id);

CREATE TABLE suppressions (
    account_id    INTEGER NOT NULL,
    number        INTEGER NOT NULL,
    reason        TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (account_id, number)
) STRICT, WITHOUT ROWID;

CREATE TABLE inbound (
    id             BLOB PRIMARY KEY,
    account_id     INTEGER NOT NULL,
    sender         INTEGER NOT NULL,
    recipient      TEXT NOT NULL,
    body           TEXT NOT NULL,
    connector      TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX inbound_account ON inbound (account_id, id);

CREATE TABLE webhooks (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL,
    message_id   BLOB NOT NULL,
    url          TEXT NOT NULL,
    status       TEXT NOT NULL,
    status_at_ms INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at_ms   INTEGER NOT NULL,
    last_error   TEXT,
    state        TEXT NOT NULL
) STRICT;
CREATE INDEX webhooks_due ON webhooks (next_at_ms) WHERE state = 'pending';
CREATE INDEX webhooks_account ON webhooks (account_id, id);
