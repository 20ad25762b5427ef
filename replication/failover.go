package replication

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/meta"
)

// PrimarySource names the engine's own bucket among failover sources.
const PrimarySource = "primary"

// FailoverOptions tune a failover. The zero value considers the primary bucket and
// every enabled target and replays journal tails.
type FailoverOptions struct {
	// NoJournal restores the snapshot alone, without replaying journal segments.
	NoJournal bool
	// EncryptionKey opens encrypted snapshots (the engine's master key).
	EncryptionKey []byte
}

// FailoverSource is what a failover found at one source.
type FailoverSource struct {
	Name       string `json:"name"` // PrimarySource or the target's name
	TargetID   string `json:"target_id,omitempty"`
	SnapshotID string `json:"snapshot_id,omitempty"` // the newest snapshot considered there
	// Position is the snapshot's journal position; JournalPosition how far the
	// segments at the source continue it without a gap (equal when there are none).
	Position        uint64 `json:"position"`
	JournalPosition uint64 `json:"journal_position"`
	Used            bool   `json:"used"`
	// Reason says why the source was used, or why it was not.
	Reason string `json:"reason"`
}

// FailoverResult says what a failover restored and from where.
type FailoverResult struct {
	GraphID    string `json:"graph_id"`
	Source     string `json:"source"`
	SnapshotID string `json:"snapshot_id"`
	// Position is where the restored graph stands: the snapshot's position plus the
	// journal batches replayed.
	Position        uint64           `json:"position"`
	BatchesReplayed int              `json:"batches_replayed"`
	Nodes           int64            `json:"nodes"`
	Edges           int64            `json:"edges"`
	Reason          string           `json:"reason"`
	Sources         []FailoverSource `json:"sources"`
	Duration        time.Duration    `json:"duration_ns"`
}

// candidate is one snapshot at one source.
type candidate struct {
	src      int // index in sources
	engine   *backup.Engine
	bucket   *blob.Bucket
	snapshot string
	pos      uint64
	tail     uint64
	segs     []SegmentInfo
	created  time.Time // when the snapshot committed (its manifest's time)
	// journal names the journal pos counts in ("" when the manifest does not say);
	// epoch is the newest commit among the candidates of that journal (of this
	// candidate alone when journal is "").
	journal string
	epoch   time.Time
}

