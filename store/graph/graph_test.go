package graph_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
)

func TestValidateID(t *testing.T) {
	tests := []struct {
		id   string
		want error
	}{
		{"Honey", nil},
		{`"RABBITMQ"`, nil},
		{"a/b c ü 東京", nil},
		{"", graph.ErrInvalidID},
		{"a\x00b", graph.ErrInvalidID},
		{"\xff", graph.ErrInvalidID},
		{strings.Repeat("x", graph.MaxIDLen+1), graph.ErrInvalidID},
	}
	for _, tt := range tests {
		if err := graph.ValidateID(tt.id); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Errorf("ValidateID(%.20q) = %v, want %v", tt.id, err, tt.want)
		}
	}
}

// TestAppendKeys checks that the append forms build the keys NodeKey and EdgeKey
// return, after what the buffer already holds.
func TestAppendKeys(t *testing.T) {
	buf := []byte("prefix")
	if got := graph.AppendNodeKey(buf, "a b"); string(got) != "prefix"+graph.NodeKey("a b") {
		t.Errorf("AppendNodeKey = %q", got)
	}
	for _, e := range [][3]string{{"a", "b", "t"}, {"b", "a", "t"}, {"x", "y", ""}, {"same", "same", "loop"}} {
		for _, directed := range []bool{false, true} {
			want := graph.EdgeKey(e[0], e[1], e[2], directed)
			if got := graph.AppendEdgeKey(buf[:0], e[0], e[1], e[2], directed); string(got) != want {
				t.Errorf("AppendEdgeKey(%q, directed %t) = %q, want %q", e, directed, got, want)
			}
		}
	}
}

func TestKeys(t *testing.T) {
	if got := graph.NodeKey("a b"); got != "n:a b" {
		t.Fatalf("NodeKey = %q", got)
	}
	ab := graph.Edge{Source: "a", Target: "b", Type: "t"}
	ba := graph.Edge{Source: "b", Target: "a", Type: "t"}
	if ab.Key(false) != ba.Key(false) {
		t.Fatal("undirected keys of (a,b) and (b,a) differ")
	}
	if ab.Key(true) == ba.Key(true) {
		t.Fatal("directed keys of (a,b) and (b,a) are equal")
	}
	tests := []struct {
		key   string
		kind  byte
		parts [3]string
		ok    bool
	}{
		{"n:Honey", 'n', [3]string{"Honey"}, true},
		{ba.Key(true), 'e', [3]string{"b", "a", "t"}, true},
		{graph.EdgeKey("x", "y", "", true), 'e', [3]string{"x", "y", ""}, true},
		{"n:", 0, [3]string{}, false},
		{"e:a\x00b", 0, [3]string{}, false},
		{"e:\x00b\x00t", 0, [3]string{}, false},
		{"e:a\x00\x00t", 0, [3]string{}, false},
		{"e:a\x00b\x00\xff", 0, [3]string{}, false},
		{"x:y", 0, [3]string{}, false},
	}
	for _, tt := range tests {
		kind, parts, err := graph.ParseKey(tt.key)
		if (err == nil) != tt.ok || kind != tt.kind || parts != tt.parts {
			t.Errorf("ParseKey(%q) = %c %q %v", tt.key, kind, parts, err)
		}
	}
}

func TestNormalize(t *testing.T) {
	n, err := graph.Node{ID: "x", Labels: []string{"b", "a", "b"}, Props: map[string]any{
		"i": 3, "i8": int8(1), "i16": int16(1), "i32": int32(1), "u": uint(1), "u8": uint8(1), "u16": uint16(1),
		"u32": uint32(1), "u64": uint64(1), "f32": float32(0.5), "list": []string{"p"},
		"nested": map[string]any{"deep": []any{int(7), nil, true}},
	}}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(n.Labels, ",") != "a,b" {
		t.Fatalf("labels %v", n.Labels)
	}
	want := map[string]any{
		"i": int64(3), "i8": int64(1), "i16": int64(1), "i32": int64(1), "u": int64(1), "u8": int64(1), "u16": int64(1),
		"u32": int64(1), "u64": int64(1), "f32": 0.5, "list": []any{"p"},
		"nested": map[string]any{"deep": []any{int64(7), nil, true}},
	}
	if !graph.EqualProps(n.Props, want) {
		t.Fatalf("props %#v", n.Props)
	}
	if !graph.EqualNodes(n, graph.Node{ID: "x", Labels: []string{"a", "b"}, Props: want}) {
		t.Fatal("EqualNodes false for equal nodes")
	}
	bad := []any{math.NaN(), math.Inf(1), uint64(math.MaxUint64), uint(math.MaxUint64), struct{}{}, "\xff", map[string]any{"\xff": 1}, []any{func() {}}}
	for _, v := range bad {
		if _, err := graph.NormalizeValue(v); !errors.Is(err, graph.ErrInvalidValue) {
			t.Errorf("NormalizeValue(%#v) = %v, want ErrInvalidValue", v, err)
		}
	}
	if _, err := (graph.Node{ID: "x", Labels: []string{""}}).Normalize(); !errors.Is(err, graph.ErrInvalidID) {
		t.Errorf("empty label: %v", err)
	}
	if _, err := (graph.Node{ID: "x", Props: map[string]any{"\xff": 1}}).Normalize(); !errors.Is(err, graph.ErrInvalidValue) {
		t.Errorf("bad property name: %v", err)
	}
	e, err := graph.Edge{Source: "a", Target: "b", Props: map[string]any{"w": 1}}.Normalize()
	if err != nil || e.Props["w"] != int64(1) {
		t.Fatalf("edge: %+v %v", e, err)
	}
	if !graph.EqualEdges(e, graph.Edge{Source: "b", Target: "a", Props: map[string]any{"w": int64(1)}}, false) {
		t.Fatal("EqualEdges: undirected reversed edge not equal")
	}
	for _, bad := range []graph.Edge{{Source: "", Target: "b"}, {Source: "a", Target: ""}, {Source: "a", Target: "b", Type: "\x00"}, {Source: "a", Target: "b", Props: map[string]any{"x": struct{}{}}}} {
		if _, err := bad.Normalize(); err == nil {
			t.Errorf("edge %+v normalized without error", bad)
		}
	}
	if p, err := graph.NormalizeProps(nil); p != nil || err != nil {
		t.Fatalf("NormalizeProps(nil) = %v, %v", p, err)
	}
}

