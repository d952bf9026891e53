-- Satisfaction surveys (the handbook's questionnaire), their invitations, and the opt-out.

-- NULL: never asked (invitations are sent); 1: wants them; 0: opted out of survey invitations.
-- A choice separate from announcements, stored the same way.
ALTER TABLE citizens ADD COLUMN surveys INTEGER;
ALTER TABLE citizens ADD COLUMN surveys_changed_at TEXT;

-- One invitation per subject and citizen (a complaint answered, a hearing held): the unique key
-- is written in the same transaction as the outbox row that carries it, so it goes out once.
CREATE TABLE survey_invitations (
    id           INTEGER PRIMARY KEY,
    subject_kind TEXT NOT NULL,                  -- 'complaint', 'hearing'
    subject_id   INTEGER NOT NULL,
    citizen_id   INTEGER NOT NULL REFERENCES citizens (id),
    created_at   TEXT NOT NULL,
    closes_at    TEXT NOT NULL,                  -- after it the buttons get a polite answer
    UNIQUE (subject_kind, subject_id, citizen_id)
);

-- One row per survey; every answer is written the moment it is given, so an abandoned survey
-- still counts what it has. Ratings are 1..5 or NULL (not answered).
CREATE TABLE surveys (
    id            INTEGER PRIMARY KEY,
    citizen_id    INTEGER NOT NULL REFERENCES citizens (id),
    service       TEXT NOT NULL,                 -- an id of services.json
    invitation_id INTEGER REFERENCES survey_invitations (id),
    status        TEXT NOT NULL DEFAULT 'open',  -- 'open' until the last question, then 'done'
    position      TEXT,                          -- the question reached (to resume later)
    overall       INTEGER,                       -- the quick question
    conditions    INTEGER,
    staff         INTEGER,
    information   INTEGER,
    requirements  INTEGER,
    timeliness    INTEGER,
    result_ok     INTEGER,                       -- satisfied with the final result: 1 / 0
    paid_official   TEXT,                        -- 'no', 'yes' or NULL (skipped)
    paid_unofficial TEXT,                        -- 'no', 'asked' (asked, not paid), 'paid'
    paid_incidental TEXT,                        -- 'no', 'yes'
    report        TEXT,                          -- the anonymous report offer: 'offered',
                                                 -- 'filed', 'declined'
    improvement   TEXT,
    sex           TEXT,
    age_band      TEXT,
    education     TEXT,
    occupation    TEXT,
    settlement    TEXT,                          -- 'town', 'village'
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    completed_at  TEXT
);
CREATE UNIQUE INDEX surveys_by_invitation ON surveys (invitation_id)
    WHERE invitation_id IS NOT NULL;
CREATE INDEX surveys_by_created ON surveys (created_at);
CREATE INDEX surveys_by_citizen ON surveys (citizen_id, status);

-- When a complaint got an answer (statistics, invitations): events by status and time.
CREATE INDEX complaint_events_by_status ON complaint_events (new_status, created_at, complaint_id);
-- Statistics of the complaints registered in a period, read from the index alone.
CREATE INDEX complaints_by_created ON complaints (created_at, status, category, due_at);
