package graphtest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
)

// readJournal reads every batch Changes(after) yields.
func readJournal(ctx context.Context, j graph.Journal, after uint64) ([]graph.Batch, error) {
	var out []graph.Batch
	for b, err := range j.Changes(ctx, after) {
		if err != nil {
			return out, err
		}
		out = append(out, b)
	}
	return out, nil
}

// replay applies the batches after `after` up to position upTo to w.
func replay(ctx context.Context, j graph.Journal, after, upTo uint64, w graph.Writer) error {
	for b, err := range j.Changes(ctx, after) {
		if err != nil {
			return err
		}
		if b.Seq > upTo {
			break
		}
		if err := w.Apply(ctx, b.Ops); err != nil {
			return fmt.Errorf("apply batch %d: %w", b.Seq, err)
		}
	}
	return nil
}

// diffOps describes the first difference between two lists of normalized ops.
func diffOps(want, got []graph.Op, directed bool) string {
	if len(want) != len(got) {
		return fmt.Sprintf("%d ops, want %d: got %s", len(got), len(want), opsString(got))
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.Kind != g.Kind {
			return fmt.Sprintf("op %d: kind %s, want %s", i, g.Kind, w.Kind)
		}
		switch w.Kind {
		case graph.OpUpsertNode, graph.OpDeleteNode:
			if w.Node.ID != g.Node.ID {
				return fmt.Sprintf("op %d: node %q, want %q", i, g.Node.ID, w.Node.ID)
			}
			if w.Kind == graph.OpUpsertNode {
				if d := diffNode(w.Node, g.Node); d != "" {
					return fmt.Sprintf("op %d: node %q: %s", i, w.Node.ID, d)
				}
			}
		case graph.OpUpsertEdge, graph.OpDeleteEdge:
			if w.Edge.Key(directed) != g.Edge.Key(directed) {
				return fmt.Sprintf("op %d: edge (%q, %q, %q), want (%q, %q, %q)", i,
					g.Edge.Source, g.Edge.Target, g.Edge.Type, w.Edge.Source, w.Edge.Target, w.Edge.Type)
			}
			if w.Kind == graph.OpUpsertEdge {
				if d := diffProps(w.Edge.Props, g.Edge.Props); d != "" {
					return fmt.Sprintf("op %d: edge (%q, %q, %q): %s", i, w.Edge.Source, w.Edge.Target, w.Edge.Type, d)
				}
			}
		}
	}
	return ""
}

// journalBatches is a workload with its batches in normalized form.
func journalBatches() [][]graph.Op {
	return [][]graph.Op{
		{upsertNode("a", map[string]any{"v": int64(1)}, "L"), upsertNode("b", nil)},
		{upsertEdge("a", "b", "t", map[string]any{"w": 1.0})},
		{upsertNode("c", map[string]any{"list": []any{"x", int64(2)}}), upsertEdge("c", "a", "", nil)},
		{deleteNode("a")},
		{upsertNode("a", nil), deleteEdge("c", "a", ""), upsertEdge("b", "a", "u", nil)},
	}
}

