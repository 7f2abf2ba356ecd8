-- tuma SQLite schema, version 6: a single-segment message's submit result can live on its
-- SMSC id key row alone.
--
-- The status path wrote a single-segment message's row twice: once for the submit result
-- (status, segment 0, SMSC id, an event line) and once for the receipt. The submit result
-- has to insert the `smsc_keys` row anyway, so the writer may now record it there only:
-- `submitted_at_ms` (when) and `smsc_id` (the id as the SMSC wrote it, NULL when it is the
-- key without its `s:` prefix), and leave the message row as it was. The receipt then
-- updates the row once, with both events (see `sql::SqlTx`).
--
-- So a message is `submitted` when its row says so, OR when its row says `accepted` with
-- segment 0 pending, it has one segment, and a key row of it has `submitted_at_ms` set (a
-- "deferred submit"). Every reader of the row (`load_message`, the writer's `read_live`,
-- `pending_outbox`, campaign pages) applies that rule; once the row has moved on, the key
-- row's time is only history.
ALTER TABLE smsc_keys ADD COLUMN submitted_at_ms INTEGER;
ALTER TABLE smsc_keys ADD COLUMN smsc_id TEXT;

-- Readers find a message's deferred submit by message id.
CREATE INDEX smsc_keys_deferred ON smsc_keys (message_id) WHERE submitted_at_ms IS NOT NULL;

-- An SMSC that reuses an id hands the key to a newer submission (the newest wins, as
-- before). If the key's previous owner still has its submit only on this row, the row is
-- about to lose it: write it onto the message row first, as the writer would have (status,
-- segment 0, SMSC id, and the event line with the next event number: events so far are the
-- lines of `event_log` plus the rows of the pre-version-3 `events` table).
CREATE TRIGGER smsc_keys_reuse BEFORE UPDATE OF message_id ON smsc_keys
WHEN old.submitted_at_ms IS NOT NULL AND old.message_id <> new.message_id
BEGIN
    UPDATE messages SET
        status = 'submitted',
        seg0_status = 'submitted',
        seg0_smsc_id = COALESCE(old.smsc_id, substr(old.key, 3)),
        event_log = COALESCE(event_log, '') ||
            ((length(COALESCE(event_log, '')) - length(replace(COALESCE(event_log, ''), char(10), '')))
             + (SELECT COUNT(*) FROM events AS e WHERE e.message_id = old.message_id) + 1)
            || ' submitted ' || old.submitted_at_ms || ' -' || char(10)
    WHERE id = old.message_id AND status = 'accepted' AND segment_count = 1
        AND (seg0_status IS NULL OR seg0_status = 'pending');
END;
