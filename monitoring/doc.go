// Package monitoring wires graphvault's metrics to Prometheus, publishes gauges read
// from the metadata store, keeps their history, and serves all of it, with health
// and statistics, over HTTP. It only reads: the work is measured where it happens,
// by the packages the host gives a meter provider to.
//
// [NewPrometheus] builds a private prometheus.Registry, the OpenTelemetry
// Prometheus exporter registered with it and a meter provider reading through it.
// The host passes its MeterProvider to store, blob, backup, recovery and this
// package; nothing touches the global registries.
//
// A [Collector] registers observable gauges on a meter provider whose callbacks
// read the store when the provider collects (a scrape): snapshot counts, bytes,
// newest snapshot age and size per graph, checkpoints, targets by health,
// replication lag per target, recorded health. [Collector.Collect] writes one set
// of metric samples (the Sample* names) to the store as history for dashboards and
// prunes those older than the retention; it runs on demand and, between
// [Collector.Start] and [Collector.Close], on an interval.
//
// [NewHandler] serves JSON and Prometheus metrics, a summary, metric history,
// application/health+json, and backup, recovery and replication statistics on an
// api.Mux; the [Parts] it is given (the Prometheus helper, the collector, the
// health runner, the dashboard page) decide which routes answer. The answers that
// dashboards and scrapers poll (metrics, the exposition, the summary, backup
// statistics) are kept encoded for a second and shared by the requests of that
// second; a write through the store, a new gathering or a new health report makes
// the next request compute them again, so a snapshot shows at once.
//
// A check of a replication target (an event of kind "check") is not a
// replication: the statistics and the collector's lag count only snapshot and
// journal events as replications, and show a check in the target's health.
//
// # Errors
//
// [NewCollector] returns an error wrapping [ErrInvalid] for a nil store or a bad
// option; [Collector.Start] returns [ErrBusy] when started twice or after Close.
// Store errors come back wrapped, testable with errors.Is against the store's
// sentinels. The handler answers RFC 9457 problem+json: a malformed or unknown
// query parameter is 400, a route whose part was not given ([ErrNotConfigured])
// 404, a closed store 503, anything else 500 with the error logged, not shown; the
// authorizer's errors answer as they say (401, 403). GET health answers 503 with
// its usual body when the overall status is fail.
//
// # Metrics
//
// The collector's observable gauges, meter named by this package's import path,
// each read from the store at collection time (Prometheus names in brackets):
//   - graphvault.stats.snapshots {graph, status} [graphvault_stats_snapshots]
//   - graphvault.stats.stored (By) {graph}: bytes written by completed snapshots,
//     pruned ones too (a running total in the metadata store)
//     [graphvault_stats_stored_bytes]
//   - graphvault.stats.snapshot.size (By), .nodes, .edges, .age (s), .duration (s)
//     {graph}: of the newest completed snapshot
//   - graphvault.stats.checkpoints {validation: valid, invalid, unvalidated}
//   - graphvault.stats.replication.targets {health}: every health listed, at zero
//     when no target has it
//   - graphvault.stats.replication.lag (s) {target}: since the target's last
//     successful replication finished
//
// With [WithCatalog] the per-graph gauges list the served graphs before their first
// snapshot. The status of each health check is recovery/health's
// graphvault.health.status, recorded where the check runs.
//
// The families the JSON endpoint reports are every family of the registry whose
// name starts with graphvault_, whichever package recorded it.
package monitoring