func (s *suite) testJournalPositions(t *testing.T) {
	g := s.new(t)
	j := s.journal(t, g)
	if got, err := readJournal(t.Context(), j, 0); err != nil || len(got) != 0 {
		t.Fatalf("Changes(0) on a new graph = %d batches, %v; want none", len(got), err)
	}
	batches := journalBatches()
	for i, ops := range batches {
		s.apply(t, g, ops...)
		if got, want := position(t, g), uint64(i+1); got != want {
			t.Fatalf("position after batch %d = %d, want %d", i+1, got, want)
		}
		if err := g.Apply(t.Context(), []graph.Op{upsertEdge("a", "missing", "", nil)}); err == nil {
			t.Fatal("Apply of an edge to a missing node succeeded")
		}
		if got, want := position(t, g), uint64(i+1); got != want {
			t.Fatalf("position after a failed batch = %d, want %d", got, want)
		}
	}
	got, err := readJournal(t.Context(), j, 0)
	if err != nil {
		t.Fatalf("Changes(0): %v", err)
	}
	if len(got) != len(batches) {
		t.Fatalf("Changes(0) yielded %d batches, want %d", len(got), len(batches))
	}
	for i, b := range got {
		if b.Seq != uint64(i+1) {
			t.Errorf("batch %d has Seq %d, want %d", i, b.Seq, i+1)
		}
		if b.Time.IsZero() {
			t.Errorf("batch %d has no time", b.Seq)
		}
		if i > 0 && b.Time.Before(got[i-1].Time) {
			t.Errorf("batch %d time %v is before batch %d time %v", b.Seq, b.Time, got[i-1].Seq, got[i-1].Time)
		}
		if d := diffOps(batches[i], b.Ops, s.directed); d != "" {
			t.Errorf("batch %d: %s", b.Seq, d)
		}
	}
}

func (s *suite) testJournalChangesAfter(t *testing.T) {
	g := s.new(t)
	j := s.journal(t, g)
	batches := journalBatches()
	for _, ops := range batches {
		s.apply(t, g, ops...)
	}
	n := uint64(len(batches))
	for after := range n + 3 {
		t.Run(fmt.Sprint(after), func(t *testing.T) {
			got, err := readJournal(t.Context(), j, after)
			if err != nil {
				t.Fatalf("Changes(%d): %v", after, err)
			}
			want := int(max(int64(n)-int64(after), 0))
			if len(got) != want {
				t.Fatalf("Changes(%d) yielded %d batches, want %d", after, len(got), want)
			}
			for i, b := range got {
				if b.Seq != after+uint64(i)+1 {
					t.Errorf("Changes(%d) batch %d has Seq %d, want %d", after, i, b.Seq, after+uint64(i)+1)
				}
			}
			// Stopping early works and yields the first batch.
			for b, err := range j.Changes(t.Context(), after) {
				if err != nil {
					t.Fatal(err)
				}
				if b.Seq != after+1 {
					t.Errorf("first batch of Changes(%d) has Seq %d", after, b.Seq)
				}
				break
			}
		})
	}
}

