-- Lanes of the one outbound port: 0 replies to someone who just wrote (a citizen, or an operator
-- acting in the group), 1 individual notices, 2 bulk (broadcasts). A lower lane goes first.
ALTER TABLE outbox ADD COLUMN lane INTEGER NOT NULL DEFAULT 1;
UPDATE outbox SET lane = 0 WHERE kind IN ('reply', 'receipt');

-- What is due, in lane order, without sorting the backlog: the index is walked in the order the
-- rows are taken, and a row not due yet is passed over.
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (status, lane, id);
