package graphtest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
)

// Content is a whole graph held in memory. It is a [graph.Reader] whose views
// yield the nodes and edges in slice order, so tests can compare a graph with the
// content they expect: Equal(t, Content{...}, g).
type Content struct {
	Meta  graph.Meta
	Nodes []graph.Node
	Edges []graph.Edge
}

// View returns a view of c. The view yields c's values as they are.
func (c Content) View(ctx context.Context) (graph.View, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &contentView{c: c}, nil
}

type contentView struct{ c Content }

func (v *contentView) Meta() graph.Meta { return v.c.Meta }
func (v *contentView) Close() error     { return nil }

func (v *contentView) Nodes(ctx context.Context) iter.Seq2[graph.Node, error] {
	return sliceSeq(ctx, v.c.Nodes)
}

func (v *contentView) Edges(ctx context.Context) iter.Seq2[graph.Edge, error] {
	return sliceSeq(ctx, v.c.Edges)
}

func sliceSeq[T any](ctx context.Context, s []T) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		for _, x := range s {
			if err := ctx.Err(); err != nil {
				yield(zero, err)
				return
			}
			if !yield(x, nil) {
				return
			}
		}
	}
}

// Read reads the whole content of one view of r.
func Read(ctx context.Context, r graph.Reader) (Content, error) {
	v, err := r.View(ctx)
	if err != nil {
		return Content{}, fmt.Errorf("graphtest: view: %w", err)
	}
	c, err := ReadView(ctx, v)
	if cerr := v.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("graphtest: close view: %w", cerr)
	}
	return c, err
}

// ReadView reads every node and edge of v. It does not close v.
func ReadView(ctx context.Context, v graph.View) (Content, error) {
	c := Content{Meta: v.Meta()}
	for n, err := range v.Nodes(ctx) {
		if err != nil {
			return Content{}, fmt.Errorf("graphtest: nodes: %w", err)
		}
		c.Nodes = append(c.Nodes, n)
	}
	for e, err := range v.Edges(ctx) {
		if err != nil {
			return Content{}, fmt.Errorf("graphtest: edges: %w", err)
		}
		c.Edges = append(c.Edges, e)
	}
	return c, nil
}

// Equal fails t with a readable description of the first difference if want and
// got do not hold the same graph. See [Diff].
func Equal(t testing.TB, want, got graph.Reader) {
	t.Helper()
	d, err := Diff(t.Context(), want, got)
	if err != nil {
		t.Fatalf("graphtest: compare graphs: %v", err)
	}
	if d != "" {
		t.Errorf("graphs differ: %s", d)
	}
}

// Diff compares the graphs two readers hold, node by node, edge by edge, property
// by property, and describes the first difference in key order (with the number of
// differences), or returns "" if they are equal. The comparison is exact: values
// must have the same Go type (int64(1) and float64(1) differ), so expected content
// must be written in normalized form (see [graph.NormalizeValue]). Label order does
// not matter; nil and empty labels or properties are equal. Edges are matched by
// key, so in an undirected graph (a, b, t) and (b, a, t) are the same edge. A node
// or edge yielded twice by one view is a difference.
func Diff(ctx context.Context, want, got graph.Reader) (string, error) {
	w, err := Read(ctx, want)
	if err != nil {
		return "", fmt.Errorf("want: %w", err)
	}
	g, err := Read(ctx, got)
	if err != nil {
		return "", fmt.Errorf("got: %w", err)
	}
	return DiffContent(w, g), nil
}

