-- Citizens, their conversation state, complaints with photos and history, operator prompts,
-- and the outbox every outgoing message passes through. All times are UTC ISO-8601 strings.

CREATE TABLE citizens (
    id              INTEGER PRIMARY KEY,
    channel         TEXT NOT NULL,              -- 'telegram', 'whatsapp', 'console'
    user_key        TEXT NOT NULL,              -- chat id / phone / console name, per channel
    locale          TEXT,                       -- NULL until the citizen picks a language
    unreachable     INTEGER NOT NULL DEFAULT 0, -- 1 after the messenger refused delivery (blocked)
    created_at      TEXT NOT NULL,
    last_inbound_at TEXT,
    UNIQUE (channel, user_key)
);

CREATE TABLE conversations (
    citizen_id  INTEGER PRIMARY KEY REFERENCES citizens (id) ON DELETE CASCADE,
    state       TEXT NOT NULL,
    data        TEXT NOT NULL DEFAULT '{}',
    updated_at  TEXT NOT NULL
);

CREATE TABLE complaints (
    id              INTEGER PRIMARY KEY,
    reg_number      TEXT NOT NULL UNIQUE,
    citizen_id      INTEGER NOT NULL REFERENCES citizens (id),
    category        TEXT NOT NULL,
    description     TEXT NOT NULL,
    address         TEXT,
    latitude        REAL,
    longitude       REAL,
    is_anonymous    INTEGER NOT NULL,
    full_name       TEXT,
    phone           TEXT,
    contact_address TEXT,
    receipt_salt    BLOB NOT NULL,
    receipt_hash    BLOB NOT NULL,
    locale          TEXT NOT NULL,
    status          TEXT NOT NULL,
    operator_chat_id INTEGER,
    created_at      TEXT NOT NULL,
    due_at          TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX complaints_by_citizen ON complaints (citizen_id, created_at);
CREATE INDEX complaints_open_by_due ON complaints (status, due_at);

CREATE TABLE complaint_photos (
    id           INTEGER PRIMARY KEY,
    complaint_id INTEGER NOT NULL REFERENCES complaints (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    path         TEXT NOT NULL,
    UNIQUE (complaint_id, position)
);

CREATE TABLE complaint_events (
    id           INTEGER PRIMARY KEY,
    complaint_id INTEGER NOT NULL REFERENCES complaints (id) ON DELETE CASCADE,
    old_status   TEXT,
    new_status   TEXT NOT NULL,
    actor        TEXT NOT NULL,                 -- 'citizen', 'system' or 'operator:<telegram id>'
    actor_name   TEXT,
    note         TEXT,
    created_at   TEXT NOT NULL
);
CREATE INDEX complaint_events_by_complaint ON complaint_events (complaint_id, id);

-- An operator pressed "answer" or "reject": the bot asked for the text in a reply to this message.
CREATE TABLE operator_prompts (
    chat_id      INTEGER NOT NULL,
    message_id   INTEGER NOT NULL,
    complaint_id INTEGER NOT NULL REFERENCES complaints (id) ON DELETE CASCADE,
    card_message_id INTEGER,                    -- the complaint card whose buttons to refresh
    action       TEXT NOT NULL,
    operator_id  INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (chat_id, message_id)
);

-- One row per recipient and message. A row is 'pending' until sent; 'sending' while a worker
-- holds it; 'sent', or 'failed' after the last attempt / when the recipient blocked the bot.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    citizen_id      INTEGER REFERENCES citizens (id),
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    dedupe_key      TEXT UNIQUE,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    result          TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

CREATE TABLE reg_counters (
    year  INTEGER PRIMARY KEY,
    value INTEGER NOT NULL
);
