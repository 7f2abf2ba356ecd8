-- tuma SQLite schema, version 5: campaigns (contact lists, recipients, campaigns, tracked
-- links, clicks) and the campaign reference of a message.
--
-- Strings lists (columns, values), offsets and cursors are JSON arrays in one TEXT column:
-- JSON strings round-trip any Unicode string exactly (control characters and NUL escaped),
-- and one column per recipient keeps a recipient one compact row.

-- Ids are never reused (AUTOINCREMENT): a failed import's list is deleted, and a client
-- holding its id must not find another list under it.
CREATE TABLE lists (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    INTEGER NOT NULL,
    name          TEXT NOT NULL,
    columns       TEXT NOT NULL,             -- JSON array of the variables' names
    status        TEXT NOT NULL,             -- ListStatus::as_str
    rows_read     INTEGER NOT NULL DEFAULT 0,
    accepted      INTEGER NOT NULL DEFAULT 0,
    rejected      INTEGER NOT NULL DEFAULT 0,
    duplicates    INTEGER NOT NULL DEFAULT 0,
    offsets       TEXT NOT NULL DEFAULT '[]', -- JSON [[utc_offset_min, recipients], ...]
    created_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX lists_account ON lists (account_id, id);
CREATE INDEX lists_status ON lists (status, id);

-- One row per recipient, in file order within its list: an import appends at the right
-- edge of both B-trees. `vals` is the JSON array of the values, in the list's column order.
CREATE TABLE recipients (
    list_id        INTEGER NOT NULL,
    seq            INTEGER NOT NULL,
    line           INTEGER NOT NULL,
    number         INTEGER NOT NULL,         -- E.164 digits as an integer
    utc_offset_min INTEGER NOT NULL,
    vals           TEXT NOT NULL,
    PRIMARY KEY (list_id, seq)
) STRICT, WITHOUT ROWID;

-- Which recipients have which UTC offset, for a sending window that walks one offset's
-- recipients by seq: per list, offset and bucket of 4,096 seqs (`bucket` = seq >> 12), the
-- low 12 bits of each seq of that offset as a 2-byte little-endian integer, in insertion
-- order. A page is a range scan of this table from the bucket of its `after` seq, then the
-- recipients' rows by primary key. An index on (list_id, utc_offset_min, seq) would do the
-- same at the cost of a second B-tree insert per recipient (about a third of an import's
-- writer time); this is a few rows per import call and 2 bytes per recipient.
CREATE TABLE recipient_groups (
    list_id        INTEGER NOT NULL,
    utc_offset_min INTEGER NOT NULL,
    bucket         INTEGER NOT NULL,
    seqs           BLOB NOT NULL,
    PRIMARY KEY (list_id, utc_offset_min, bucket)
) STRICT, WITHOUT ROWID;

CREATE TABLE campaigns (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id        INTEGER NOT NULL,
    name              TEXT NOT NULL,
    list_id           INTEGER NOT NULL,
    sender            TEXT NOT NULL,         -- SenderId::address(), parsed back on read
    template          TEXT NOT NULL,
    track_links       INTEGER NOT NULL,      -- 0 or 1
    link_base         TEXT,
    send_at_ms        INTEGER,
    window_start_min  INTEGER,               -- all three NULL without a window
    window_end_min    INTEGER,
    window_offset_min INTEGER,               -- NULL: each number's country's offset
    rate              INTEGER,
    status            TEXT NOT NULL,         -- CampaignStatus::as_str
    cursors           TEXT NOT NULL,         -- JSON [[utc_offset_min|null, last_seq, done], ...]
    created_at_ms     INTEGER NOT NULL,
    updated_at_ms     INTEGER NOT NULL
) STRICT;
CREATE INDEX campaigns_account ON campaigns (account_id, id);
CREATE INDEX campaigns_status ON campaigns (status, id);

-- Codes are random: one B-tree keyed by the code (case-sensitive, BINARY collation).
CREATE TABLE links (
    code          TEXT PRIMARY KEY,
    account_id    INTEGER NOT NULL,
    campaign_id   INTEGER NOT NULL,
    seq           INTEGER NOT NULL,
    target        TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE clicks (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL,
    campaign_id INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    at_ms       INTEGER NOT NULL,
    user_agent  TEXT
) STRICT;
-- Totals and per-recipient counts read this index only (it covers both).
CREATE INDEX clicks_campaign ON clicks (campaign_id, seq);

-- The campaign recipient a message is for: unique among messages. Plain messages leave both
-- NULL and never enter the partial index (its condition is one NOT NULL test, evaluated per
-- inserted row; status updates do not touch these columns, so they never maintain it).
ALTER TABLE messages ADD COLUMN campaign_id INTEGER;
ALTER TABLE messages ADD COLUMN campaign_seq INTEGER;
CREATE UNIQUE INDEX messages_campaign ON messages (campaign_id, campaign_seq)
    WHERE campaign_id IS NOT NULL;
