-- The legal deadlines of each complaint, one row per kind: registration (1 day), acknowledgement
-- (3 working days), forwarding to the competent body (5 days), answer (14 days by default).
-- `original_due_at` is the deadline before any extension (an extension may add at most 30 days
-- to it). `met_at` is set when the step is done or no longer applies. `watch_at` is the next
-- moment the deadline watch has something to do for this row: the reminder, then the
-- escalation; NULL when nothing is left. The watch reads only rows whose moment has come.
CREATE TABLE complaint_deadlines (
    complaint_id    INTEGER NOT NULL REFERENCES complaints (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    due_at          TEXT NOT NULL,
    original_due_at TEXT NOT NULL,
    remind_at       TEXT NOT NULL,
    met_at          TEXT,
    watch_at        TEXT,
    PRIMARY KEY (complaint_id, kind)
);
CREATE INDEX complaint_deadlines_watch ON complaint_deadlines (watch_at) WHERE watch_at IS NOT NULL;
CREATE INDEX complaint_deadlines_running ON complaint_deadlines (due_at) WHERE met_at IS NULL;

-- "Has the problem been solved?": asked once per answer, `ask_at` after it.
CREATE TABLE complaint_followups (
    event_id     INTEGER PRIMARY KEY REFERENCES complaint_events (id) ON DELETE CASCADE,
    complaint_id INTEGER NOT NULL REFERENCES complaints (id) ON DELETE CASCADE,
    ask_at       TEXT NOT NULL,
    asked_at     TEXT,
    outcome      TEXT,   -- 'yes', 'no', 'dont_know'; 'skipped' when the complaint moved on
    outcome_at   TEXT
);
CREATE INDEX complaint_followups_to_ask ON complaint_followups (ask_at) WHERE asked_at IS NULL;

-- The thread of a complaint after filing: the citizen's additions, the operators' clarifying
-- questions and the citizen's answers. Nothing here says who the citizen is.
CREATE TABLE complaint_messages (
    id           INTEGER PRIMARY KEY,
    complaint_id INTEGER NOT NULL REFERENCES complaints (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,      -- 'addition', 'question', 'answer'
    body         TEXT,
    photos       TEXT NOT NULL DEFAULT '[]',  -- JSON list of cleaned photo paths
    asked_by     TEXT,               -- the operator's name, for a question
    answers      INTEGER REFERENCES complaint_messages (id),  -- the question an answer answers
    dedupe_key   TEXT UNIQUE,        -- the citizen's or operator's step that wrote it
    created_at   TEXT NOT NULL
);
CREATE INDEX complaint_messages_by_complaint ON complaint_messages (complaint_id, id);

-- The operator group a complaint was routed to when it was registered: its card lives there, and
-- its reminders and digest lines go there. NULL (complaints from before): the default group.
ALTER TABLE complaints ADD COLUMN operator_group TEXT;
CREATE INDEX complaints_by_group ON complaints (operator_group);

-- When a complaint was first answered on the merits (or rejected): the statistics' days to
-- answer and share answered in time read it in one pass over the complaints of a period.
ALTER TABLE complaints ADD COLUMN answered_at TEXT;
UPDATE complaints SET answered_at = (
    SELECT MIN(e.created_at) FROM complaint_events e
    WHERE e.complaint_id = complaints.id AND e.new_status IN ('answered', 'rejected')
);
CREATE INDEX complaints_answered_by_created ON complaints (created_at, answered_at, due_at)
    WHERE answered_at IS NOT NULL;