// DiffContent is [Diff] for content already read.
func DiffContent(want, got Content) string {
	var diffs []string
	add := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	if want.Meta.Directed != got.Meta.Directed {
		add("directed: want %t, got %t", want.Meta.Directed, got.Meta.Directed)
	}
	directed := want.Meta.Directed

	wn, err := nodeMap(want.Nodes)
	if err != nil {
		add("want: %v", err)
	}
	gn, err := nodeMap(got.Nodes)
	if err != nil {
		add("got: %v", err)
	}
	for _, k := range unionKeys(wn, gn) {
		a, inW := wn[k]
		b, inG := gn[k]
		switch {
		case !inG:
			add("node %q: missing", k)
		case !inW:
			add("node %q: unexpected", k)
		default:
			if d := diffNode(a, b); d != "" {
				add("node %q: %s", k, d)
			}
		}
	}

	we, err := edgeMap(want.Edges, directed)
	if err != nil {
		add("want: %v", err)
	}
	ge, err := edgeMap(got.Edges, directed)
	if err != nil {
		add("got: %v", err)
	}
	for _, k := range unionKeys(we, ge) {
		a, inW := we[k]
		b, inG := ge[k]
		name := func(e graph.Edge) string { return fmt.Sprintf("edge (%q, %q, %q)", e.Source, e.Target, e.Type) }
		switch {
		case !inG:
			add("%s: missing", name(a))
		case !inW:
			add("%s: unexpected", name(b))
		default:
			if d := diffProps(a.Props, b.Props); d != "" {
				add("%s: %s", name(a), d)
			}
		}
	}
	switch len(diffs) {
	case 0:
		return ""
	case 1:
		return diffs[0]
	}
	return fmt.Sprintf("%d differences, the first: %s", len(diffs), diffs[0])
}

func nodeMap(nodes []graph.Node) (map[string]graph.Node, error) {
	m := make(map[string]graph.Node, len(nodes))
	var errs []error
	for _, n := range nodes {
		if _, dup := m[n.ID]; dup {
			errs = append(errs, fmt.Errorf("node %q yielded twice", n.ID))
		}
		m[n.ID] = n
	}
	return m, errors.Join(errs...)
}

func edgeMap(edges []graph.Edge, directed bool) (map[string]graph.Edge, error) {
	m := make(map[string]graph.Edge, len(edges))
	var errs []error
	for _, e := range edges {
		k := e.Key(directed)
		if _, dup := m[k]; dup {
			errs = append(errs, fmt.Errorf("edge (%q, %q, %q) yielded twice", e.Source, e.Target, e.Type))
		}
		m[k] = e
	}
	return m, errors.Join(errs...)
}

func unionKeys[V any](a, b map[string]V) []string {
	keys := slices.AppendSeq(make([]string, 0, len(a)), maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func diffNode(want, got graph.Node) string {
	wl, gl := slices.Sorted(slices.Values(want.Labels)), slices.Sorted(slices.Values(got.Labels))
	if !slices.Equal(wl, gl) {
		return fmt.Sprintf("labels: want %q, got %q", wl, gl)
	}
	return diffProps(want.Props, got.Props)
}

func diffProps(want, got map[string]any) string {
	if len(want) == 0 && len(got) == 0 {
		return ""
	}
	return diffValue("props", want, got)
}

// diffValue describes the first difference between two property values, at path.
func diffValue(path string, want, got any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return typeDiff(path, want, got)
		}
		for _, k := range unionKeys(w, g) {
			a, inW := w[k]
			b, inG := g[k]
			p := fmt.Sprintf("%s[%q]", path, k)
			switch {
			case !inG:
				return fmt.Sprintf("%s: missing, want %s", p, show(a))
			case !inW:
				return fmt.Sprintf("%s: unexpected %s", p, show(b))
			}
			if d := diffValue(p, a, b); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok {
			return typeDiff(path, want, got)
		}
		for i := range min(len(w), len(g)) {
			if d := diffValue(fmt.Sprintf("%s[%d]", path, i), w[i], g[i]); d != "" {
				return d
			}
		}
		if len(w) != len(g) {
			return fmt.Sprintf("%s: want %d elements, got %d", path, len(w), len(g))
		}
		return ""
	}
	if !graph.EqualValues(want, got) {
		return typeDiff(path, want, got)
	}
	return ""
}

func typeDiff(path string, want, got any) string {
	return fmt.Sprintf("%s: want %s, got %s", path, show(want), show(got))
}

// show prints a value with its Go type, shortening long strings.
func show(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		if len(x) > 80 {
			return fmt.Sprintf("string(%q...) (%d bytes)", x[:80], len(x))
		}
		return fmt.Sprintf("string(%q)", x)
	case map[string]any:
		return fmt.Sprintf("map[string]any with keys %q", slices.Sorted(maps.Keys(x)))
	case []any:
		return fmt.Sprintf("[]any of %d elements", len(x))
	}
	return fmt.Sprintf("%T(%v)", v, v)
}
