-- tuma SQLite schema, version 2: account settings, reply webhooks.

-- AccountSettings (both optional).
ALTER TABLE accounts ADD COLUMN callback_url TEXT;
ALTER TABLE accounts ADD COLUMN mo_url TEXT;

-- The URL a reply's webhook went to (InboundRecord::webhook_url).
ALTER TABLE inbound ADD COLUMN webhook_url TEXT;

-- A delivery reports a message status or a reply (WebhookEvent): the column holds the
-- status's name or 'inbound' (no status is called that). Existing rows are status names.
ALTER TABLE webhooks RENAME COLUMN status TO event;
