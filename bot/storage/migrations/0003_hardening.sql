-- Hardening: idempotent registration, per-chat order in the outbox, forwarded-to body.

-- The dialog's draft id: a complaint is registered once per draft, however often "Send" arrives.
ALTER TABLE complaints ADD COLUMN draft_key TEXT;
CREATE UNIQUE INDEX complaints_by_draft ON complaints (draft_key) WHERE draft_key IS NOT NULL;

-- Which competent body a complaint was forwarded to (the operator's words).
ALTER TABLE complaints ADD COLUMN forwarded_to TEXT;

-- Each chat's messages leave in the order they were queued: the sender looks for an earlier
-- unsent row of the same recipient before it takes a row (only unsent rows are indexed, so an
-- operator group with thousands of sent cards costs nothing here).
CREATE INDEX outbox_unsent_by_recipient ON outbox (channel, recipient, id)
    WHERE status IN ('pending', 'sending');
