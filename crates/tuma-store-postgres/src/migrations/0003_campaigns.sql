-- tuma PostgreSQL schema, version 3: campaigns (contact lists and their recipients,
-- campaigns, tracked links, clicks) and the campaign reference on messages.

-- A contact list. Its totals and per-offset counts are written by finish_list.
CREATE TABLE lists (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id     BIGINT NOT NULL,
    name           TEXT NOT NULL,
    columns        TEXT[] NOT NULL,      -- template variables, in column order
    status         TEXT NOT NULL,        -- ListStatus::as_str
    rows_read      BIGINT NOT NULL DEFAULT 0,
    accepted       BIGINT NOT NULL DEFAULT 0,
    rejected       BIGINT NOT NULL DEFAULT 0,
    duplicates     BIGINT NOT NULL DEFAULT 0,
    -- Recipients per UTC offset: offset_mins[i] has offset_counts[i] recipients, by offset.
    offset_mins    SMALLINT[] NOT NULL DEFAULT '{}',
    offset_counts  BIGINT[] NOT NULL DEFAULT '{}',
    created_at_ms  BIGINT NOT NULL
);
CREATE INDEX lists_account ON lists (account_id, id);
CREATE INDEX lists_status ON lists (status, id);

-- Recipients, numbered 1, 2, 3... in file order within their list. No foreign key to
-- `lists`: a per-row check would slow the bulk import down; insert_recipients locks the
-- list row (FOR KEY SHARE) instead, and delete_list removes the rows itself.
CREATE TABLE recipients (
    list_id        BIGINT NOT NULL,
    seq            BIGINT NOT NULL,
    line           BIGINT NOT NULL,
    number         BIGINT NOT NULL,      -- E.164 digits as an integer
    utc_offset_min SMALLINT NOT NULL,
    vals           TEXT[] NOT NULL,      -- in the list's column order
    PRIMARY KEY (list_id, seq)
);
-- No index on (list_id, utc_offset_min, seq): reading one UTC offset's group walks the
-- primary key from the cursor and skips the other groups' rows (in heap order: the rows are
-- appended in seq order), which costs about one pass over the list per group, while that
-- index, with one insertion point per offset (no right-edge fast path, half-full page
-- splits), halved the import: 1,000,000 recipients in 5,000-row calls took 8.2 s with it
-- and 4.1-4.7 s without (examples/pg_import_bench.rs, shared 2-core VM); a group of a
-- quarter of the list reads about as fast either way.

CREATE TABLE campaigns (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id          BIGINT NOT NULL,
    name                TEXT NOT NULL,
    -- A list used by a campaign cannot be deleted.
    list_id             BIGINT NOT NULL REFERENCES lists(id),
    sender              TEXT NOT NULL,   -- SenderId::address(), parsed back on read
    template            TEXT NOT NULL,
    track_links         BOOLEAN NOT NULL,
    link_base           TEXT,
    send_at_ms          BIGINT,
    -- The sending window: all three NULL without one (the offset may be NULL with one).
    window_start_min    INTEGER,
    window_end_min      INTEGER,
    window_offset_min   SMALLINT,
    rate                BIGINT,
    status              TEXT NOT NULL,   -- CampaignStatus::as_str
    -- One cursor per group: cursor_offsets[i] (NULL: every recipient), cursor_last_seqs[i],
    -- cursor_done[i].
    cursor_offsets      SMALLINT[] NOT NULL,
    cursor_last_seqs    BIGINT[] NOT NULL,
    cursor_done         BOOLEAN[] NOT NULL,
    created_at_ms       BIGINT NOT NULL,
    updated_at_ms       BIGINT NOT NULL,
    CHECK ((window_start_min IS NULL) = (window_end_min IS NULL)),
    CHECK (window_start_min IS NOT NULL OR window_offset_min IS NULL)
);
CREATE INDEX campaigns_account ON campaigns (account_id, id);
CREATE INDEX campaigns_status ON campaigns (status, id);

-- Tracked links: codes are unique (and case-sensitive).
CREATE TABLE links (
    code          TEXT PRIMARY KEY,
    account_id    BIGINT NOT NULL,
    campaign_id   BIGINT NOT NULL,
    seq           BIGINT NOT NULL,
    target        TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE clicks (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        TEXT NOT NULL,
    campaign_id BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    at_ms       BIGINT NOT NULL,
    user_agent  TEXT
);
-- Totals and per-recipient counts of a campaign, by seq.
CREATE INDEX clicks_campaign ON clicks (campaign_id, seq);

-- The campaign recipient a message is for: unique among messages, so a campaign never sends
-- one recipient two messages (insert_batch answers Duplicate for the second).
ALTER TABLE messages ADD COLUMN campaign_id BIGINT;
ALTER TABLE messages ADD COLUMN campaign_seq BIGINT;
-- NOT VALID: rows stored before this migration have neither (no table scan); new rows are
-- checked.
ALTER TABLE messages ADD CONSTRAINT messages_campaign_pair
    CHECK ((campaign_id IS NULL) = (campaign_seq IS NULL)) NOT VALID;
CREATE UNIQUE INDEX messages_campaign ON messages (campaign_id, campaign_seq)
    WHERE campaign_id IS NOT NULL;