// Failover restores graphID into w from the freshest healthy source among the
// primary bucket and every enabled target. Freshness is the newest position a
// source can reach: its newest snapshot's position, continued by the journal
// segments it holds after it without a gap. Positions are compared only within
// one journal ([graph.Meta].Journal, recorded in each manifest): a graph that
// restarted counts in a new journal, and the newest state is the last committed
// one, so the journal whose newest snapshot committed last comes first, whatever
// the positions of older journals; a snapshot is continued only by the segments
// of its own journal (see [Chain]). The chosen snapshot is fully verified
// (every object read and hash-checked, every record decoded) and its journal tail
// read and checked before anything is written; a source whose snapshot is missing
// or corrupt is passed over for the next freshest. w is written only once: restore
// (w.Replace), then the tail's batches (w.Apply). When no source has a verified
// snapshot, nothing is written and the error wraps ErrNotFound (no snapshot
// anywhere) or ErrCorrupt. The result lists every source and why it was used or not.
func (s *Service) Failover(ctx context.Context, graphID string, w graph.Writer, opts FailoverOptions) (*FailoverResult, error) {
	start := time.Now()
	if !backup.ValidGraphID(graphID) {
		return nil, fmt.Errorf("%w: graph id %q", ErrInvalid, graphID)
	}
	if w == nil {
		return nil, fmt.Errorf("%w: nil graph writer", ErrInvalid)
	}
	if s.closed.Load() {
		return nil, ErrClosed
	}
	res := &FailoverResult{GraphID: graphID}
	type src struct {
		name, id string
		bucket   *blob.Bucket
	}
	sources := []src{{name: PrimarySource, bucket: s.src}}
	targets, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range targets {
		if !t.Enabled {
			res.Sources = append(res.Sources, FailoverSource{Name: t.Name, TargetID: t.ID, Reason: "target disabled"})
			continue
		}
		b, err := s.bucketFor(ctx, &t)
		if err != nil {
			res.Sources = append(res.Sources, FailoverSource{Name: t.Name, TargetID: t.ID, Reason: "unreachable: " + scrub(err, t.Secret).Error()})
			continue
		}
		sources = append(sources, src{name: t.Name, id: t.ID, bucket: b})
	}
	found := make([]FailoverSource, len(sources))
	var cands []*candidate
	var cleanup []func()
	defer func() {
		for _, f := range cleanup {
			f()
		}
	}()
	for i, sc := range sources {
		found[i] = FailoverSource{Name: sc.name, TargetID: sc.id}
		e, closeFn, err := s.sourceEngine(ctx, sc.bucket, opts)
		if err != nil {
			found[i].Reason = "cannot read: " + err.Error()
			continue
		}
		cleanup = append(cleanup, closeFn)
		cs, err := s.candidates(ctx, e, sc.bucket, graphID, opts)
		if err != nil {
			found[i].Reason = "cannot read: " + err.Error()
			continue
		}
		if len(cs) == 0 {
			found[i].Reason = "no snapshot of the graph"
			continue
		}
		for _, c := range cs {
			c.src = i
		}
		cands = append(cands, cs...)
	}
	orderFreshest(cands)
	best := make([]*candidate, len(sources)) // each source's freshest
	for i := len(cands) - 1; i >= 0; i-- {
		c := cands[i]
		best[c.src] = c
		found[c.src].SnapshotID, found[c.src].Position, found[c.src].JournalPosition = c.snapshot, c.pos, c.tail
	}
	var chosen *candidate
	var batches []graph.Batch
	for _, c := range cands {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		rep, err := c.engine.Verify(ctx, c.snapshot, true)
		if err == nil && !rep.OK {
			err = rep.Err()
		}
		if err != nil {
			s.note(&found[c.src], c, "snapshot "+c.snapshot+" failed verification: "+err.Error())
			s.log.Warn("failover: snapshot failed verification", "source", found[c.src].Name, "graph", graphID, "snapshot", c.snapshot, "err", err)
			continue
		}
		var tailNote string
		batches, tailNote = readTail(ctx, c)
		chosen = c
		why := fmt.Sprintf("freshest verified source: snapshot %s at position %d", c.snapshot, c.pos)
		if len(batches) > 0 {
			why += fmt.Sprintf(", journal replayed to %d", batches[len(batches)-1].Seq)
		}
		if tailNote != "" {
			why += " (" + tailNote + ")"
		}
		found[c.src].Used, found[c.src].Reason = true, why
		found[c.src].SnapshotID, found[c.src].Position, found[c.src].JournalPosition = c.snapshot, c.pos, c.tail
		res.Reason = why
		break
	}
	for i := range found {
		if !found[i].Used && found[i].Reason == "" {
			switch {
			case chosen != nil && best[i] != nil && (best[i].journal != chosen.journal || best[i].journal == "" && best[i].snapshot != chosen.snapshot):
				found[i].Reason = fmt.Sprintf("less fresh (its newest snapshot %s was committed before the chosen one, in a journal whose positions are not compared with the chosen one's)", best[i].snapshot)
			case chosen != nil:
				found[i].Reason = fmt.Sprintf("less fresh (reaches position %d, the chosen source %d)", found[i].JournalPosition, chosen.tail)
			default:
				found[i].Reason = "not used"
			}
		}
	}
	res.Sources = append(found, res.Sources...)
	if chosen == nil {
		res.Duration = time.Since(start)
		if len(cands) == 0 {
			return res, fmt.Errorf("%w: no source holds a snapshot of graph %s", ErrNotFound, graphID)
		}
		return res, fmt.Errorf("%w: no source holds a snapshot of graph %s that passes verification", ErrCorrupt, graphID)
	}
	rr, err := chosen.engine.Restore(ctx, chosen.snapshot, w, backup.RestoreOptions{})
	if err != nil {
		return res, fmt.Errorf("replication: failover: restore from %s: %w", found[chosen.src].Name, err)
	}
	res.Source, res.SnapshotID, res.Position, res.Nodes, res.Edges = found[chosen.src].Name, chosen.snapshot, chosen.pos, rr.Nodes, rr.Edges
	for _, b := range batches {
		if err := w.Apply(ctx, b.Ops); err != nil {
			res.Duration = time.Since(start)
			return res, fmt.Errorf("replication: failover: replay batch %d: %w", b.Seq, err)
		}
		res.Position = b.Seq
		res.BatchesReplayed++
	}
	res.Duration = time.Since(start)
	s.log.Info("failover restored graph", "graph", graphID, "source", res.Source, "snapshot", res.SnapshotID,
		"position", res.Position, "batches", res.BatchesReplayed)
	return res, nil
}

// note records why a candidate was rejected, keeping the first reason of a source.
func (s *Service) note(f *FailoverSource, c *candidate, why string) {
	if f.Reason == "" {
		f.Reason = why
	} else if !strings.Contains(f.Reason, c.snapshot) {
		f.Reason += "; " + why
	}
}

