package monitoring

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/recovery/health"
	"github.com/graphvault/graphvault/store/meta"
)

// SnapshotInfo is the short form of a snapshot in the stats answers.
type SnapshotInfo struct {
	ID              string    `json:"id"`
	Kind            string    `json:"kind"`
	Status          string    `json:"status"`
	StartedAt       time.Time `json:"started_at,omitzero"`
	FinishedAt      time.Time `json:"finished_at,omitzero"`
	AgeSeconds      float64   `json:"age_seconds"` // since it finished (or was created)
	DurationSeconds float64   `json:"duration_seconds"`
	Nodes           int64     `json:"nodes"`
	Edges           int64     `json:"edges"`
	BytesStored     int64     `json:"bytes_stored"`
	BytesNew        int64     `json:"bytes_new"`
	Error           string    `json:"error,omitempty"`
}

func snapshotInfo(sn *meta.Snapshot, now time.Time) *SnapshotInfo {
	if sn == nil {
		return nil
	}
	return &SnapshotInfo{
		ID: sn.ID, Kind: sn.Kind, Status: sn.Status, StartedAt: sn.StartedAt, FinishedAt: sn.FinishedAt,
		AgeSeconds: snapshotAge(sn, now).Seconds(), DurationSeconds: snapshotDuration(sn).Seconds(),
		Nodes: sn.Nodes, Edges: sn.Edges, BytesStored: sn.BytesStored, BytesNew: sn.BytesNew, Error: sn.Error,
	}
}

// HealthSummary is the overall health in a summary.
type HealthSummary struct {
	Status  string    `json:"status"`
	Reasons []string  `json:"reasons,omitempty"`
	Time    time.Time `json:"time,omitzero"`
}

// Summary is the answer of GET metrics/summary.
type Summary struct {
	Time   time.Time      `json:"time"`
	Health HealthSummary  `json:"health"`
	Totals SummaryTotals  `json:"totals"`
	Graphs []GraphSummary `json:"graphs"`
}

// SummaryTotals adds up every graph, checkpoint and target.
type SummaryTotals struct {
	Graphs       int   `json:"graphs"`
	Snapshots    int64 `json:"snapshots"`
	Completed    int64 `json:"completed"`
	Failed       int64 `json:"failed"`
	BytesWritten int64 `json:"bytes_written"` // written to the bucket by every snapshot completed, pruned ones too
	Checkpoints  int64 `json:"checkpoints"`
	Targets      int   `json:"targets"`
}

// GraphSummary is one graph in a summary.
type GraphSummary struct {
	GraphID      string        `json:"graph_id"`
	Snapshots    int64         `json:"snapshots"`
	Completed    int64         `json:"completed"`
	Failed       int64         `json:"failed"`
	BytesWritten int64         `json:"bytes_written"`           // a running total: a prune does not lower it
	LastSnapshot *SnapshotInfo `json:"last_snapshot,omitempty"` // newest completed
}

// GET /metrics/summary → 200 Summary. It reads the store and the health's last
// report; it runs no check.
func (h *handler) summary(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	// The answer is made of the store and of the health's newest report: kept
	// while neither changes, for at most a second.
	ver := summaryVersion{gen: h.st.Generation()}
	if hc := h.parts.Health; hc != nil {
		if last, ok := hc.Last(); ok {
			ver.health, ver.status = last.Time.UnixNano(), last.Status
		}
	}
	resp, err := h.answers.Get(r.Context(), "summary", ver, h.buildSummary)
	if err != nil {
		return err
	}
	resp.Write(w)
	return nil
}

// summaryVersion is what a summary answer is made of.
type summaryVersion struct {
	gen    uint64 // the store's generation
	health int64  // when the health's newest report was made (Unix ns); 0 for none
	status health.Status
}