func TestOpKindString(t *testing.T) {
	want := map[graph.OpKind]string{graph.OpUpsertNode: "upsert_node", graph.OpDeleteNode: "delete_node",
		graph.OpUpsertEdge: "upsert_edge", graph.OpDeleteEdge: "delete_edge", graph.OpReset: "reset", 0: "unknown"}
	for k, s := range want {
		if k.String() != s {
			t.Errorf("%d.String() = %q, want %q", k, k.String(), s)
		}
	}
}

func TestRegistry(t *testing.T) {
	ctx := context.Background()
	var r graph.Registry
	if _, err := r.Graph(ctx, "a"); !errors.Is(err, graph.ErrNotFound) {
		t.Fatalf("empty registry: %v", err)
	}
	r.Register("b", nil)
	r.Register("a", nil)
	ids, err := r.GraphIDs(ctx)
	if err != nil || strings.Join(ids, ",") != "a,b" {
		t.Fatalf("GraphIDs = %v, %v", ids, err)
	}
	if _, err := r.Graph(ctx, "a"); err != nil {
		t.Fatalf("registered graph: %v", err)
	}
	if err := r.Add("a", nil); !errors.Is(err, graph.ErrExists) {
		t.Fatalf("Add of a taken id = %v, want ErrExists", err)
	}
	if err := r.Add("c", nil); err != nil {
		t.Fatalf("Add of a new id: %v", err)
	}
	if ids, _ := r.GraphIDs(ctx); strings.Join(ids, ",") != "a,b,c" {
		t.Fatalf("GraphIDs after Add = %v", ids)
	}
}

func TestAdopt(t *testing.T) {
	props := map[string]any{"a": int64(1), "b": []any{"x"}}
	n, err := graph.Node{ID: "x", Labels: []string{"a", "b"}, Props: props}.Adopt()
	if err != nil {
		t.Fatal(err)
	}
	props["c"] = true // shared: Adopt made no copy of a normal node
	if _, ok := n.Props["c"]; !ok {
		t.Fatal("Adopt copied a node already in normal form")
	}
	loose := map[string]any{"a": 1}
	n, err = graph.Node{ID: "x", Labels: []string{"b", "a"}, Props: loose}.Adopt()
	if err != nil || n.Props["a"] != int64(1) || n.Labels[0] != "a" {
		t.Fatalf("Adopt of a loose node: %+v %v", n, err)
	}
	for _, bad := range []graph.Node{{ID: ""}, {ID: "x", Labels: []string{"\x00"}}, {ID: "x", Props: map[string]any{"f": math.NaN()}}} {
		if _, err := bad.Adopt(); err == nil {
			t.Errorf("Adopt(%+v) accepted", bad)
		}
	}
	e, err := graph.Edge{Source: "a", Target: "b", Props: map[string]any{}}.Adopt()
	if err != nil || e.Props != nil {
		t.Fatalf("edge: %+v %v", e, err)
	}
	if e, err := (graph.Edge{Source: "a", Target: "b", Props: map[string]any{"w": float32(2)}}).Adopt(); err != nil || e.Props["w"] != 2.0 {
		t.Fatalf("loose edge: %+v %v", e, err)
	}
	for _, bad := range []graph.Edge{{Source: "", Target: "b"}, {Source: "a"}, {Source: "a", Target: "b", Type: "\x00"}} {
		if _, err := bad.Adopt(); err == nil {
			t.Errorf("Adopt(%+v) accepted", bad)
		}
	}
}
