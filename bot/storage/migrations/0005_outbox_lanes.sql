-- Lanes of the one outbound port: 0 replies to someone who just wrote (a citizen, or an operator
-- acting in the group), 1 individual notices, 2 bulk (broadcasts). A lower lane goes first.
ALTER TABLE outbox ADD COLUMN lane INTEGER NOT NULL DEFAULT 1;
UPDATE outbox SET lane = 0 WHERE kind IN ('reply', 'receipt');

-- What is due, in lane order, without sorting the backlog: only pending rows are indexed.
CREATE INDEX outbox_pending_by_lane ON outbox (lane, id) WHERE status = 'pending';