func (h *handler) buildSummary(ctx context.Context) (*api.Response, error) {
	now := h.now().UTC()
	s, err := h.state.read(ctx, now)
	if err != nil {
		return nil, err
	}
	rep, err := h.healthReport(ctx, false, false)
	if err != nil {
		return nil, err
	}
	out := Summary{
		Time:   now,
		Health: HealthSummary{Status: string(rep.Status), Reasons: rep.Reasons, Time: rep.Time},
		Graphs: []GraphSummary{},
		Totals: SummaryTotals{Graphs: len(s.graphs), Checkpoints: s.checkpoints.total, Targets: len(s.targets)},
	}
	for _, g := range s.graphs {
		gs := GraphSummary{
			GraphID: g.stats.GraphID, Snapshots: g.stats.Snapshots, Completed: g.stats.Completed,
			Failed: g.stats.Failed, BytesWritten: g.totals.BytesNew, LastSnapshot: snapshotInfo(g.newest, now),
		}
		out.Graphs = append(out.Graphs, gs)
		out.Totals.Snapshots += gs.Snapshots
		out.Totals.Completed += gs.Completed
		out.Totals.Failed += gs.Failed
		out.Totals.BytesWritten += gs.BytesWritten
	}
	return api.JSONResponse(http.StatusOK, out)
}

// BackupStats is the answer of GET stats/backups.
type BackupStats struct {
	Time   time.Time    `json:"time"`
	Graphs []GraphStats `json:"graphs"`
}

// StatusCounts counts snapshots by status.
type StatusCounts struct {
	Pending   int64 `json:"pending"`
	Running   int64 `json:"running"`
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
	Total     int64 `json:"total"`
}

// GraphStats is one graph in the backup stats.
type GraphStats struct {
	GraphID                string        `json:"graph_id"`
	Counts                 StatusCounts  `json:"counts"`
	BytesRaw               int64         `json:"bytes_raw"`    // sum over completed snapshots
	BytesStored            int64         `json:"bytes_stored"` // sum over completed snapshots of what each needs
	BytesNew               int64         `json:"bytes_new"`    // sum over completed snapshots of what each wrote
	NewestSnapshot         *SnapshotInfo `json:"newest_snapshot,omitempty"`
	NewestCompleted        *SnapshotInfo `json:"newest_completed,omitempty"`
	LastFailure            *SnapshotInfo `json:"last_failure,omitempty"`
	AverageDurationSeconds float64       `json:"average_duration_seconds"` // over the newest completed snapshots
	AveragedOver           int           `json:"averaged_over"`            // how many; at most 100
}

// durationWindow is how many of the newest completed snapshots the average
// duration is taken over.
const durationWindow = 100

// GET /stats/backups → 200 BackupStats.
func (h *handler) statsBackups(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	resp, err := h.answers.Get(r.Context(), "stats/backups", h.st.Generation(), func(ctx context.Context) (*api.Response, error) {
		out, err := h.readBackupStats(ctx)
		if err != nil {
			return nil, err
		}
		return api.JSONResponse(http.StatusOK, out)
	})
	if err != nil {
		return err
	}
	resp.Write(w)
	return nil
}

