package graphml

import (
	"bytes"
	"context"
	"errors"
	"iter"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
)

// viewAll reads a whole graph through a Reader.
func viewAll(t *testing.T, r graph.Reader) *sliceView {
	t.Helper()
	ctx := context.Background()
	v, err := r.View(ctx)
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	defer v.Close()
	out := &sliceView{meta: v.Meta()}
	for n, err := range v.Nodes(ctx) {
		if err != nil {
			t.Fatalf("Nodes: %v", err)
		}
		out.nodes = append(out.nodes, n)
	}
	for e, err := range v.Edges(ctx) {
		if err != nil {
			t.Fatalf("Edges: %v", err)
		}
		out.edges = append(out.edges, e)
	}
	return out
}

func seq[T any](items []T, fail error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for _, it := range items {
			if !yield(it, nil) {
				return
			}
		}
		if fail != nil {
			var zero T
			yield(zero, fail)
		}
	}
}

func TestFileReplaceAndView(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "graph_chunk_entity_relation.graphml")
	f := NewFile(path)
	if f.Path() != path {
		t.Errorf("Path() = %q, want %q", f.Path(), path)
	}
	if _, err := f.View(ctx); !errors.Is(err, graph.ErrNotFound) {
		t.Fatalf("View of a missing file: got %v, want graph.ErrNotFound", err)
	}
	_, want := lightragSample(shape{extra: true, indent: true})
	if err := f.Replace(ctx, want.meta, seq(want.nodes, nil), seq(want.edges, nil)); err != nil {
		t.Fatal(err)
	}
	if d := diffGraphs(viewAll(t, f), want); d != "" {
		t.Fatal(d)
	}
	// Same bytes as Write.
	onDisk, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if w := writeAll(t, want); !bytes.Equal(onDisk, w) {
		t.Errorf("Replace wrote:\n%.400s\nWrite writes:\n%.400s", onDisk, w)
	}

	// A failing Replace leaves the file as it was, and no temporary file behind.
	bad := []struct {
		name  string
		nodes iter.Seq2[graph.Node, error]
		edges iter.Seq2[graph.Edge, error]
	}{
		{"nodes fail", seq([]graph.Node{{ID: "x"}}, errBoom), seq[graph.Edge](nil, nil)},
		{"edges fail", seq([]graph.Node{{ID: "x"}}, nil), seq([]graph.Edge{{Source: "x", Target: "x"}}, errBoom)},
		{"dangling edge", seq([]graph.Node{{ID: "x"}}, nil), seq([]graph.Edge{{Source: "x", Target: "y"}}, nil)},
		{"duplicate node", seq([]graph.Node{{ID: "x"}, {ID: "x"}}, nil), seq[graph.Edge](nil, nil)},
	}
	for _, b := range bad {
		if err := f.Replace(ctx, graph.Meta{}, b.nodes, b.edges); err == nil {
			t.Errorf("%s: Replace succeeded, want an error", b.name)
		}
		if d := diffGraphs(viewAll(t, f), want); d != "" {
			t.Errorf("%s: file changed:\n%s", b.name, d)
		}
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the graph file", len(entries))
	}
}

func TestFileViewIsConsistent(t *testing.T) {
	ctx := context.Background()
	f := NewFile(filepath.Join(t.TempDir(), "g.graphml"))
	one := []graph.Node{{ID: "a"}}
	if err := f.Replace(ctx, graph.Meta{Directed: true}, seq(one, nil), seq[graph.Edge](nil, nil)); err != nil {
		t.Fatal(err)
	}
	v, err := f.View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Apply(ctx, []graph.Op{{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "b"}}}); err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, err := range v.Nodes(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		count++
	}
	if count != 1 || !v.Meta().Directed {
		t.Errorf("old view: got %d nodes, directed %t; want 1, true", count, v.Meta().Directed)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for _, err := range v.Nodes(ctx) {
		if !errors.Is(err, graph.ErrClosed) {
			t.Errorf("Nodes after Close: got %v, want graph.ErrClosed", err)
		}
	}
	for _, err := range v.Edges(ctx) {
		if !errors.Is(err, graph.ErrClosed) {
			t.Errorf("Edges after Close: got %v, want graph.ErrClosed", err)
		}
	}
	if got := viewAll(t, f); len(got.nodes) != 2 {
		t.Errorf("new view: got %d nodes, want 2", len(got.nodes))
	}
}

