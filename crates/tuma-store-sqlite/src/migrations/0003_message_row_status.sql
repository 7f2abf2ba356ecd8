-- tuma SQLite schema, version 3: the status path writes one row per message and step.
--
-- Segment 0 (every message has one; single-segment messages have only it) lives on the
-- message row instead of in `segments`: NULL status = pending, as a missing segments row.
-- Other segments stay in `segments`.
ALTER TABLE messages ADD COLUMN seg0_status TEXT;
ALTER TABLE messages ADD COLUMN seg0_smsc_id TEXT;
ALTER TABLE messages ADD COLUMN seg0_failed INTEGER NOT NULL DEFAULT 0;
-- Events after those in `events` (which keeps what earlier builds wrote): one line each,
-- `<seq> <status> <at_ms> -` or `<seq> <status> <at_ms> +<detail>`, the detail with `\`
-- and line feeds escaped (`\\`, `\n`). Appending to the row the status update rewrites
-- anyway costs no extra B-tree insert.
ALTER TABLE messages ADD COLUMN event_log TEXT;

UPDATE messages SET seg0_status = s.status, seg0_smsc_id = s.smsc_id,
    seg0_failed = s.failed_attempts
    FROM segments AS s WHERE s.message_id = messages.id AND s.idx = 0;
DELETE FROM segments WHERE idx = 0;

-- Expiry finds unfinished messages through a partial index. Its condition used to be on
-- `status`, so every status change (accepted -> submitted too) deleted and re-inserted the
-- index entry. It is now on `unfinished` (1 while the status is accepted, scheduled or
-- submitted, NULL once final), which the status path writes only when that changes.
ALTER TABLE messages ADD COLUMN unfinished INTEGER;
UPDATE messages SET unfinished = 1
    WHERE (status = 'accepted' OR status = 'scheduled' OR status = 'submitted');
DROP INDEX messages_expiry;
CREATE INDEX messages_unfinished_expiry ON messages (expires_at_ms) WHERE unfinished = 1;
