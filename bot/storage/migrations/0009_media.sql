-- Videos and voice messages of complaints (cleaned of metadata, stored under MEDIA_DIR by the
-- SHA-256 of the clean file). kind 'video': evidence, like the photos; kind 'voice': the
-- complaint's description told instead of typed (at most one per complaint).
CREATE TABLE complaint_media (
    id           INTEGER PRIMARY KEY,
    complaint_id INTEGER NOT NULL REFERENCES complaints (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('video', 'voice')),
    sha256       TEXT NOT NULL,
    path         TEXT NOT NULL,
    seconds      REAL NOT NULL,
    UNIQUE (complaint_id, position)
);
CREATE UNIQUE INDEX complaint_media_one_voice ON complaint_media (complaint_id)
    WHERE kind = 'voice';