// sourceEngine is a backup engine over a source's bucket with its own in-memory
// metadata, rebuilt from the manifests there; the source's bucket is not closed.
func (s *Service) sourceEngine(ctx context.Context, b *blob.Bucket, opts FailoverOptions) (*backup.Engine, func(), error) {
	st, err := meta.Open(ctx, ":memory:")
	if err != nil {
		return nil, nil, err
	}
	eopts := []backup.Option{backup.WithLogger(slog.New(slog.DiscardHandler)), backup.WithMeterProvider(s.cfg.meter)}
	if opts.EncryptionKey != nil {
		eopts = append(eopts, backup.WithEncryptionKey(opts.EncryptionKey))
	}
	e, err := backup.New(st, b, eopts...)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	if _, _, err := e.Reindex(ctx); err != nil {
		st.Close()
		return nil, nil, err
	}
	return e, func() { st.Close() }, nil
}

// candidates lists a source's completed snapshots of the graph, newest first, each
// with the position its journal tail reaches.
func (s *Service) candidates(ctx context.Context, e *backup.Engine, b *blob.Bucket, graphID string, opts FailoverOptions) ([]*candidate, error) {
	var rows []meta.Snapshot
	cursor := ""
	for {
		page, next, err := e.Store().ListSnapshots(ctx, meta.SnapshotFilter{GraphID: graphID, Status: meta.SnapshotCompleted, Cursor: cursor, Limit: 1000})
		if err != nil {
			return nil, err
		}
		rows = append(rows, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	var segs []SegmentInfo
	if !opts.NoJournal {
		var err error
		if segs, err = ListSegments(ctx, b, graphID, 0); err != nil {
			return nil, fmt.Errorf("list journal: %w", err)
		}
	}
	out := make([]*candidate, 0, len(rows))
	for _, r := range rows {
		c := &candidate{engine: e, bucket: b, snapshot: r.ID, pos: uint64(r.JournalPos), created: r.FinishedAt}
		// A manifest that cannot be read leaves the journal unknown: verification
		// turns the candidate down later, naming the damage.
		if m, err := e.Manifest(ctx, r.ID); err == nil {
			c.journal = m.Journal
		} else if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c.tail, c.segs = Chain(segs, c.journal, c.pos)
		out = append(out, c)
	}
	return out, nil
}

// orderFreshest sorts candidates freshest first. Positions count in a journal,
// and positions of different journals are unrelated (a restarted graph counts in a
// new one), so candidates are grouped by journal and the groups ordered by their
// newest commit: the newest state is the one committed last. Within a journal the
// candidate reaching the higher position comes first, then the one at the higher
// snapshot position, the primary, the later commit. A candidate whose journal is
// unknown is a group of its own.
func orderFreshest(cands []*candidate) {
	epochs := map[string]time.Time{}
	for _, c := range cands {
		if c.journal != "" && c.created.After(epochs[c.journal]) {
			epochs[c.journal] = c.created
		}
	}
	for _, c := range cands {
		c.epoch = c.created
		if c.journal != "" {
			c.epoch = epochs[c.journal]
		}
	}
	slices.SortStableFunc(cands, func(a, b *candidate) int {
		return cmp.Or(b.epoch.Compare(a.epoch), cmp.Compare(b.journal, a.journal),
			cmp.Compare(b.tail, a.tail), cmp.Compare(b.pos, a.pos), cmp.Compare(a.src, b.src),
			b.created.Compare(a.created), cmp.Compare(b.snapshot, a.snapshot))
	})
}

// Chain picks from segs (in key order) the segments of the journal named journal
// that continue position pos of that journal without a gap, and returns the
// position they reach. Segments of other journals are left out whatever their
// positions (see [SegmentInfo.InJournal]): a snapshot is continued only by its
// own journal, the one its manifest names. Overlapping segments are allowed.
func Chain(segs []SegmentInfo, journal string, pos uint64) (reach uint64, chain []SegmentInfo) {
	reach = pos
	tag := JournalTag(journal)
	for _, sg := range segs {
		if sg.JournalTag != tag || sg.Last <= reach {
			continue
		}
		if sg.First > reach+1 {
			break
		}
		chain = append(chain, sg)
		reach = sg.Last
	}
	return reach, chain
}

// readTail reads and checks the candidate's journal tail before anything is
// written. A damaged segment ends the tail there; the note says so.
func readTail(ctx context.Context, c *candidate) ([]graph.Batch, string) {
	var out []graph.Batch
	cur := c.pos
	for _, sg := range c.segs {
		bs, err := ReadSegment(ctx, c.bucket, sg)
		if err != nil {
			c.tail = cur
			return out, fmt.Sprintf("journal stops at %d: %v", cur, err)
		}
		for _, b := range bs {
			if b.Seq == cur+1 {
				out = append(out, b)
				cur = b.Seq
			}
		}
	}
	c.tail = cur
	return out, ""
}
