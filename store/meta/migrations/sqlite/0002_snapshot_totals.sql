-- Running totals of each graph's completed snapshots, which pruning does not lower
-- (SQLite). Initialised from the snapshot rows that exist.
CREATE TABLE IF NOT EXISTS graphvault_snapshot_totals (
	graph_id TEXT NOT NULL PRIMARY KEY,
	completed INTEGER NOT NULL DEFAULT 0,
	records INTEGER NOT NULL DEFAULT 0,
	bytes_raw INTEGER NOT NULL DEFAULT 0,
	bytes_stored INTEGER NOT NULL DEFAULT 0,
	bytes_new INTEGER NOT NULL DEFAULT 0,
	updated_at TIMESTAMP NOT NULL
);
INSERT OR IGNORE INTO graphvault_snapshot_totals (graph_id, completed, records, bytes_raw, bytes_stored, bytes_new, updated_at)
	SELECT graph_id, COUNT(*), SUM(records), SUM(bytes_raw), SUM(bytes_stored), SUM(bytes_new), MAX(updated_at)
	FROM graphvault_snapshots WHERE status = 'completed' GROUP BY graph_id;
