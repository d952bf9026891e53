-- Failed receipt-code checks ("Check a complaint"), one row per failure. Checking locks when a
-- complaint number (from any chat) or a citizen (on any number) has too many recent failures;
-- a success never deletes them, so a check of one's own complaint does not reset the count.
CREATE TABLE check_failures (
    id          INTEGER PRIMARY KEY,
    reg_number  TEXT NOT NULL,                       -- as normalised: '26-00042'
    citizen_id  INTEGER NOT NULL REFERENCES citizens (id),
    failed_at   TEXT NOT NULL
);
CREATE INDEX check_failures_by_number ON check_failures (reg_number, failed_at);
CREATE INDEX check_failures_by_citizen ON check_failures (citizen_id, failed_at);