// readBackupStats reads the per-graph backup figures: a few small queries per graph.
func (h *handler) readBackupStats(ctx context.Context) (*BackupStats, error) {
	now := h.now().UTC()
	stats, err := h.st.SnapshotStats(ctx)
	if err != nil {
		return nil, err
	}
	out := &BackupStats{Time: now, Graphs: []GraphStats{}}
	for _, gs := range stats {
		g := GraphStats{
			GraphID: gs.GraphID,
			Counts: StatusCounts{Pending: gs.Pending, Running: gs.Running, Completed: gs.Completed,
				Failed: gs.Failed, Total: gs.Snapshots},
			BytesRaw: gs.BytesRaw, BytesStored: gs.BytesStored, BytesNew: gs.BytesNew,
		}
		newest, _, err := h.st.ListSnapshots(ctx, meta.SnapshotFilter{GraphID: gs.GraphID, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(newest) > 0 {
			g.NewestSnapshot = snapshotInfo(&newest[0], now)
		}
		if gs.Completed > 0 {
			done, _, err := h.st.ListSnapshots(ctx, meta.SnapshotFilter{GraphID: gs.GraphID, Status: meta.SnapshotCompleted, Limit: durationWindow})
			if err != nil {
				return nil, err
			}
			var total time.Duration
			for i := range done {
				total += snapshotDuration(&done[i])
			}
			if len(done) > 0 {
				g.NewestCompleted = snapshotInfo(&done[0], now)
				g.AveragedOver = len(done)
				g.AverageDurationSeconds = total.Seconds() / float64(len(done))
			}
		}
		if gs.Failed > 0 {
			failed, _, err := h.st.ListSnapshots(ctx, meta.SnapshotFilter{GraphID: gs.GraphID, Status: meta.SnapshotFailed, Limit: 1})
			if err != nil {
				return nil, err
			}
			if len(failed) > 0 {
				g.LastFailure = snapshotInfo(&failed[0], now)
			}
		}
		out.Graphs = append(out.Graphs, g)
	}
	return out, nil
}

// RecoveryStats is the answer of GET stats/recovery.
type RecoveryStats struct {
	Time        time.Time            `json:"time"`
	Checkpoints CheckpointStats      `json:"checkpoints"`
	Graphs      []GraphRecoveryStats `json:"graphs"`
}

// CheckpointStats counts checkpoints.
type CheckpointStats struct {
	Count           int64            `json:"count"`
	Validated       int64            `json:"validated"`   // validated without error
	Invalid         int64            `json:"invalid"`     // validation found a problem
	Unvalidated     int64            `json:"unvalidated"` // never validated
	Newest          *meta.Checkpoint `json:"newest,omitempty"`
	NewestValidated *meta.Checkpoint `json:"newest_validated,omitempty"`
}

// GraphRecoveryStats is one graph in the recovery stats.
type GraphRecoveryStats struct {
	GraphID                string            `json:"graph_id"`
	NewestCompleted        *SnapshotInfo     `json:"newest_completed,omitempty"`
	NewestVerifiedSnapshot *VerifiedSnapshot `json:"newest_verified_snapshot,omitempty"`
}

// VerifiedSnapshot is a snapshot known to have passed verification, by a validated
// checkpoint naming it or by the snapshot health check.
type VerifiedSnapshot struct {
	SnapshotInfo
	VerifiedAt time.Time `json:"verified_at"`
	Source     string    `json:"source"` // "checkpoint" or "health"
	SourceID   string    `json:"source_id,omitempty"`
}

// GET /stats/recovery → 200 RecoveryStats.
func (h *handler) statsRecovery(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r); err != nil {
		return err
	}
	out, err := h.readRecoveryStats(r.Context())
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, out)
	return nil
}

// readRecoveryStats counts the checkpoints and finds, for every graph with
// snapshots or a verified one, its newest completed snapshot and the newest
// snapshot known to be verified.
func (h *handler) readRecoveryStats(ctx context.Context) (*RecoveryStats, error) {
	now := h.now().UTC()
	out := &RecoveryStats{Time: now, Graphs: []GraphRecoveryStats{}}
	best := newestVerified{}
	if err := countCheckpointStats(ctx, h.st, &out.Checkpoints, best); err != nil {
		return nil, err
	}
	if err := verifiedByHealth(ctx, h.st, best); err != nil {
		return nil, err
	}
	ids, err := recoveryGraphIDs(ctx, h.st, best)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		g, err := h.graphRecoveryStats(ctx, id, best, now)
		if err != nil {
			return nil, err
		}
		out.Graphs = append(out.Graphs, g)
	}
	return out, nil
}

// verified is a snapshot known to have passed verification, and what says so.
type verified struct {
	snapshot, source, sourceID string
	at                         time.Time
}

// newestVerified is the newest verified snapshot of every graph, by graph ID.
type newestVerified map[string]verified

