package graphml

import (
	"bytes"
	"context"
	"flag"
	"testing"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/graphtest"
)

var benchNodes = flag.Int("bench.nodes", 20000, "nodes of the generated graph the decode benchmarks read (three edges per node)")

// BenchmarkDecode reads a LightRAG-shaped file written as NetworkX writes it, with
// the XML decoder alone (xml) and with the fast scanner (scan), side by side: the
// ratio of the two MB/s figures is the scanner's gain.
func BenchmarkDecode(b *testing.B) {
	gen := graphtest.Generate(graphtest.GenerateOptions{Nodes: *benchNodes, Edges: 3 * *benchNodes, Seed: 1})
	v, err := gen.View(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(context.Background(), &buf, v); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	for _, c := range []struct {
		name string
		fast bool
	}{{"xml", false}, {"scan", true}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := countAll(newDecoder(bytes.NewReader(data), sourceSize, c.fast)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func countAll(d *Decoder) error {
	ctx := context.Background()
	for _, err := range d.Nodes(ctx) {
		if err != nil {
			return err
		}
	}
	for _, err := range d.Edges(ctx) {
		if err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkEncode writes the graph BenchmarkDecode reads, from memory.
func BenchmarkEncode(b *testing.B) {
	gen := graphtest.Generate(graphtest.GenerateOptions{Nodes: *benchNodes, Edges: 3 * *benchNodes, Seed: 1})
	v := &sliceView{meta: gen.Meta()}
	for n, err := range gen.Nodes() {
		if err != nil {
			b.Fatal(err)
		}
		v.nodes = append(v.nodes, n)
	}
	for e, err := range gen.Edges() {
		if err != nil {
			b.Fatal(err)
		}
		v.edges = append(v.edges, e)
	}
	var buf bytes.Buffer
	if err := Write(context.Background(), &buf, v); err != nil {
		b.Fatal(err)
	}
	size := int64(buf.Len())
	for _, c := range []struct {
		name string
		v    graph.View
	}{{"checked", v}, {"normalized", normalizedView{v}}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if err := Write(context.Background(), &buf, c.v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// normalizedView is a view that says its content is normalized, as a restore's is.
type normalizedView struct{ *sliceView }

func (normalizedView) Normalized() bool { return true }
