-- graphvault metadata store, initial schema (PostgreSQL).
CREATE TABLE IF NOT EXISTS graphvault_snapshots (
	id TEXT NOT NULL PRIMARY KEY,
	graph_id TEXT NOT NULL,
	parent_id TEXT NOT NULL DEFAULT '',
	kind TEXT NOT NULL,
	status TEXT NOT NULL,
	started_at TIMESTAMPTZ,
	finished_at TIMESTAMPTZ,
	nodes BIGINT NOT NULL DEFAULT 0,
	edges BIGINT NOT NULL DEFAULT 0,
	records BIGINT NOT NULL DEFAULT 0,
	bytes_raw BIGINT NOT NULL DEFAULT 0,
	bytes_stored BIGINT NOT NULL DEFAULT 0,
	bytes_new BIGINT NOT NULL DEFAULT 0,
	root_hash TEXT NOT NULL DEFAULT '',
	manifest_key TEXT NOT NULL DEFAULT '',
	journal_pos BIGINT NOT NULL DEFAULT 0,
	chain_len INTEGER NOT NULL DEFAULT 0,
	encrypted BOOLEAN NOT NULL DEFAULT FALSE,
	retain_until TIMESTAMPTZ,
	error TEXT NOT NULL DEFAULT '',
	labels JSONB,
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS graphvault_snapshots_graph_idx ON graphvault_snapshots (graph_id, id);
CREATE INDEX IF NOT EXISTS graphvault_snapshots_graph_status_idx ON graphvault_snapshots (graph_id, status, id);
CREATE INDEX IF NOT EXISTS graphvault_snapshots_created_idx ON graphvault_snapshots (created_at);

CREATE TABLE IF NOT EXISTS graphvault_targets (
	id TEXT NOT NULL PRIMARY KEY,
	name TEXT NOT NULL,
	kind TEXT NOT NULL,
	config JSONB,
	secret TEXT NOT NULL DEFAULT '',
	enabled BOOLEAN NOT NULL DEFAULT TRUE,
	health TEXT NOT NULL DEFAULT '',
	last_error TEXT NOT NULL DEFAULT '',
	last_check_at TIMESTAMPTZ,
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS graphvault_targets_name_key ON graphvault_targets (name);

CREATE TABLE IF NOT EXISTS graphvault_replication_events (
	id TEXT NOT NULL PRIMARY KEY,
	target_id TEXT NOT NULL,
	graph_id TEXT NOT NULL DEFAULT '',
	snapshot_id TEXT NOT NULL DEFAULT '',
	kind TEXT NOT NULL,
	status TEXT NOT NULL,
	bytes BIGINT NOT NULL DEFAULT 0,
	objects_copied BIGINT NOT NULL DEFAULT 0,
	objects_skipped BIGINT NOT NULL DEFAULT 0,
	journal_pos BIGINT NOT NULL DEFAULT 0,
	started_at TIMESTAMPTZ NOT NULL,
	duration_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
	error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS graphvault_replication_events_target_idx ON graphvault_replication_events (target_id, id);
CREATE INDEX IF NOT EXISTS graphvault_replication_events_graph_idx ON graphvault_replication_events (graph_id, id);

CREATE TABLE IF NOT EXISTS graphvault_checkpoints (
	id TEXT NOT NULL PRIMARY KEY,
	description TEXT NOT NULL DEFAULT '',
	created_by TEXT NOT NULL DEFAULT '',
	metadata JSONB,
	graphs JSONB,
	validated BOOLEAN NOT NULL DEFAULT FALSE,
	validated_at TIMESTAMPTZ,
	validation_error TEXT NOT NULL DEFAULT '',
	created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS graphvault_health_events (
	id TEXT NOT NULL PRIMARY KEY,
	component TEXT NOT NULL,
	check_name TEXT NOT NULL,
	status TEXT NOT NULL,
	message TEXT NOT NULL DEFAULT '',
	details JSONB,
	created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS graphvault_health_events_check_idx ON graphvault_health_events (component, check_name, id);
CREATE INDEX IF NOT EXISTS graphvault_health_events_created_idx ON graphvault_health_events (created_at);

CREATE TABLE IF NOT EXISTS graphvault_leases (
	name TEXT NOT NULL PRIMARY KEY,
	holder TEXT NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL,
	acquired_at TIMESTAMPTZ NOT NULL,
	renewed_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS graphvault_metric_samples (
	id TEXT NOT NULL PRIMARY KEY,
	name TEXT NOT NULL,
	labels TEXT NOT NULL DEFAULT '',
	value DOUBLE PRECISION NOT NULL,
	sampled_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS graphvault_metric_samples_name_idx ON graphvault_metric_samples (name, sampled_at);
CREATE INDEX IF NOT EXISTS graphvault_metric_samples_at_idx ON graphvault_metric_samples (sampled_at);