// consider keeps v if it is newer than the graph's snapshot kept so far.
func (b newestVerified) consider(graphID string, v verified) {
	// Snapshot ids are ULIDs: a greater id is a newer snapshot.
	if cur, ok := b[graphID]; !ok || v.snapshot > cur.snapshot || v.snapshot == cur.snapshot && v.at.After(cur.at) {
		b[graphID] = v
	}
}

// countCheckpointStats counts every checkpoint into cs; the snapshots of a
// validated one count as verified.
func countCheckpointStats(ctx context.Context, st *meta.Store, cs *CheckpointStats, best newestVerified) error {
	return eachCheckpoint(ctx, st, func(c *meta.Checkpoint) {
		cs.Count++
		if cs.Newest == nil {
			cp := *c
			cs.Newest = &cp
		}
		switch validation(c) {
		case "valid":
			cs.Validated++
			if cs.NewestValidated == nil {
				cp := *c
				cs.NewestValidated = &cp
			}
			for _, g := range c.Graphs {
				best.consider(g.GraphID, verified{g.SnapshotID, "checkpoint", c.ID, c.ValidatedAt})
			}
		case "invalid":
			cs.Invalid++
		default:
			cs.Unvalidated++
		}
	})
}

// verifiedByHealth considers the snapshots the snapshot health check recorded as
// verified, per graph, in its newest events.
func verifiedByHealth(ctx context.Context, st *meta.Store, best newestVerified) error {
	events, _, err := st.ListHealthEvents(ctx, meta.HealthFilter{Component: "backup", Check: "snapshots", Limit: 50})
	if err != nil {
		return err
	}
	for _, e := range events {
		graphs, _ := e.Details["graphs"].(map[string]any)
		for id, v := range graphs {
			g, _ := v.(map[string]any)
			if ok, _ := g["verified"].(bool); !ok {
				continue
			}
			if sid, _ := g["snapshot"].(string); sid != "" {
				best.consider(id, verified{sid, "health", e.ID, e.CreatedAt})
			}
		}
	}
	return nil
}

