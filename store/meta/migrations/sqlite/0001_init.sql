-- graphvault metadata store, initial schema (SQLite).
CREATE TABLE IF NOT EXISTS graphvault_snapshots (
	id TEXT NOT NULL PRIMARY KEY,
	graph_id TEXT NOT NULL,
	parent_id TEXT NOT NULL DEFAULT '',
	kind TEXT NOT NULL,
	status TEXT NOT NULL,
	started_at TIMESTAMP,
	finished_at TIMESTAMP,
	nodes INTEGER NOT NULL DEFAULT 0,
	edges INTEGER NOT NULL DEFAULT 0,
	records INTEGER NOT NULL DEFAULT 0,
	bytes_raw INTEGER NOT NULL DEFAULT 0,
	bytes_stored INTEGER NOT NULL DEFAULT 0,
	bytes_new INTEGER NOT NULL DEFAULT 0,
	root_hash TEXT NOT NULL DEFAULT '',
	manifest_key TEXT NOT NULL DEFAULT '',
	journal_pos INTEGER NOT NULL DEFAULT 0,
	chain_len INTEGER NOT NULL DEFAULT 0,
	encrypted BOOLEAN NOT NULL DEFAULT FALSE,
	retain_until TIMESTAMP,
	error TEXT NOT NULL DEFAULT '',
	labels TEXT,
	created_at TIMESTAMP NOT NULL,
	updated_at TIMESTAMP NOT NULL
);
CREATE INDEX IF NOT EXISTS graphvault_snapshots_graph_idx ON graphvault_snapshots (graph_id, id);
CREATE INDEX IF NOT EXISTS graphvault_snapshots_graph_status_idx ON graphvault_snapshots (graph_id, status, id);
CREATE INDEX IF NOT EXISTS graphvault_snapshots_created_idx ON graphvault_snapshots (created_at);

CREATE TABLE IF NOT EXISTS graphvault_targets (
	id TEXT NOT NULL PRIMARY KEY,
	name TEXT NOT NULL,
	kind TEXT NOT NULL,
	config TEXT,
	secret TEXT NOT NULL DEFAULT '',
	enabled BOOLEAN NOT NULL DEFAULT TRUE,
	health TEXT NOT NULL DEFAULT '',
	last_error TEXT NOT NULL DEFAULT '',
	last_check_at TIMESTAMP,
	created_at TIMESTAMP NOT NULL,
	updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS graphvault_targets_name_key ON graphvault_targets (name);

CREATE TABLE IF NOT EXISTS graphvault_replication_events (
	id TEXT NOT NULL PRIMARY KEY,
	target_id TEXT NOT NULL,
	graph_id TEXT NOT NULL DEFAULT '',
	snapshot_id TEXT NOT NULL DEFAULT '',
	kind TEXT NOT NULL,
	status TEXT NOT NULL,
	bytes INTEGER NOT NULL DEFAULT 0,
	objects_copied INTEGER NOT NULL DEFAULT 0,
	objects_skipped INTEGER NOT NULL DEFAULT 0,
	journal_pos INTEGER NOT NULL DEFAULT 0,
	started_at TIMESTAMP NOT NULL,
	duration_seconds REAL NOT NULL DEFAULT 0,
	error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS graphvault_replication_events_target_idx ON graphvault_replication_events (target_id, id);
CREATE INDEX IF NOT EXISTS graphvault_replication_events_graph_idx ON graphvault_replication_events (graph_id, id);

CREATE TABLE IF NOT EXISTS graphvault_checkpoints (
	id TEXT NOT NULL PRIMARY KEY,
	description TEXT NOT NULL DEFAULT '',
	created_by TEXT NOT NULL DEFAULT '',
	metadata TEXT,
	graphs TEXT,
	validated BOOLEAN NOT NULL DEFAULT FALSE,
	validated_at TIMESTAMP,
	validation_error TEXT NOT NULL DEFAULT '',
	created_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS graphvault_health_events (
	id TEXT NOT NULL PRIMARY KEY,
	component TEXT NOT NULL,
	check_name TEXT NOT NULL,
	status TEXT NOT NULL,
	message TEXT NOT NULL DEFAULT '',
	details TEXT,
	created_at TIMESTAMP NOT NULL
);
CREATE INDEX IF NOT EXISTS graphvault_health_events_check_idx ON graphvault_health_events (component, check_name, id);
CREATE INDEX IF NOT EXISTS graphvault_health_events_created_idx ON graphvault_health_events (created_at);

CREATE TABLE IF NOT EXISTS graphvault_leases (
	name TEXT NOT NULL PRIMARY KEY,
	holder TEXT NOT NULL,
	expires_at TIMESTAMP NOT NULL,
	acquired_at TIMESTAMP NOT NULL,
	renewed_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS graphvault_metric_samples (
	id TEXT NOT NULL PRIMARY KEY,
	name TEXT NOT NULL,
	labels TEXT NOT NULL DEFAULT '',
	value REAL NOT NULL,
	sampled_at TIMESTAMP NOT NULL
);
CREATE INDEX IF NOT EXISTS graphvault_metric_samples_name_idx ON graphvault_metric_samples (name, sampled_at);
CREATE INDEX IF NOT EXISTS graphvault_metric_samples_at_idx ON graphvault_metric_samples (sampled_at);
