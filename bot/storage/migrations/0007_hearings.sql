-- Public hearings, citizens' topics of interest, RSVPs, proposals, and broadcasts to many.

-- A hearing: `texts` holds every bilingual field of the notice as JSON
-- {"ky": {...}, "ru": {...}}; `version` grows with every change of time or place, and the
-- reminders computed for an older version are never sent.
CREATE TABLE hearings (
    id               INTEGER PRIMARY KEY,
    topic            TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'announced', -- announced, changed, cancelled, held
    version          INTEGER NOT NULL DEFAULT 1,
    starts_at        TEXT NOT NULL,
    duration_minutes INTEGER NOT NULL DEFAULT 120,
    latitude         REAL,
    longitude        REAL,
    materials_url    TEXT,
    proposals_until  TEXT NOT NULL,
    expected_participants INTEGER,
    reminder_minutes TEXT NOT NULL,                     -- JSON list: minutes before the start
    texts            TEXT NOT NULL,
    results          TEXT,                              -- JSON, once held
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX hearings_by_start ON hearings (status, starts_at);

CREATE TABLE hearing_rsvps (
    hearing_id  INTEGER NOT NULL REFERENCES hearings (id) ON DELETE CASCADE,
    citizen_id  INTEGER NOT NULL REFERENCES citizens (id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (hearing_id, citizen_id)
);

-- A citizen's proposal for a hearing, numbered within the hearing; `step_key` makes the same
-- "send" arriving twice store one proposal.
CREATE TABLE hearing_proposals (
    id          INTEGER PRIMARY KEY,
    hearing_id  INTEGER NOT NULL REFERENCES hearings (id) ON DELETE CASCADE,
    number      INTEGER NOT NULL,
    citizen_id  INTEGER NOT NULL REFERENCES citizens (id),
    text        TEXT NOT NULL,
    photo_path  TEXT,
    step_key    TEXT UNIQUE,
    created_at  TEXT NOT NULL,
    UNIQUE (hearing_id, number)
);

-- Topics a citizen follows (no row: all topics, for a citizen who agreed to announcements).
CREATE TABLE citizen_topics (
    citizen_id  INTEGER NOT NULL REFERENCES citizens (id) ON DELETE CASCADE,
    topic       TEXT NOT NULL,
    PRIMARY KEY (citizen_id, topic)
);

-- One message to many: its rows are written (status 'staged') before any is sent, then made
-- 'pending' at once. Pausing turns its pending rows 'paused'; resuming turns them back.
CREATE TABLE broadcasts (
    id          INTEGER PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    topic       TEXT NOT NULL,
    payload     TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'writing',  -- writing, running, paused, done
    total       INTEGER NOT NULL DEFAULT 0,
    fallback    INTEGER NOT NULL DEFAULT 0,       -- WhatsApp rows that need the other language's template
    created_at  TEXT NOT NULL,
    reported_at TEXT
);

ALTER TABLE outbox ADD COLUMN broadcast_id INTEGER REFERENCES broadcasts (id);
CREATE INDEX outbox_by_broadcast ON outbox (broadcast_id, status) WHERE broadcast_id IS NOT NULL;

-- Business-initiated WhatsApp conversations planned per local day (Meta's daily tier).
CREATE TABLE whatsapp_quota (
    day   TEXT PRIMARY KEY,
    used  INTEGER NOT NULL
);
