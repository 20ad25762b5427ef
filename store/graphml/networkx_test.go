package graphml

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
)

// nxScript reads a GraphML file with NetworkX, prints its content as typed JSON, and
// writes the graph back with NetworkX to the second path.
const nxScript = `
import json, sys
import networkx as nx
g = nx.read_graphml(sys.argv[1])
def typed(d):
    out = {}
    for k, v in d.items():
        t = {bool: "bool", int: "int", float: "float", str: "str"}[type(v)]
        out[k] = [t, v]
    return out
print(json.dumps({
    "directed": g.is_directed(),
    "nodes": [[n, typed(d)] for n, d in g.nodes(data=True)],
    "edges": [[u, v, typed(d)] for u, v, d in g.edges(data=True)],
}))
nx.write_graphml(g, sys.argv[2])
`

func needNetworkX(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs python3")
	}
	if err := exec.Command("python3", "-c", "import networkx").Run(); err != nil {
		t.Skipf("python3 with networkx is not available: %v", err)
	}
}

// nxRead has NetworkX read path and returns what it saw and what it wrote back.
func nxRead(t *testing.T, path string) (*sliceView, []byte) {
	t.Helper()
	back := path + ".nx"
	cmd := exec.Command("python3", "-c", nxScript, path, back)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("networkx: %v\n%s", err, stderr.Bytes())
	}
	var res struct {
		Directed bool
		Nodes    [][2]json.RawMessage
		Edges    [][3]json.RawMessage
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	props := func(raw json.RawMessage) map[string]any {
		var m map[string][2]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		p := map[string]any{}
		for k, tv := range m {
			var typ string
			if err := json.Unmarshal(tv[0], &typ); err != nil {
				t.Fatal(err)
			}
			var v any
			switch typ {
			case "int":
				var x int64
				v, err = x, json.Unmarshal(tv[1], &x)
				v = x
			case "float":
				var x float64
				err = json.Unmarshal(tv[1], &x)
				v = x
			case "bool":
				var x bool
				err = json.Unmarshal(tv[1], &x)
				v = x
			default:
				var x string
				err = json.Unmarshal(tv[1], &x)
				v = x
			}
			if err != nil {
				t.Fatal(err)
			}
			p[k] = v
		}
		return p
	}
	str := func(raw json.RawMessage) string {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	g := &sliceView{meta: graph.Meta{Directed: res.Directed}}
	for _, n := range res.Nodes {
		g.nodes = append(g.nodes, graph.Node{ID: str(n[0]), Props: props(n[1])})
	}
	for _, e := range res.Edges {
		g.edges = append(g.edges, graph.Edge{Source: str(e[0]), Target: str(e[1]), Props: props(e[2])})
	}
	written, err := os.ReadFile(back)
	if err != nil {
		t.Fatal(err)
	}
	return g, written
}

// TestNetworkXReadsOurOutput has NetworkX read what Write writes and checks that it
// sees the same graph with the same value types, and that NetworkX writing the graph
// back produces the very same bytes.
func TestNetworkXReadsOurOutput(t *testing.T) {
	needNetworkX(t)
	// Edges in NetworkX's adjacency order, so that its rewrite keeps them in place.
	typed := &sliceView{
		nodes: []graph.Node{
			{ID: `"RABBITMQ"`, Props: map[string]any{"entity_type": `"ORGANIZATION"`, "description": "multi\nline & <text>\ttab", "created_at": int64(1751000000)}},
			{ID: "Zürich / 東京 's", Props: map[string]any{"flag": true, "ratio": 1.0, "tiny": 1e-05, "huge": 1e16, "neg": -0.5, "empty": ""}},
			{ID: "plain", Props: map[string]any{"flag": false, "created_at": "not a number"}},
		},
		edges: []graph.Edge{
			{Source: `"RABBITMQ"`, Target: "Zürich / 東京 's", Props: map[string]any{"weight": 3.0, "keywords": "a, b"}},
			{Source: `"RABBITMQ"`, Target: "plain", Props: map[string]any{"weight": 0.1}},
		},
	}
	cases := map[string]*sliceView{"typed": typed}
	for _, s := range shapes {
		if s.indent {
			_, g := lightragSample(s)
			cases["lightrag "+s.String()] = g
		}
	}
	for name, g := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "g.graphml")
			ours := writeAll(t, g)
			if err := os.WriteFile(path, ours, 0o644); err != nil {
				t.Fatal(err)
			}
			seen, rewritten := nxRead(t, path)
			if d := diffGraphs(seen, g); d != "" {
				t.Errorf("networkx saw:\n%s", d)
			}
			if !bytes.Equal(rewritten, ours) {
				t.Errorf("networkx writes it back differently:\n got: %s\nwant: %s", firstDiff(rewritten, ours), firstDiff(ours, rewritten))
			}
		})
	}
}

// TestNetworkXFiles reads files NetworkX writes and writes them back unchanged.
func TestNetworkXFiles(t *testing.T) {
	needNetworkX(t)
	for _, s := range shapes {
		if !s.indent {
			continue
		}
		t.Run(s.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "g.graphml")
			sample, _ := lightragSample(s)
			if err := os.WriteFile(path, sample, 0o644); err != nil {
				t.Fatal(err)
			}
			_, nxDoc := nxRead(t, path)
			g, err := readAll(nxDoc)
			if err != nil {
				t.Fatal(err)
			}
			if out := writeAll(t, g); !bytes.Equal(out, nxDoc) {
				t.Errorf("our rewrite of a NetworkX file differs:\n got: %s\nwant: %s", firstDiff(out, nxDoc), firstDiff(nxDoc, out))
			}
		})
	}
}

// firstDiff returns a excerpt of a around the first byte where it differs from b.
func firstDiff(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(0, i-80)
	hi := min(len(a), i+80)
	return strings.ReplaceAll(string(a[lo:hi]), "\n", `\n`)
}
