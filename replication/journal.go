package replication

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/meta"
)

// Journal shipping options.
const (
	defaultJournalInterval = time.Second
	// maxSegmentBatches bounds the batches of one segment; a target that is far
	// behind receives several segments in one pass.
	maxSegmentBatches = 4096
	// maxSegmentOps bounds the operations of one segment (a Replace batch may hold a
	// whole graph; it still goes alone in its segment).
	maxSegmentOps = 200_000
)

// WithJournal ships the change journal of every graph of cat that implements
// graph.Journal to every enabled target, once [Service.Start] runs (or at each
// [Service.ShipJournal]). See JournalPrefix for the layout at the target.
func WithJournal(cat graph.Catalog) Option { return func(c *config) { c.journal = cat } }

// WithJournalInterval sets how often journals are shipped (default 1s).
func WithJournalInterval(d time.Duration) Option {
	return func(c *config) { c.journalInterval = d }
}

// JournalStatus is how far one target has received one graph's journal.
type JournalStatus struct {
	TargetID   string `json:"target_id"`
	TargetName string `json:"target_name"`
	GraphID    string `json:"graph_id"`
	// Position is the newest batch the target holds (in a segment or its baseline).
	Position uint64 `json:"position"`
	// LagSeconds is now − the time of the oldest batch the target does not hold yet,
	// 0 when it holds every batch.
	LagSeconds float64 `json:"lag_seconds"`
	// NeedsBaseline is true after a gap in the primary's journal until a snapshot
	// the shipping can restart from is at the target.
	NeedsBaseline bool `json:"needs_baseline"`
	// Baseline is the snapshot shipping last restarted from, if any.
	Baseline  string    `json:"baseline,omitempty"`
	LastShip  time.Time `json:"last_ship,omitzero"`
	LastError string    `json:"last_error,omitempty"`
}

type journalMetrics struct {
	position metric.Int64Gauge
	batches  metric.Int64Counter
	lag      metric.Float64Gauge
}

func newJournalMetrics(mp metric.MeterProvider) (*journalMetrics, error) {
	mt := mp.Meter(meterName)
	var m journalMetrics
	var err, e error
	m.position, e = mt.Int64Gauge("graphvault.replication.journal.position", metric.WithUnit("{batch}"),
		metric.WithDescription("Newest journal position a target holds, by target and graph."))
	err = errors.Join(err, e)
	m.batches, e = mt.Int64Counter("graphvault.replication.journal.batches", metric.WithUnit("{batch}"),
		metric.WithDescription("Journal batches shipped, by target and result: ok, failed or gap."))
	err = errors.Join(err, e)
	m.lag, e = mt.Float64Gauge("graphvault.replication.journal.lag", metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest journal batch a target does not hold yet, by target and graph."))
	err = errors.Join(err, e)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

func tgAttrs(target, graphID string) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String("target", target), attribute.String("graph", graphID)))
}

// shipper ships journals. One pass runs at a time; within it targets are served in
// parallel, graphs of one target in turn.
type shipper struct {
	s     *Service
	cat   graph.Catalog
	every time.Duration
	m     *journalMetrics

	pass  sync.Mutex
	mu    sync.Mutex
	state map[[2]string]*shipState // by target id, graph id
}

type shipState struct {
	target     string // name, for metrics
	loaded     bool   // pos and journal hold the target's HEAD
	journal    string // the journal pos counts in
	pos        uint64
	batchTime  time.Time
	lag        float64
	gap        bool
	baseline   string
	lastShip   time.Time
	lastErr    string
	failing    bool
	headMissed bool // no HEAD at the target when loaded: the first ship
}

func newShipper(s *Service) (*shipper, error) {
	if s.cfg.journal == nil {
		return nil, nil
	}
	m, err := newJournalMetrics(s.cfg.meter)
	if err != nil {
		return nil, err
	}
	return &shipper{s: s, cat: s.cfg.journal, every: s.cfg.journalInterval, m: m, state: map[[2]string]*shipState{}}, nil
}

