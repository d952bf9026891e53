-- WhatsApp (Twilio) and the FAQ: announcement consent, inbound de-duplication, delivery
-- receipts, outbox rows held outside the 24-hour window, and questions for operators.

-- NULL: never asked; 1: agreed to announcements; 0: declined or sent STOP.
ALTER TABLE citizens ADD COLUMN announcements INTEGER;
ALTER TABLE citizens ADD COLUMN announcements_changed_at TEXT;

-- Each inbound webhook message, once: the primary key drops replays of the same MessageSid.
-- `params` keeps the request until it is processed (so a crash loses nothing), then is blanked.
CREATE TABLE inbound_messages (
    channel      TEXT NOT NULL,
    message_sid  TEXT NOT NULL,
    params       TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending',   -- 'pending' until handled, then 'done'
    received_at  TEXT NOT NULL,
    PRIMARY KEY (channel, message_sid)
);
CREATE INDEX inbound_pending ON inbound_messages (status, received_at);

-- What the messenger reported about each message sent for an outbox row (status callbacks).
ALTER TABLE outbox ADD COLUMN delivery_status TEXT;
ALTER TABLE outbox ADD COLUMN delivery_error TEXT;
CREATE TABLE outbox_deliveries (
    provider_sid TEXT PRIMARY KEY,                  -- Twilio's MessageSid
    outbox_id    INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    status       TEXT NOT NULL,
    error_code   TEXT,
    updated_at   TEXT NOT NULL
);
CREATE INDEX outbox_deliveries_by_row ON outbox_deliveries (outbox_id);
CREATE INDEX outbox_by_citizen_status ON outbox (citizen_id, status);

-- A question the FAQ did not answer, handed to the operators; answered through the outbox.
-- Citizens and operators see it as 'Q-<id>'.
CREATE TABLE questions (
    id          INTEGER PRIMARY KEY,
    citizen_id  INTEGER NOT NULL REFERENCES citizens (id),
    text        TEXT NOT NULL,
    locale      TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'open',        -- 'open' or 'answered'
    answer      TEXT,
    answered_by TEXT,
    created_at  TEXT NOT NULL,
    answered_at TEXT
);
CREATE INDEX questions_open ON questions (status, created_at);

-- An operator pressed "answer" under a question card: the bot waits for a reply to this message.
CREATE TABLE question_prompts (
    chat_id     INTEGER NOT NULL,
    message_id  INTEGER NOT NULL,
    question_id INTEGER NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
    operator_id INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (chat_id, message_id)
);
