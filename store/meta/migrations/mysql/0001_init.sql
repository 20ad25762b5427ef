-- graphvault metadata store, initial schema (MySQL 5.7+ / MariaDB 10.3+).
-- Indexes are declared inside CREATE TABLE so that every statement can be re-run.
CREATE TABLE IF NOT EXISTS graphvault_snapshots (
	id VARCHAR(26) NOT NULL,
	graph_id VARCHAR(255) NOT NULL,
	parent_id VARCHAR(26) NOT NULL DEFAULT '',
	kind VARCHAR(32) NOT NULL,
	status VARCHAR(32) NOT NULL,
	started_at DATETIME(6) NULL,
	finished_at DATETIME(6) NULL,
	nodes BIGINT NOT NULL DEFAULT 0,
	edges BIGINT NOT NULL DEFAULT 0,
	records BIGINT NOT NULL DEFAULT 0,
	bytes_raw BIGINT NOT NULL DEFAULT 0,
	bytes_stored BIGINT NOT NULL DEFAULT 0,
	bytes_new BIGINT NOT NULL DEFAULT 0,
	root_hash VARCHAR(255) NOT NULL DEFAULT '',
	manifest_key VARCHAR(1024) NOT NULL DEFAULT '',
	journal_pos BIGINT NOT NULL DEFAULT 0,
	chain_len INT NOT NULL DEFAULT 0,
	encrypted BOOLEAN NOT NULL DEFAULT FALSE,
	retain_until DATETIME(6) NULL,
	error TEXT NOT NULL,
	labels JSON NULL,
	created_at DATETIME(6) NOT NULL,
	updated_at DATETIME(6) NOT NULL,
	PRIMARY KEY (id),
	INDEX graphvault_snapshots_graph_idx (graph_id, id),
	INDEX graphvault_snapshots_graph_status_idx (graph_id, status, id),
	INDEX graphvault_snapshots_created_idx (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS graphvault_targets (
	id VARCHAR(26) NOT NULL,
	name VARCHAR(255) NOT NULL,
	kind VARCHAR(32) NOT NULL,
	config JSON NULL,
	secret TEXT NOT NULL,
	enabled BOOLEAN NOT NULL DEFAULT TRUE,
	health VARCHAR(64) NOT NULL DEFAULT '',
	last_error TEXT NOT NULL,
	last_check_at DATETIME(6) NULL,
	created_at DATETIME(6) NOT NULL,
	updated_at DATETIME(6) NOT NULL,
	PRIMARY KEY (id),
	UNIQUE KEY graphvault_targets_name_key (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS graphvault_replication_events (
	id VARCHAR(26) NOT NULL,
	target_id VARCHAR(26) NOT NULL,
	graph_id VARCHAR(255) NOT NULL DEFAULT '',
	snapshot_id VARCHAR(26) NOT NULL DEFAULT '',
	kind VARCHAR(32) NOT NULL,
	status VARCHAR(32) NOT NULL,
	bytes BIGINT NOT NULL DEFAULT 0,
	objects_copied BIGINT NOT NULL DEFAULT 0,
	objects_skipped BIGINT NOT NULL DEFAULT 0,
	journal_pos BIGINT NOT NULL DEFAULT 0,
	started_at DATETIME(6) NOT NULL,
	duration_seconds DOUBLE NOT NULL DEFAULT 0,
	error TEXT NOT NULL,
	PRIMARY KEY (id),
	INDEX graphvault_replication_events_target_idx (target_id, id),
	INDEX graphvault_replication_events_graph_idx (graph_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS graphvault_checkpoints (
	id VARCHAR(26) NOT NULL,
	description TEXT NOT NULL,
	created_by VARCHAR(255) NOT NULL DEFAULT '',
	metadata JSON NULL,
	graphs JSON NULL,
	validated BOOLEAN NOT NULL DEFAULT FALSE,
	validated_at DATETIME(6) NULL,
	validation_error TEXT NOT NULL,
	created_at DATETIME(6) NOT NULL,
	PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS graphvault_health_events (
	id VARCHAR(26) NOT NULL,
	component VARCHAR(255) NOT NULL,
	check_name VARCHAR(255) NOT NULL,
	status VARCHAR(16) NOT NULL,
	message TEXT NOT NULL,
	details JSON NULL,
	created_at DATETIME(6) NOT NULL,
	PRIMARY KEY (id),
	INDEX graphvault_health_events_check_idx (component, check_name, id),
	INDEX graphvault_health_events_created_idx (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS graphvault_leases (
	name VARCHAR(255) NOT NULL,
	holder VARCHAR(255) NOT NULL,
	expires_at DATETIME(6) NOT NULL,
	acquired_at DATETIME(6) NOT NULL,
	renewed_at DATETIME(6) NOT NULL,
	PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS graphvault_metric_samples (
	id VARCHAR(26) NOT NULL,
	name VARCHAR(255) NOT NULL,
	labels TEXT NOT NULL,
	value DOUBLE NOT NULL,
	sampled_at DATETIME(6) NOT NULL,
	PRIMARY KEY (id),
	INDEX graphvault_metric_samples_name_idx (name, sampled_at),
	INDEX graphvault_metric_samples_at_idx (sampled_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