func (sh *shipper) loop(ctx context.Context) {
	defer sh.s.wg.Done()
	t := time.NewTicker(sh.every)
	defer t.Stop()
	for {
		if err := sh.s.ShipJournal(ctx); err != nil && ctx.Err() == nil {
			sh.s.log.Debug("journal shipping pass had failures", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-sh.s.stop:
			return
		case <-t.C:
		}
	}
}

// ShipJournal runs one journal shipping pass: for every enabled target and every
// journaled graph, the batches after the target's position are written as segments,
// then HEAD is advanced. It returns an error joining the failures; they are also
// recorded in the status, the metrics and (when a target starts failing, and for
// every journal gap) as replication events. Without [WithJournal] it does nothing.
//
// Shipping is recorded as replication events of kind [meta.EventJournal]: one
// per pass, target and graph that shipped at least one batch or restarted from a
// baseline snapshot (a pass with nothing to ship records none), with status ok,
// the batches shipped in ObjectsCopied, the stored bytes of their segments in
// Bytes, the newest position shipped in JournalPos (the run covers positions
// JournalPos−ObjectsCopied+1 to JournalPos), the baseline snapshot the run
// continues in SnapshotID when it restarted from one, and the time it took. A
// pass that restarts from a baseline after shipping batches records the run before
// the baseline apart. A target that starts failing records one failed event, and
// the pass that ships again after failures records the recovery (an ok event,
// with nothing shipped when there was nothing to ship).
func (s *Service) ShipJournal(ctx context.Context) error {
	sh := s.ship
	if sh == nil {
		return nil
	}
	if s.closed.Load() {
		return ErrClosed
	}
	sh.pass.Lock()
	defer sh.pass.Unlock()
	targets, err := s.List(ctx)
	if err != nil {
		return err
	}
	ids, err := sh.cat.GraphIDs(ctx)
	if err != nil {
		return fmt.Errorf("replication: journal: list graphs: %w", err)
	}
	type jg struct {
		id string
		g  graph.Graph
		j  graph.Journal
	}
	var graphs []jg
	for _, id := range ids {
		g, err := sh.cat.Graph(ctx, id)
		if err != nil {
			continue // removed meanwhile
		}
		if j, ok := g.(graph.Journal); ok && backup.ValidGraphID(id) {
			graphs = append(graphs, jg{id, g, j})
		}
	}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for i := range targets {
		t := &targets[i]
		if !t.Enabled {
			continue
		}
		wg.Go(func() {
			for _, g := range graphs {
				if err := sh.ship(ctx, t, g.id, g.g, g.j); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("target %s, graph %s: %w", t.Name, g.id, err))
					mu.Unlock()
				}
				if ctx.Err() != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (sh *shipper) stateOf(t *meta.Target, graphID string) *shipState {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	k := [2]string{t.ID, graphID}
	st := sh.state[k]
	if st == nil {
		st = &shipState{}
		sh.state[k] = st
	}
	st.target = t.Name
	return st
}

// ship brings one target up to date with one graph's journal. Only the pass
// goroutine of the target touches st, but status reads it: fields change under sh.mu.
func (sh *shipper) ship(ctx context.Context, t *meta.Target, graphID string, g graph.Graph, j graph.Journal) error {
	s := sh.s
	st := sh.stateOf(t, graphID)
	run := &shipRun{target: t, graphID: graphID, start: s.cfg.now()}
	err := sh.shipTo(ctx, t, st, graphID, g, j, run)
	shipped := sh.flush(ctx, run)
	now := s.cfg.now()
	sh.mu.Lock()
	wasFailing := st.failing
	st.failing = err != nil
	if err != nil {
		st.lastErr = scrub(err, t.Secret).Error()
	} else {
		st.lastErr = ""
		st.lastShip = now
	}
	pos, lag, msg := st.pos, st.lag, st.lastErr
	sh.mu.Unlock()
	sh.m.position.Record(context.WithoutCancel(ctx), int64(pos), tgAttrs(t.Name, graphID))
	sh.m.lag.Record(context.WithoutCancel(ctx), lag, tgAttrs(t.Name, graphID))
	switch {
	case err != nil && ctx.Err() != nil:
		return err
	case err != nil && !wasFailing:
		s.m.errors.Add(ctx, 1, s.m.targetAttr(t.Name))
		sh.event(ctx, t, graphID, pos, "", msg)
		s.log.Warn("journal shipping failed", "target", t.Name, "graph", graphID, "position", pos, "err", msg)
	case err != nil:
		s.m.errors.Add(ctx, 1, s.m.targetAttr(t.Name))
	case wasFailing:
		if !shipped { // else the run's event says it
			sh.event(ctx, t, graphID, pos, "", "")
		}
		s.log.Info("journal shipping recovered", "target", t.Name, "graph", graphID, "position", pos)
	}
	return err
}

// shipRun is what a pass shipped to one target for one graph without a break:
// from the target's position, or from a baseline snapshot, on.
type shipRun struct {
	target   *meta.Target
	graphID  string
	start    time.Time
	baseline string // the snapshot the run continues, when it restarted from one
	batches  int
	bytes    int64
	last     uint64 // newest position shipped
}

// flush records the run as an ok journal event if it shipped anything, reports
// whether it did, and starts a new run from now.
func (sh *shipper) flush(ctx context.Context, run *shipRun) bool {
	now := sh.s.cfg.now()
	shipped := run.batches > 0 || run.baseline != ""
	if shipped {
		ev := &meta.ReplicationEvent{TargetID: run.target.ID, GraphID: run.graphID, SnapshotID: run.baseline,
			Kind: meta.EventJournal, Status: meta.EventOK, Bytes: run.bytes, ObjectsCopied: int64(run.batches),
			JournalPos: int64(run.last), StartedAt: run.start, DurationSeconds: max(0, now.Sub(run.start).Seconds())}
		sh.add(ctx, run.target, ev)
	}
	*run = shipRun{target: run.target, graphID: run.graphID, start: now}
	return shipped
}

// event records a journal replication event; an empty msg is a success.
func (sh *shipper) event(ctx context.Context, t *meta.Target, graphID string, pos uint64, snapshotID, msg string) {
	ev := &meta.ReplicationEvent{TargetID: t.ID, GraphID: graphID, SnapshotID: snapshotID, Kind: meta.EventJournal,
		Status: meta.EventOK, JournalPos: int64(pos), StartedAt: sh.s.cfg.now(), Error: msg}
	if msg != "" {
		ev.Status = meta.EventFailed
	}
	sh.add(ctx, t, ev)
}

// add stores a journal replication event; a failure is logged.
func (sh *shipper) add(ctx context.Context, t *meta.Target, ev *meta.ReplicationEvent) {
	if err := sh.s.store.AddReplicationEvent(context.WithoutCancel(ctx), ev); err != nil {
		sh.s.log.Error("cannot record journal replication event", "target", t.Name, "graph", ev.GraphID, "err", err)
	}
}

func (sh *shipper) set(fn func()) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	fn()
}

func (sh *shipper) shipTo(ctx context.Context, t *meta.Target, st *shipState, graphID string, g graph.Graph, j graph.Journal, run *shipRun) error {
	s := sh.s
	actx, cancel := context.WithTimeout(ctx, s.cfg.attempt)
	b, err := s.bucketFor(actx, t)
	cancel()
	if err != nil {
		return err
	}
	if !st.loaded {
		actx, cancel := context.WithTimeout(ctx, s.cfg.attempt)
		head, err := ReadJournalHead(actx, b, graphID)
		cancel()
		switch {
		case errors.Is(err, ErrNotFound):
			sh.set(func() { st.pos, st.journal, st.loaded, st.headMissed = 0, "", true, true })
		case err != nil:
			return fmt.Errorf("read journal HEAD: %w", err)
		default:
			sh.set(func() {
				st.pos, st.journal, st.batchTime, st.baseline, st.loaded = head.Position, head.Journal, head.BatchTime, head.BaselineSnapshot, true
			})
		}
	}
	// The graph's own journal and position tell whether there is anything to ship.
	// A journal other than the one HEAD names is a graph that restarted (a new
	// journal, whose positions are not comparable with HEAD's): its batches must
	// not continue the segments of the old one, so shipping restarts from a
	// baseline snapshot of the new journal. A journal without a name that went back
	// below what the target holds (a new graph under the same id) is a gap.
	newest, journal, err := graphMeta(ctx, g)
	if err != nil {
		return err
	}
	other := !st.headMissed && st.journal != journal
	if st.gap || other || newest < st.pos {
		switch {
		case other:
			s.log.Info("the graph's journal is not the one at the target (the graph restarted); shipping restarts from a baseline snapshot",
				"target", t.Name, "graph", graphID, "position", newest, "target_position", st.pos)
		case newest < st.pos && !st.gap:
			sh.gap(ctx, t, st, graphID, fmt.Errorf("%w: the graph is at position %d, below the %d the target holds", graph.ErrJournalGap, newest, st.pos))
		}
		if err := sh.baseline(ctx, t, b, st, graphID, g, j, !other && newest < st.pos, run); err != nil {
			return err
		}
	}
	for {
		batches, err := collect(ctx, j, st.pos)
		if errors.Is(err, graph.ErrJournalGap) {
			if st.headMissed {
				s.log.Info("journal starts from a baseline snapshot at this target", "target", t.Name, "graph", graphID)
			} else {
				sh.gap(ctx, t, st, graphID, err)
			}
			if err := sh.baseline(ctx, t, b, st, graphID, g, j, false, run); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if len(batches) == 0 {
			sh.set(func() { st.lag = 0 })
			return nil
		}
		sh.set(func() { st.lag = max(0, s.cfg.now().Sub(batches[0].Time).Seconds()) })
		n, err := sh.put(ctx, b, st, graphID, journal, batches)
		if err != nil {
			sh.m.batches.Add(ctx, int64(len(batches)), s.m.resultAttr(t.Name, "failed"))
			return err
		}
		run.batches += len(batches)
		run.bytes += n
		run.last = batches[len(batches)-1].Seq
		sh.m.batches.Add(ctx, int64(len(batches)), s.m.resultAttr(t.Name, "ok"))
		sh.m.position.Record(context.WithoutCancel(ctx), int64(st.pos), tgAttrs(t.Name, graphID))
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// gap reports a gap in the primary's journal: the target cannot get the batches it
// lacks, so it needs a baseline snapshot.
func (sh *shipper) gap(ctx context.Context, t *meta.Target, st *shipState, graphID string, cause error) {
	msg := fmt.Sprintf("journal gap after position %d: %v; shipping restarts from a baseline snapshot", st.pos, cause)
	sh.set(func() { st.gap = true })
	sh.m.batches.Add(ctx, 1, sh.s.m.resultAttr(t.Name, "gap"))
	sh.s.m.errors.Add(ctx, 1, sh.s.m.targetAttr(t.Name))
	sh.event(ctx, t, graphID, st.pos, "", msg)
	sh.s.log.Error("journal gap", "target", t.Name, "graph", graphID, "position", st.pos, "err", cause)
}

// put writes one segment, then HEAD. Write order is the crash-safety argument: HEAD
// names a position only once the segment reaching it is stored and checked; a crash
// between the two leaves a segment HEAD does not name yet, which the next pass
// writes again (possibly longer) and followers read past, as they skip batches
// they hold.
//
// The segment and HEAD name journal, the journal the batches come from. put
// returns the segment's stored size.
func (sh *shipper) put(ctx context.Context, b *blob.Bucket, st *shipState, graphID, journal string, batches []graph.Batch) (int64, error) {
	s := sh.s
	key, stored, err := encodeSegment(graphID, journal, batches)
	if err != nil {
		return 0, err
	}
	actx, cancel := context.WithTimeout(ctx, s.cfg.attempt)
	defer cancel()
	if err := b.Put(actx, key, stored); err != nil {
		return 0, fmt.Errorf("write journal segment: %w", err)
	}
	a, err := b.Stat(actx, key)
	if err != nil {
		return 0, fmt.Errorf("check journal segment: %w", err)
	}
	if a.Size != int64(len(stored)) {
		return 0, fmt.Errorf("%w: journal segment %s: %d bytes at the target, %d sent", ErrCorrupt, key, a.Size, len(stored))
	}
	last := batches[len(batches)-1]
	head := newHead(graphID, journal)
	head.Position, head.BatchTime, head.Segment = last.Seq, last.Time, key
	head.BaselineSnapshot, head.UpdatedAt = st.baseline, s.cfg.now().UTC()
	if err := writeHead(actx, b, &head); err != nil {
		return 0, err
	}
	sh.set(func() { st.pos, st.journal, st.batchTime, st.headMissed = last.Seq, journal, last.Time, false })
	return int64(len(stored)), nil
}

func writeHead(ctx context.Context, b *blob.Bucket, h *JournalHead) error {
	raw, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := b.Put(ctx, JournalHeadKey(h.GraphID), raw); err != nil {
		return fmt.Errorf("write journal HEAD: %w", err)
	}
	return nil
}

// baseline makes a snapshot the target can restart from: the newest completed one
// if it was taken from the graph's current journal and the journal still serves
// the batches after it, else a new one. It replicates it to the target, then
// writes HEAD at its journal and position. force takes a new snapshot whatever the
// newest one is (the graph restarted under the same id). Order matters: a follower
// that meets the jump in segment positions, or a HEAD of another journal, finds
// the snapshot already there.
func (sh *shipper) baseline(ctx context.Context, t *meta.Target, b *blob.Bucket, st *shipState, graphID string, g graph.Graph, j graph.Journal, force bool, run *shipRun) error {
	s := sh.s
	sh.flush(ctx, run) // the batches shipped before the restart are a run of their own
	newest, journal, err := graphMeta(ctx, g)
	if err != nil {
		return err
	}
	row, err := s.store.LatestSnapshot(ctx, graphID, meta.SnapshotCompleted)
	if err != nil && !errors.Is(err, meta.ErrNotFound) {
		return storeErr(err)
	}
	rowJournal, known := "", false
	if !force && row != nil {
		// A manifest that cannot be read rules the snapshot out.
		rowJournal, err = sh.snapshotJournal(ctx, row.ID)
		known = err == nil
	}
	if force || row == nil || !known || rowJournal != journal || uint64(row.JournalPos) > newest || !serves(ctx, j, uint64(row.JournalPos)) {
		if row, err = s.engine.Snapshot(ctx, graphID, g, backup.SnapshotOptions{Labels: map[string]string{"reason": "journal baseline"}}); err != nil {
			return fmt.Errorf("baseline snapshot: %w", err)
		}
		if rowJournal, err = sh.snapshotJournal(ctx, row.ID); err != nil {
			return err
		}
	}
	if rowJournal != journal {
		// The graph changed journals while the snapshot was taken: the next pass
		// starts again from the journal it is in then.
		return fmt.Errorf("%w: the graph's journal changed during the baseline snapshot %s", graph.ErrJournalGap, row.ID)
	}
	if _, err := s.Replicate(ctx, row.ID, ReplicateOptions{TargetID: t.ID}); err != nil {
		return fmt.Errorf("replicate baseline snapshot %s: %w", row.ID, err)
	}
	pos := uint64(row.JournalPos)
	head := newHead(graphID, journal)
	head.Position, head.BaselineSnapshot, head.BaselinePosition, head.UpdatedAt = pos, row.ID, pos, s.cfg.now().UTC()
	actx, cancel := context.WithTimeout(ctx, s.cfg.attempt)
	defer cancel()
	if err := writeHead(actx, b, &head); err != nil {
		return err
	}
	run.baseline, run.last = row.ID, pos
	sh.set(func() {
		st.pos, st.journal, st.batchTime, st.gap, st.baseline, st.headMissed = pos, journal, time.Time{}, false, row.ID, false
	})
	s.log.Info("journal shipping restarts from a baseline snapshot", "target", t.Name, "graph", graphID, "snapshot", row.ID, "position", pos)
	return nil
}

// snapshotJournal returns the journal a snapshot's position counts in, as its
// manifest records it.
func (sh *shipper) snapshotJournal(ctx context.Context, snapshotID string) (string, error) {
	m, err := sh.s.engine.Manifest(ctx, snapshotID)
	if err != nil {
		return "", fmt.Errorf("read the manifest of snapshot %s: %w", snapshotID, err)
	}
	return m.Journal, nil
}

// serves reports whether j still holds every batch after pos.
func serves(ctx context.Context, j graph.Journal, pos uint64) bool {
	for _, err := range j.Changes(ctx, pos) {
		return err == nil
	}
	return true
}

// collect reads the batches after pos, up to the segment bounds.
func collect(ctx context.Context, j graph.Journal, pos uint64) ([]graph.Batch, error) {
	var out []graph.Batch
	ops := 0
	for b, err := range j.Changes(ctx, pos) {
		if err != nil {
			return nil, err
		}
		if len(out) > 0 && (len(out) >= maxSegmentBatches || ops+len(b.Ops) > maxSegmentOps) {
			break
		}
		if want := pos + uint64(len(out)) + 1; b.Seq != want {
			return nil, fmt.Errorf("%w: journal yielded batch %d, want %d", graph.ErrJournalGap, b.Seq, want)
		}
		out = append(out, b)
		ops += len(b.Ops)
	}
	return out, nil
}

// graphMeta returns the graph's position and the journal it counts in.
func graphMeta(ctx context.Context, g graph.Reader) (uint64, string, error) {
	v, err := g.View(ctx)
	if err != nil {
		return 0, "", fmt.Errorf("open graph view: %w", err)
	}
	defer v.Close()
	m := v.Meta()
	return m.Position, m.Journal, nil
}

// JournalStatus returns where every target stands with every graph's journal,
// as far as this service has shipped since it started.
func (s *Service) JournalStatus() []JournalStatus {
	sh := s.ship
	if sh == nil {
		return nil
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	out := make([]JournalStatus, 0, len(sh.state))
	for k, st := range sh.state {
		out = append(out, JournalStatus{TargetID: k[0], TargetName: st.target, GraphID: k[1], Position: st.pos,
			LagSeconds: st.lag, NeedsBaseline: st.gap, Baseline: st.baseline, LastShip: st.lastShip, LastError: st.lastErr})
	}
	sortJournalStatus(out)
	return out
}

func sortJournalStatus(out []JournalStatus) {
	slices.SortFunc(out, func(a, b JournalStatus) int {
		return cmp.Or(cmp.Compare(a.TargetName, b.TargetName), cmp.Compare(a.GraphID, b.GraphID))
	})
}

// journalStatus fills the journal fields of a status row.
func (s *Service) journalStatus(st *Status) {
	sh := s.ship
	if sh == nil {
		return
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if js := sh.state[[2]string{st.TargetID, st.GraphID}]; js != nil {
		st.JournalShipped, st.JournalLagSeconds, st.JournalGap, st.JournalError = js.pos, js.lag, js.gap, js.lastErr
	}
}
