package graphml

import (
	"bytes"
	"context"
	"flag"
	"testing"

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
