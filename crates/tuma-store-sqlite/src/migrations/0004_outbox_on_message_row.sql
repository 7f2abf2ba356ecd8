-- tuma SQLite schema, version 4: no outbox rows.
--
-- A message is in the outbox while it is not final and has a pending segment; both are on
-- the message row (and in `segments`) already, so the `outbox` table only duplicated them at
-- the cost of an insert at intake and a delete once nothing was pending (two B-tree writes
-- per message on the hot path). The due time moves onto the row: `due_at_ms` is NULL until
-- a retry sets it, and the due time is then COALESCE(due_at_ms, send_at_ms, created_at_ms),
-- the time the outbox row was created with. Recovery (`pending_outbox`) finds pending
-- messages through `messages_unfinished_expiry`, whose entries exist anyway.
ALTER TABLE messages ADD COLUMN due_at_ms INTEGER;
UPDATE messages SET due_at_ms = o.due_at_ms
    FROM outbox AS o WHERE o.message_id = messages.id;
DROP TABLE outbox;
