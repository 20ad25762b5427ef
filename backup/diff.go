package backup

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/graphvault/graphvault/store/graph"
)

// DiffOptions bound a Diff. Limit caps the detailed changes listed (the counts are
// always complete); 0 means 1000.
type DiffOptions struct {
	Limit int
}

// Change kinds.
const (
	Added   = "added"
	Removed = "removed"
	Changed = "changed"
)

// PropChange is one property that differs.
type PropChange struct {
	Name   string `json:"name"`
	Change string `json:"change"`
	Before any    `json:"before,omitempty"`
	After  any    `json:"after,omitempty"`
}

// NodeChange is a node that differs between two snapshots.
type NodeChange struct {
	ID            string       `json:"id"`
	Change        string       `json:"change"`
	LabelsBefore  []string     `json:"labels_before,omitempty"`
	LabelsAfter   []string     `json:"labels_after,omitempty"`
	LabelsChanged bool         `json:"labels_changed,omitempty"`
	Props         []PropChange `json:"props,omitempty"`
}

// EdgeChange is an edge that differs between two snapshots.
type EdgeChange struct {
	Source string       `json:"source"`
	Target string       `json:"target"`
	Type   string       `json:"type,omitempty"`
	Change string       `json:"change"`
	Props  []PropChange `json:"props,omitempty"`
}

// DiffCounts counts changes by kind.
type DiffCounts struct {
	Added   int64 `json:"added"`
	Removed int64 `json:"removed"`
	Changed int64 `json:"changed"`
}

// Diff lists what changed from one snapshot to another.
type Diff struct {
	From      string       `json:"from"`
	To        string       `json:"to"`
	Nodes     DiffCounts   `json:"nodes"`
	Edges     DiffCounts   `json:"edges"`
	NodeDiffs []NodeChange `json:"node_changes"`
	EdgeDiffs []EdgeChange `json:"edge_changes"`
	Truncated bool         `json:"truncated"`
}

// Diff compares snapshot a (before) with snapshot b (after): the nodes and edges
// added, removed and changed, and for each changed one the properties that differ.
// It compares record fingerprints first and decodes only the records that differ.
func (e *Engine) Diff(ctx context.Context, a, b string, opts DiffOptions) (*Diff, error) {
	limit := opts.Limit
	if limit == 0 {
		limit = 1000
	}
	if limit < 0 || limit > 100000 {
		return nil, fmt.Errorf("%w: diff limit must be between 1 and 100000", ErrInvalid)
	}
	ma, err := e.Manifest(ctx, a)
	if err != nil {
		return nil, err
	}
	mb, err := e.Manifest(ctx, b)
	if err != nil {
		return nil, err
	}
	la, err := e.liveIndex(ctx, ma)
	if err != nil {
		return nil, err
	}
	lb, err := e.liveIndex(ctx, mb)
	if err != nil {
		return nil, err
	}
	d := &Diff{From: a, To: b, NodeDiffs: []NodeChange{}, EdgeDiffs: []EdgeChange{}}
	// want maps a differing key hash to its change kind, for the first `limit` of them.
	want := map[keyHash]string{}
	note := func(kh keyHash, change string) {
		c := &d.Nodes
		if kh.isEdge() {
			c = &d.Edges
		}
		switch change {
		case Added:
			c.Added++
		case Removed:
			c.Removed++
		default:
			c.Changed++
		}
		if len(want) < limit {
			want[kh] = change
		} else {
			d.Truncated = true
		}
	}
	i, j := 0, 0
	for i < len(la) || j < len(lb) {
		switch {
		case j == len(lb) || (i < len(la) && la[i].kh.compare(lb[j].kh) < 0):
			note(la[i].kh, Removed)
			i++
		case i == len(la) || la[i].kh.compare(lb[j].kh) > 0:
			note(lb[j].kh, Added)
			j++
		default:
			if la[i].rh != lb[j].rh {
				note(la[i].kh, Changed)
			}
			i++
			j++
		}
	}
	la, lb = nil, nil
	before, err := e.pickRecords(ctx, ma, want, Added)
	if err != nil {
		return nil, err
	}
	after, err := e.pickRecords(ctx, mb, want, Removed)
	if err != nil {
		return nil, err
	}
	for kh, change := range want {
		x, y := before[kh], after[kh]
		if kh.isEdge() {
			ref := y.edge
			if change == Removed {
				ref = x.edge
			}
			d.EdgeDiffs = append(d.EdgeDiffs, EdgeChange{
				Source: ref.Source, Target: ref.Target, Type: ref.Type, Change: change,
				Props: diffProps(x.edge.Props, y.edge.Props),
			})
			continue
		}
		ref := y.node
		if change == Removed {
			ref = x.node
		}
		nc := NodeChange{ID: ref.ID, Change: change, Props: diffProps(x.node.Props, y.node.Props)}
		if !slices.Equal(x.node.Labels, y.node.Labels) {
			nc.LabelsBefore, nc.LabelsAfter, nc.LabelsChanged = x.node.Labels, y.node.Labels, true
		}
		d.NodeDiffs = append(d.NodeDiffs, nc)
	}
	slices.SortFunc(d.NodeDiffs, func(p, q NodeChange) int { return strings.Compare(p.ID, q.ID) })
	slices.SortFunc(d.EdgeDiffs, func(p, q EdgeChange) int {
		return strings.Compare(p.Source+"\x00"+p.Target+"\x00"+p.Type, q.Source+"\x00"+q.Target+"\x00"+q.Type)
	})
	return d, nil
}

type pickedRecord struct {
	node graph.Node
	edge graph.Edge
}

// pickRecords decodes the records of m whose key hash is in want, except those
// whose change is skip (they cannot be in m).
func (e *Engine) pickRecords(ctx context.Context, m *Manifest, want map[keyHash]string, skip string) (map[keyHash]pickedRecord, error) {
	out := map[keyHash]pickedRecord{}
	keys, err := e.layerKeys(ctx, m)
	if err != nil {
		return nil, err
	}
	for _, kind := range []byte{kindNode, kindEdge} {
		err := e.mergedRecords(ctx, m, keys, kind, func(r segmentRecord) error {
			change, ok := want[r.kh]
			if !ok || change == skip {
				return nil
			}
			var p pickedRecord
			var err error
			if kind == kindNode {
				p.node, err = decodeNodeRecord(r)
			} else {
				p.edge, err = decodeEdgeRecord(r)
			}
			if err != nil {
				return err
			}
			out[r.kh] = p
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// diffProps lists the properties that differ between two maps, sorted by name.
func diffProps(before, after map[string]any) []PropChange {
	var out []PropChange
	for k, v := range before {
		w, ok := after[k]
		switch {
		case !ok:
			out = append(out, PropChange{Name: k, Change: Removed, Before: v})
		case !graph.EqualValues(v, w):
			out = append(out, PropChange{Name: k, Change: Changed, Before: v, After: w})
		}
	}
	for k, w := range after {
		if _, ok := before[k]; !ok {
			out = append(out, PropChange{Name: k, Change: Added, After: w})
		}
	}
	slices.SortFunc(out, func(p, q PropChange) int { return strings.Compare(p.Name, q.Name) })
	return out
}