// testJournalConcurrentWriters runs 32 writers and a journal reader at once; the
// journal must be gap-free, in order, and keep each writer's own order.
func (s *suite) testJournalConcurrentWriters(t *testing.T) {
	const writers, perWriter = 32, 12
	const total = writers * perWriter
	g := s.new(t)
	j := s.journal(t, g)
	ctx := t.Context()

	var writersWG, wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for w := range writers {
		writersWG.Go(func() {
			for i := range perWriter {
				op := upsertNode(fmt.Sprintf("w%d-%d", w, i), map[string]any{"w": int64(w), "i": int64(i)})
				if err := g.Apply(ctx, []graph.Op{op}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	writersDone := make(chan struct{})
	go func() {
		writersWG.Wait()
		close(writersDone)
	}()
	// A follower reads the journal while it grows and must see no gap.
	wg.Go(func() {
		var last uint64
		for last < total {
			finished := false
			select {
			case <-writersDone:
				finished = true // this pass sees every batch
			default:
			}
			for b, err := range j.Changes(ctx, last) {
				if err != nil {
					errs <- err
					return
				}
				if b.Seq != last+1 {
					errs <- fmt.Errorf("follower: batch %d after %d", b.Seq, last)
					return
				}
				last = b.Seq
			}
			if finished {
				if last != total {
					errs <- fmt.Errorf("follower: read up to %d, want %d", last, total)
				}
				return
			}
		}
	})
	wg.Wait()
	<-writersDone
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	got, err := readJournal(ctx, j, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != total {
		t.Fatalf("journal has %d batches, want %d", len(got), total)
	}
	next := make([]int64, writers)
	for i, b := range got {
		if b.Seq != uint64(i+1) {
			t.Fatalf("batch %d has Seq %d, want %d", i, b.Seq, i+1)
		}
		if len(b.Ops) != 1 {
			t.Fatalf("batch %d has %d ops, want 1", b.Seq, len(b.Ops))
		}
		w, _ := b.Ops[0].Node.Props["w"].(int64)
		k, _ := b.Ops[0].Node.Props["i"].(int64)
		if w < 0 || w >= writers || k != next[w] {
			t.Fatalf("batch %d is write %d of writer %d, want write %d", b.Seq, k, w, next[w])
		}
		next[w]++
	}
	if p := position(t, g); p != total {
		t.Errorf("position = %d, want %d", p, total)
	}
}

// testJournalReplay replays the journal into a new graph, up to every position,
// and compares with the views taken at those positions.
func (s *suite) testJournalReplay(t *testing.T) {
	g := s.new(t)
	j := s.journal(t, g)
	var seen []Content // seen[p] is the content at position p
	record := func() {
		c, err := Read(t.Context(), g)
		if err != nil {
			t.Fatal(err)
		}
		if c.Meta.Position != uint64(len(seen)) {
			t.Fatalf("position %d, want %d", c.Meta.Position, len(seen))
		}
		seen = append(seen, c)
	}
	record()
	for _, ops := range journalBatches()[:3] {
		s.apply(t, g, ops...)
		record()
	}
	s.replace(t, g, s.sample())
	record()
	s.apply(t, g, deleteNode("alice"), upsertNode("x", map[string]any{"f": 1.0}), upsertEdge("x", "a", "", nil))
	record()
	s.apply(t, g, graph.Op{Kind: graph.OpReset}, upsertNode("only", nil))
	record()
	s.apply(t, g, upsertEdge("only", "only", "loop", map[string]any{"n": []any{int64(1)}}))
	record()

	for upTo := range uint64(len(seen)) {
		fresh := s.newGraph(t, s.directed)
		if err := replay(t.Context(), j, 0, upTo, fresh); err != nil {
			t.Fatalf("replay to %d: %v", upTo, err)
		}
		got, err := Read(t.Context(), fresh)
		if err != nil {
			t.Fatal(err)
		}
		if d := DiffContent(seen[upTo], got); d != "" {
			t.Errorf("journal replayed to %d: %s", upTo, d)
		}
	}
}

func (s *suite) testJournalReplaceBatch(t *testing.T) {
	g := s.new(t)
	j := s.journal(t, g)
	s.apply(t, g, upsertNode("old", nil))
	s.replace(t, g, s.sample())
	got, err := readJournal(t.Context(), j, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Seq != 2 {
		t.Fatalf("Replace journaled %d batches, want one with Seq 2", len(got))
	}
	ops := got[0].Ops
	nodes, edges := sample()
	if len(ops) != 1+len(nodes)+len(edges) {
		t.Fatalf("Replace batch has %d ops, want %d (reset, %d nodes, %d edges)", len(ops), 1+len(nodes)+len(edges), len(nodes), len(edges))
	}
	if ops[0].Kind != graph.OpReset {
		t.Errorf("Replace batch starts with %s, want reset", ops[0].Kind)
	}
	var c Content
	c.Meta = s.meta()
	for i, op := range ops[1:] {
		switch op.Kind {
		case graph.OpUpsertNode:
			if len(c.Edges) > 0 {
				t.Errorf("op %d upserts node %q after an edge; nodes must come first", i+1, op.Node.ID)
			}
			c.Nodes = append(c.Nodes, op.Node)
		case graph.OpUpsertEdge:
			c.Edges = append(c.Edges, op.Edge)
		default:
			t.Errorf("op %d is %s, want only upserts after the reset", i+1, op.Kind)
		}
	}
	if d := DiffContent(s.sample(), c); d != "" {
		t.Errorf("Replace batch content: %s", d)
	}
}
