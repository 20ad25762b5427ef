package backup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/graphvault/graphvault/store/graph"
)

// errNoJournalDelta says the journal cannot name the changes since the parent; the
// caller compares the whole view with the parent instead.
var errNoJournalDelta = errors.New("backup: journal cannot name the changes")

// journalDelta writes the layer of an incremental snapshot from the graph's journal:
// only the records that batches after the parent's position touched are read (from
// the view, by key) and written, a put for each one the view has and a tombstone
// for each one it has not, so the cost follows what changed rather than the size of
// the graph. The parent chain is not read: the view counts its nodes and edges.
//
// It applies only when the parent was taken from the same journal (Meta.Journal)
// at a position the journal still holds, and the view can read single records
// (graph.Getter) and count them (graph.Counter). A reset, or a node deletion
// (whose edges go with it without their own operations), makes it give up with
// errNoJournalDelta before anything is written; so does a journal that cannot
// reach the view's position.
//
// With next and the parent's live records (cached), *next is set to the view's,
// and a touched key the parent holds as the view does now (the same value
// written again, a record added then removed) is not written.
func (e *Engine) journalDelta(ctx context.Context, r graph.Reader, view graph.View, parent *Manifest, lw *layerWriter, cached []liveEntry, next *[]liveEntry) (*keyList, scanCounts, error) {
	meta := view.Meta()
	j, ok := r.(graph.Journal)
	get, ok2 := view.(graph.Getter)
	counter, ok3 := view.(graph.Counter)
	if !ok || !ok2 || !ok3 || meta.Journal == "" || parent.Journal != meta.Journal || parent.Position > meta.Position {
		return nil, scanCounts{}, errNoJournalDelta
	}
	nodes, edges, err := touched(ctx, j, parent.Position, meta.Position, meta.Directed)
	if err != nil {
		return nil, scanCounts{}, err
	}
	report(lw.progress, Progress{Phase: "journal", Records: int64(len(nodes) + len(edges))})
	nv, ok := view.(graph.Normalized)
	normal := ok && nv.Normalized()

	entries := &keyList{}
	var c scanCounts
	var change *liveChange
	if next != nil && cached != nil {
		change = newLiveChange(cached)
	}
	c.nodes, c.edges = counter.Counts()
	// put records the state of one touched key: a put when the view has it, a
	// tombstone when it has not (which hides nothing if the parent had not either).
	// With the parent's live records at hand, a key left as the parent had it (the
	// same value written again, or a record added and removed) is not written.
	put := func(present bool, key []byte, value []byte) error {
		kh := hashKeyBytes(key)
		if change != nil {
			var rh uint64
			if present {
				rh = hashValue(value)
			}
			if !change.apply(kh, present, rh) {
				return nil
			}
		}
		entries.add(kh, !present)
		if present {
			return lw.add(key, kh, value)
		}
		return lw.addTombstone(kh)
	}

	var kbuf, vbuf []byte
	if err := lw.begin(kindNode); err != nil {
		return nil, c, err
	}
	for _, id := range nodes {
		n, present, err := get.Node(ctx, id)
		if err != nil {
			return nil, c, fmt.Errorf("backup: read node %q: %w", id, err)
		}
		if present {
			if kbuf, vbuf, err = encodeNode(kbuf, vbuf, n, normal); err != nil {
				return nil, c, fmt.Errorf("backup: node %q: %w", n.ID, err)
			}
		} else {
			kbuf = graph.AppendNodeKey(kbuf[:0], id)
		}
		if err := put(present, kbuf, vbuf); err != nil {
			return nil, c, err
		}
	}
	if err := lw.begin(kindEdge); err != nil {
		return nil, c, err
	}
	for _, k := range edges {
		ed, present, err := get.Edge(ctx, k.source, k.target, k.typ)
		if err != nil {
			return nil, c, fmt.Errorf("backup: read edge %q-%q: %w", k.source, k.target, err)
		}
		if !present {
			ed = graph.Edge{Source: k.source, Target: k.target, Type: k.typ}
		}
		if kbuf, vbuf, err = encodeEdge(kbuf, vbuf, ed, meta.Directed, normal); err != nil {
			return nil, c, fmt.Errorf("backup: edge %q-%q: %w", ed.Source, ed.Target, err)
		}
		if err := put(present, kbuf, vbuf); err != nil {
			return nil, c, err
		}
	}
	if change != nil {
		*next = change.result()
	}
	return entries, c, ctx.Err()
}

// edgeKey is an edge's identity with its ends in key order.
type edgeKey struct{ source, target, typ string }

// touched reads the batches after `after` up to `upTo` and returns the node ids and
// edge keys their operations name, sorted and without repeats.
func touched(ctx context.Context, j graph.Journal, after, upTo uint64, directed bool) ([]string, []edgeKey, error) {
	nodes := map[string]struct{}{}
	edges := map[edgeKey]struct{}{}
	next := after + 1
	for b, err := range j.Changes(ctx, after) {
		if err != nil {
			if errors.Is(err, graph.ErrJournalGap) {
				return nil, nil, errNoJournalDelta
			}
			return nil, nil, fmt.Errorf("backup: read journal: %w", err)
		}
		if b.Seq > upTo {
			break
		}
		if b.Seq != next {
			return nil, nil, errNoJournalDelta
		}
		next++
		for _, op := range b.Ops {
			switch op.Kind {
			case graph.OpUpsertNode:
				nodes[op.Node.ID] = struct{}{}
			case graph.OpUpsertEdge, graph.OpDeleteEdge:
				k := edgeKey{op.Edge.Source, op.Edge.Target, op.Edge.Type}
				if !directed && k.target < k.source {
					k.source, k.target = k.target, k.source
				}
				edges[k] = struct{}{}
			default: // a reset or a node deletion changes records it does not name
				return nil, nil, errNoJournalDelta
			}
		}
	}
	if next != upTo+1 {
		return nil, nil, errNoJournalDelta
	}
	ids := make([]string, 0, len(nodes))
	for id := range nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	keys := make([]edgeKey, 0, len(edges))
	for k := range edges {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b edgeKey) int {
		if c := strings.Compare(a.source, b.source); c != 0 {
			return c
		}
		if c := strings.Compare(a.target, b.target); c != 0 {
			return c
		}
		return strings.Compare(a.typ, b.typ)
	})
	return ids, keys, nil
}