// recoveryGraphIDs returns the graphs with snapshots, sorted, then those with only a
// verified snapshot (since deleted), sorted.
func recoveryGraphIDs(ctx context.Context, st *meta.Store, best newestVerified) ([]string, error) {
	stats, err := st.SnapshotStats(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	ids := []string{}
	for _, gs := range stats {
		seen[gs.GraphID] = true
		ids = append(ids, gs.GraphID)
	}
	for _, id := range sortedKeys(best) {
		if !seen[id] {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// graphRecoveryStats reads one graph's newest completed snapshot and the row of its
// newest verified one, which is "deleted" when the row is gone.
func (h *handler) graphRecoveryStats(ctx context.Context, id string, best newestVerified, now time.Time) (GraphRecoveryStats, error) {
	g := GraphRecoveryStats{GraphID: id}
	if sn, err := h.st.LatestSnapshot(ctx, id, meta.SnapshotCompleted); err == nil {
		g.NewestCompleted = snapshotInfo(sn, now)
	} else if !isNotFound(err) {
		return g, err
	}
	v, ok := best[id]
	if !ok {
		return g, nil
	}
	vs := &VerifiedSnapshot{SnapshotInfo: SnapshotInfo{ID: v.snapshot}, VerifiedAt: v.at, Source: v.source, SourceID: v.sourceID}
	switch sn, err := h.st.GetSnapshot(ctx, v.snapshot); {
	case err == nil:
		vs.SnapshotInfo = *snapshotInfo(sn, now)
	case isNotFound(err):
		vs.Status = "deleted"
	default:
		return g, err
	}
	g.NewestVerifiedSnapshot = vs
	return g, nil
}

// ReplicationStats is the answer of GET stats/replication.
type ReplicationStats struct {
	Time    time.Time     `json:"time"`
	Targets []TargetStats `json:"targets"`
	Events  EventsSummary `json:"events"`
}

// TargetStats is one target. Its secret is never part of it, and configuration
// values whose key names a credential are redacted. A check of the target is not a
// replication: its outcome is in Health, LastError and LastCheckAt, never in
// LastSuccess, LagSeconds or the recent counts.
type TargetStats struct {
	ID            string                 `json:"id"`
	Name          string                 `json:"name"`
	Kind          string                 `json:"kind"`
	Enabled       bool                   `json:"enabled"`
	Health        string                 `json:"health"` // "unknown" until one is recorded
	LastError     string                 `json:"last_error,omitempty"`
	LastCheckAt   time.Time              `json:"last_check_at,omitzero"`
	Config        map[string]string      `json:"config,omitempty"`
	LastSuccess   *meta.ReplicationEvent `json:"last_success,omitempty"` // newest successful snapshot or journal replication
	LagSeconds    *float64               `json:"lag_seconds,omitempty"`  // since the last success finished
	RecentEvents  int                    `json:"recent_events"`          // among the events summed up
	RecentFailure int                    `json:"recent_failures"`        // among the events summed up
}

// EventsSummary sums up the most recent replications: events of kind snapshot or
// journal, never checks.
type EventsSummary struct {
	Considered  int                    `json:"considered"` // how many of the newest replications (at most limit)
	OK          int                    `json:"ok"`
	Failed      int                    `json:"failed"`
	Bytes       int64                  `json:"bytes"`
	Oldest      time.Time              `json:"oldest,omitzero"`
	LastFailure *meta.ReplicationEvent `json:"last_failure,omitempty"`
}

// redacted replaces configuration values that may hold credentials.
const redacted = "[redacted]"

func redactConfig(cfg map[string]string) map[string]string {
	if len(cfg) == 0 {
		return nil
	}
	out := make(map[string]string, len(cfg))
	for k, v := range cfg {
		lk := strings.ToLower(k)
		for _, word := range []string{"secret", "password", "passwd", "token", "key", "credential", "auth"} {
			if strings.Contains(lk, word) {
				v = redacted
				break
			}
		}
		out[k] = v
	}
	return out
}

// GET /stats/replication?limit= → 200 ReplicationStats; limit (1 to 1000, default
// 100) is how many of the newest replications are summed up.
func (h *handler) statsReplication(w http.ResponseWriter, r *http.Request) error {
	if err := noQuery(r, "limit"); err != nil {
		return err
	}
	limit, err := api.QueryInt(r, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	ctx := r.Context()
	now := h.now().UTC()
	s, err := h.state.read(ctx, now)
	if err != nil {
		return err
	}
	events, err := recentReplications(ctx, h.st, meta.EventFilter{Limit: limit})
	if err != nil {
		return err
	}
	out := ReplicationStats{Time: now, Targets: []TargetStats{}, Events: EventsSummary{Considered: len(events)}}
	perTarget := map[string][2]int{}
	for i := range events {
		e := &events[i]
		c := perTarget[e.TargetID]
		c[0]++
		if e.Status == meta.EventFailed {
			out.Events.Failed++
			c[1]++
			if out.Events.LastFailure == nil {
				out.Events.LastFailure = e
			}
		} else {
			out.Events.OK++
		}
		perTarget[e.TargetID] = c
		out.Events.Bytes += e.Bytes
		out.Events.Oldest = e.StartedAt
	}
	for _, ts := range s.targets {
		t := ts.target
		st := TargetStats{
			ID: t.ID, Name: t.Name, Kind: t.Kind, Enabled: t.Enabled, Health: targetHealth(t),
			LastError: t.LastError, LastCheckAt: t.LastCheckAt, Config: redactConfig(t.Config),
			LastSuccess: ts.lastOK, RecentEvents: perTarget[t.ID][0], RecentFailure: perTarget[t.ID][1],
		}
		if lag, ok := ts.lag(now); ok {
			st.LagSeconds = finite(lag.Seconds())
		}
		out.Targets = append(out.Targets, st)
	}
	api.WriteJSON(w, http.StatusOK, out)
	return nil
}

// isNotFound reports whether err is the store's ErrNotFound.
func isNotFound(err error) bool { return errors.Is(err, meta.ErrNotFound) }
