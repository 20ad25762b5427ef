-- Running totals of each graph's completed snapshots, which pruning does not lower
-- (MySQL/MariaDB). Initialised from the snapshot rows that exist; both statements
-- may run again after an interrupted migration.
CREATE TABLE IF NOT EXISTS graphvault_snapshot_totals (
	graph_id VARCHAR(255) NOT NULL,
	completed BIGINT NOT NULL DEFAULT 0,
	records BIGINT NOT NULL DEFAULT 0,
	bytes_raw BIGINT NOT NULL DEFAULT 0,
	bytes_stored BIGINT NOT NULL DEFAULT 0,
	bytes_new BIGINT NOT NULL DEFAULT 0,
	updated_at DATETIME(6) NOT NULL,
	PRIMARY KEY (graph_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
INSERT IGNORE INTO graphvault_snapshot_totals (graph_id, completed, records, bytes_raw, bytes_stored, bytes_new, updated_at)
	SELECT graph_id, COUNT(*), SUM(records), SUM(bytes_raw), SUM(bytes_stored), SUM(bytes_new), MAX(updated_at)
	FROM graphvault_snapshots WHERE status = 'completed' GROUP BY graph_id;