func TestFileApply(t *testing.T) {
	n := func(id string, props map[string]any) graph.Op {
		return graph.Op{Kind: graph.OpUpsertNode, Node: graph.Node{ID: id, Props: props}}
	}
	e := func(s, d string, props map[string]any) graph.Op {
		return graph.Op{Kind: graph.OpUpsertEdge, Edge: graph.Edge{Source: s, Target: d, Props: props}}
	}
	delN := func(id string) graph.Op { return graph.Op{Kind: graph.OpDeleteNode, Node: graph.Node{ID: id}} }
	delE := func(s, d string) graph.Op {
		return graph.Op{Kind: graph.OpDeleteEdge, Edge: graph.Edge{Source: s, Target: d}}
	}
	base := []graph.Op{n("a", nil), n("b", nil), n("c", nil), e("a", "b", nil), e("b", "c", nil)}
	tests := []struct {
		name    string
		ops     []graph.Op
		want    *sliceView
		wantErr error
	}{
		{
			name: "delete node deletes its edges",
			ops:  []graph.Op{delN("b")},
			want: &sliceView{nodes: []graph.Node{{ID: "a"}, {ID: "c"}}},
		},
		{
			name: "upsert keeps place, undirected edge merges",
			ops:  []graph.Op{n("a", map[string]any{"v": 1}), e("b", "a", map[string]any{"w": 2.0}), n("d", nil), e("c", "d", nil)},
			want: &sliceView{
				nodes: []graph.Node{{ID: "a", Props: map[string]any{"v": int64(1)}}, {ID: "b"}, {ID: "c"}, {ID: "d"}},
				edges: []graph.Edge{{Source: "b", Target: "a", Props: map[string]any{"w": 2.0}}, {Source: "b", Target: "c"}, {Source: "c", Target: "d"}},
			},
		},
		{
			name: "delete edge either way, deleting the absent does nothing",
			ops:  []graph.Op{delE("c", "b"), delE("a", "c"), delN("zz")},
			want: &sliceView{nodes: []graph.Node{{ID: "a"}, {ID: "b"}, {ID: "c"}}, edges: []graph.Edge{{Source: "a", Target: "b"}}},
		},
		{
			name: "reset then upsert",
			ops:  []graph.Op{{Kind: graph.OpReset}, n("z", nil)},
			want: &sliceView{nodes: []graph.Node{{ID: "z"}}},
		},
		{name: "edge to missing node is atomic", ops: []graph.Op{delN("a"), e("a", "b", nil)}, wantErr: graph.ErrNotFound},
		{name: "invalid node", ops: []graph.Op{n("", nil)}, wantErr: graph.ErrInvalidID},
		{name: "invalid edge", ops: []graph.Op{e("a", "b", map[string]any{"x": struct{}{}})}, wantErr: graph.ErrInvalidValue},
		{name: "unknown op", ops: []graph.Op{{Kind: 99}}, wantErr: graph.ErrInvalidValue},
		{name: "unwritable value", ops: []graph.Op{n("a", map[string]any{"x": "\x01"})}, wantErr: graph.ErrInvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := NewFile(filepath.Join(t.TempDir(), "g.graphml"))
			if err := f.Apply(ctx, base); err != nil {
				t.Fatal(err)
			}
			before := viewAll(t, f)
			err := f.Apply(ctx, tt.ops)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got %v, want %v", err, tt.wantErr)
				}
				if d := diffGraphs(viewAll(t, f), before); d != "" {
					t.Errorf("failed Apply changed the file:\n%s", d)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := diffGraphs(viewAll(t, f), tt.want); d != "" {
				t.Error(d)
			}
		})
	}
}

func TestFileApplyBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.graphml")
	if err := os.WriteFile(path, []byte("<graphml><graph><node id='a'>"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := NewFile(path)
	err := f.Apply(context.Background(), []graph.Op{{Kind: graph.OpReset}})
	if !errors.Is(err, ErrSyntax) {
		t.Errorf("got %v, want ErrSyntax", err)
	}
	if err := os.WriteFile(path, []byte("<graphml><graph><edge/></graph></graphml>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.Apply(context.Background(), nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("got %v, want ErrMalformed", err)
	}
	if err := os.WriteFile(path, []byte("<gexf/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := f.View(context.Background()); !errors.Is(err, ErrMalformed) {
		t.Errorf("View: got %v, want ErrMalformed", err)
	}
	if err := f.Apply(context.Background(), nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("Apply: got %v, want ErrMalformed", err)
	}
	missingDir := NewFile(filepath.Join(t.TempDir(), "no", "such", "g.graphml"))
	if err := missingDir.Apply(context.Background(), nil); err == nil {
		t.Error("Apply in a missing directory succeeded")
	}
}

func TestFileConcurrent(t *testing.T) {
	ctx := context.Background()
	f := NewFile(filepath.Join(t.TempDir(), "g.graphml"))
	if err := f.Apply(ctx, []graph.Op{{Kind: graph.OpUpsertNode, Node: graph.Node{ID: "seed"}}}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 8 {
		wg.Go(func() {
			for j := range 4 {
				id := string(rune('a'+i)) + string(rune('0'+j))
				if err := f.Apply(ctx, []graph.Op{{Kind: graph.OpUpsertNode, Node: graph.Node{ID: id}}}); err != nil {
					errs <- err
				}
			}
		})
		wg.Go(func() {
			v, err := f.View(ctx)
			if err != nil {
				errs <- err
				return
			}
			defer v.Close()
			for _, err := range v.Edges(ctx) {
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := viewAll(t, f); len(got.nodes) != 33 {
		t.Errorf("got %d nodes, want 33", len(got.nodes))
	}
}

// recWriter is a graph.Writer that keeps what Replace streams to it.
type recWriter struct {
	got        *sliceView
	stopEarly  bool
	ignoreErrs bool
}

func (w *recWriter) Replace(ctx context.Context, meta graph.Meta, nodes iter.Seq2[graph.Node, error], edges iter.Seq2[graph.Edge, error]) error {
	g := &sliceView{meta: meta}
	for n, err := range nodes {
		if err != nil {
			if w.ignoreErrs {
				break
			}
			return err
		}
		g.nodes = append(g.nodes, n)
	}
	if w.stopEarly {
		w.got = g
		return nil
	}
	for e, err := range edges {
		if err != nil {
			if w.ignoreErrs {
				break
			}
			return err
		}
		g.edges = append(g.edges, e)
	}
	w.got = g
	return nil
}

func (w *recWriter) Apply(context.Context, []graph.Op) error { return errors.ErrUnsupported }

func TestLoad(t *testing.T) {
	ctx := context.Background()
	docBytes, want := lightragSample(shape{quoted: true})
	w := &recWriter{}
	if err := Load(ctx, bytes.NewReader(docBytes), w); err != nil {
		t.Fatal(err)
	}
	if d := diffGraphs(w.got, want); d != "" {
		t.Error(d)
	}
	tests := []struct {
		name string
		doc  []byte
		w    *recWriter
		want error
	}{
		{"bad head", []byte("<x/>"), &recWriter{}, ErrMalformed},
		{"truncated", docBytes[:len(docBytes)-20], &recWriter{}, ErrSyntax},
		{"writer swallows the error", docBytes[:len(docBytes)-20], &recWriter{ignoreErrs: true}, ErrSyntax},
		{"writer stops early", docBytes, &recWriter{stopEarly: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Load(ctx, bytes.NewReader(tt.doc), tt.w)
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("got %v, want an error wrapping %v", err, tt.want)
			}
		})
	}
	// Into a File.
	f := NewFile(filepath.Join(t.TempDir(), "g.graphml"))
	if err := Load(ctx, bytes.NewReader(docBytes), f); err != nil {
		t.Fatal(err)
	}
	if d := diffGraphs(viewAll(t, f), want); d != "" {
		t.Error(d)
	}
}

func TestDecoderSequences(t *testing.T) {
	ctx := context.Background()
	docBytes, want := lightragSample(shape{extra: true})

	t.Run("edges without nodes", func(t *testing.T) {
		d := NewDecoder(bytes.NewReader(docBytes))
		var got []graph.Edge
		for e, err := range d.Edges(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, e)
		}
		if d := diffGraphs(&sliceView{edges: got}, &sliceView{edges: want.edges}); d != "" {
			t.Error(d)
		}
		if d.Err() != nil {
			t.Errorf("Err() = %v", d.Err())
		}
	})
	t.Run("stop early, then edges", func(t *testing.T) {
		d := NewDecoder(bytes.NewReader(docBytes))
		for range d.Nodes(ctx) {
			break
		}
		n := 0
		for _, err := range d.Edges(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			n++
			if n == 2 {
				break
			}
		}
		if n != 2 {
			t.Errorf("got %d edges, want 2", n)
		}
	})
	t.Run("error is sticky", func(t *testing.T) {
		d := NewDecoder(bytes.NewReader([]byte("<nope/>")))
		for _, err := range d.Nodes(ctx) {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("Nodes: got %v, want ErrMalformed", err)
			}
		}
		for _, err := range d.Edges(ctx) {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("Edges: got %v, want ErrMalformed", err)
			}
		}
	})
	t.Run("canceled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		d := NewDecoder(bytes.NewReader(docBytes))
		for _, err := range d.Nodes(cctx) {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Nodes: got %v, want context.Canceled", err)
			}
		}
		d = NewDecoder(bytes.NewReader(docBytes))
		for _, err := range d.Edges(cctx) {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Edges: got %v, want context.Canceled", err)
			}
		}
	})
	t.Run("reader error", func(t *testing.T) {
		d := NewDecoder(&failReader{data: docBytes[:500]})
		_, err := d.Meta()
		for _, e := range d.Nodes(ctx) {
			if e != nil {
				err = e
			}
		}
		if !errors.Is(err, errBoom) {
			t.Errorf("got %v, want %v", err, errBoom)
		}
		var pe *ParseError
		if errors.As(err, &pe) {
			t.Errorf("a reader error is not a ParseError: %v", err)
		}
	})
}

// failReader yields data, then fails.
type failReader struct{ data []byte }

func (r *failReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, errBoom
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestFileViewReadsOnce checks that Edges after Nodes goes on from where Nodes
// stopped instead of reading the nodes again, and that every later call still sees
// the whole content.
func TestFileViewReadsOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "g.graphml")
	data, want := lightragSample(shapes[len(shapes)-1])
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := NewFile(path).View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	fv := v.(*fileView)
	fv.read = 0
	for round := range 2 {
		got := &sliceView{meta: v.Meta()}
		for n, err := range v.Nodes(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			got.nodes = append(got.nodes, n)
		}
		for e, err := range v.Edges(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			got.edges = append(got.edges, e)
		}
		if d := diffGraphs(got, want); d != "" {
			t.Fatalf("round %d: %s", round, d)
		}
		if fv.read != int64(len(data)) {
			t.Errorf("round %d: read %d bytes of a %d-byte file, want each byte once", round, fv.read, len(data))
		}
		fv.read = 0
	}
	// Edges alone reads the nodes too.
	n := 0
	for _, err := range v.Edges(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != len(want.edges) {
		t.Errorf("Edges alone: %d edges, want %d", n, len(want.edges))
	}
}

// TestPrefetch checks that a prefetched sequence yields the values in order, the
// error last, and that stopping early stops the goroutine before it returns.
func TestPrefetch(t *testing.T) {
	boom := errors.New("boom")
	finished := false
	seq := func(failAt int) iter.Seq2[int, error] {
		return func(yield func(int, error) bool) {
			defer func() { finished = true }()
			for i := range 1000 {
				if i == failAt {
					yield(0, boom)
					return
				}
				if !yield(i, nil) {
					return
				}
			}
		}
	}
	var got []int
	var gotErr error
	for x, err := range prefetch(seq(700)) {
		if err != nil {
			gotErr = err
			break
		}
		got = append(got, x)
	}
	if len(got) != 700 || got[699] != 699 || !errors.Is(gotErr, boom) {
		t.Fatalf("got %d values (last %v) and %v, want 0..699 and boom", len(got), got[len(got)-1], gotErr)
	}
	for i, x := range got {
		if x != i {
			t.Fatalf("value %d is %d", i, x)
		}
	}
	finished = false
	n := 0
	for range prefetch(seq(-1)) {
		if n++; n == 10 {
			break
		}
	}
	if !finished {
		t.Error("the sequence was still running after the caller stopped")
	}
}
