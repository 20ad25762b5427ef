package graphtest

import (
	"context"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/graphvault/graphvault/store/graph"
)

// GenerateOptions describes a generated graph. The zero value is an empty,
// undirected graph.
type GenerateOptions struct {
	// Nodes and Edges are the counts to generate. Edges is capped at what the nodes
	// allow without duplicates or self-loops: Nodes*((Nodes-1)/2) when undirected,
	// Nodes*(Nodes-1) when directed.
	Nodes, Edges int
	// Directed makes a directed graph.
	Directed bool
	// Seed selects the graph; the same options always give the same graph.
	Seed uint64
	// DescriptionBytes is the mean length of descriptions; 0 means 300.
	DescriptionBytes int
	// Labels gives every node its entity_type as its only label. LightRAG nodes
	// have no labels.
	Labels bool
}

// Generated is a deterministic random graph shaped like LightRAG's entity and
// relation graph. Node i and edge j are computed from the seed and their index
// alone, so the graph streams without being held in memory, at any size. It is a
// [graph.Reader] yielding nodes by index, then edges by index.
//
// Nodes have the LightRAG properties entity_id (the node ID), entity_type,
// description, source_id ("chunk-<hex>" ids joined by "<SEP>"), file_path and
// created_at (int64). Edges have weight (float64, often a whole number),
// description, keywords, source_id, file_path and created_at, and an empty type.
// Node IDs are upper-case names with spaces, and now and then quotes, slashes,
// ampersands or non-ASCII letters, made unique by a number.
type Generated struct {
	opts    GenerateOptions
	edges   int
	offsets []int // distinct offsets from a source to its targets, by round
	mul     int   // node index permutation: p(x) = (x*mul + add) mod Nodes
	add     int
}

// Generate returns the graph the options describe. It does no work per node or
// edge until the graph is read.
func Generate(o GenerateOptions) *Generated {
	o.Nodes = max(o.Nodes, 0)
	if o.DescriptionBytes <= 0 {
		o.DescriptionBytes = 300
	}
	g := &Generated{opts: o, mul: 1}
	n := o.Nodes
	span := (n - 1) / 2 // undirected: offsets below n/2 never make (a, b) and (b, a)
	if o.Directed {
		span = n - 1
	}
	if n < 2 || span < 1 {
		return g
	}
	g.edges = min(max(o.Edges, 0), n*span)
	rounds := (g.edges + n - 1) / n
	r := rand.New(rand.NewPCG(o.Seed, 0x6772617068))
	if rounds*2 > span {
		perm := r.Perm(span)
		for _, p := range perm[:rounds] {
			g.offsets = append(g.offsets, p+1)
		}
	} else {
		seen := make(map[int]bool, rounds)
		for len(g.offsets) < rounds {
			d := 1 + r.IntN(span)
			if !seen[d] {
				seen[d] = true
				g.offsets = append(g.offsets, d)
			}
		}
	}
	g.mul = 1 + r.IntN(n)
	for gcd(g.mul, n) != 1 {
		g.mul++
	}
	g.add = r.IntN(n)
	return g
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Meta returns the graph's Meta, with Position 0.
func (g *Generated) Meta() graph.Meta { return graph.Meta{Directed: g.opts.Directed} }

// Len returns the number of nodes and edges the graph has.
func (g *Generated) Len() (nodes, edges int) { return g.opts.Nodes, g.edges }

func (g *Generated) rng(stream uint64, i int) *rand.Rand {
	return rand.New(rand.NewPCG(g.opts.Seed^stream, uint64(i)))
}

const (
	nodeStream = 0x6e6f6465
	edgeStream = 0x65646765
)

var (
	words = strings.Fields(`alpha beacon cedar delta ember falcon garnet harbor iris juniper
		kestrel lumen meridian nova onyx prism quartz raven sierra tundra umber vertex willow
		xenon yarrow zephyr atlas boreal cobalt dune eclipse fjord glacier helix indigo jade
		karst lagoon mesa nebula orbit pylon quasar ridge summit talus updraft vale wharf
		acme river bridge council archive market signal engine garden library station`)
	odd = []string{"Zürich", "São Paulo", "東京", "Ørsted", "Straße", "O'Brien", `"Quoted"`,
		"R&D", "A/B", "C:\\Temp", "<Tag>", "Café", "Ελλάδα", "Москва"}
	entityTypes = []string{"person", "organization", "geo", "event", "category", "concept", "technology"}
)

// NodeID returns the ID of node i, 0 <= i < Nodes.
func (g *Generated) NodeID(i int) string { return nodeID(g.rng(nodeStream, i), i) }

func nodeID(r *rand.Rand, i int) string {
	var b strings.Builder
	parts := 1 + r.IntN(3)
	for p := range parts {
		if p > 0 {
			b.WriteByte(' ')
		}
		if r.IntN(12) == 0 {
			b.WriteString(odd[r.IntN(len(odd))])
		} else {
			b.WriteString(strings.ToUpper(words[r.IntN(len(words))]))
		}
	}
	b.WriteString(" ")
	b.WriteString(strconv.Itoa(i))
	return b.String()
}

// Node returns node i, 0 <= i < Nodes.
func (g *Generated) Node(i int) graph.Node {
	r := g.rng(nodeStream, i)
	id := nodeID(r, i)
	typ := entityTypes[r.IntN(len(entityTypes))]
	n := graph.Node{ID: id, Props: map[string]any{
		"entity_id":   id,
		"entity_type": typ,
		"description": g.text(r),
		"source_id":   sourceID(r),
		"file_path":   filePath(r),
		"created_at":  createdAt(r),
	}}
	if g.opts.Labels {
		n.Labels = []string{typ}
	}
	return n
}

// Edge returns edge j, 0 <= j < Edges.
func (g *Generated) Edge(j int) graph.Edge {
	n := g.opts.Nodes
	s, d := j%n, g.offsets[j/n]
	src, dst := g.NodeID(g.perm(s)), g.NodeID(g.perm((s+d)%n))
	r := g.rng(edgeStream, j)
	if !g.opts.Directed && r.IntN(2) == 0 {
		src, dst = dst, src // undirected: either way round
	}
	weight := float64(1 + r.IntN(10))
	if r.IntN(2) == 0 {
		weight = math.Round(r.Float64()*100) / 10
	}
	kw := make([]string, 1+r.IntN(4))
	for i := range kw {
		kw[i] = words[r.IntN(len(words))]
	}
	return graph.Edge{Source: src, Target: dst, Props: map[string]any{
		"weight":      weight,
		"description": g.text(r),
		"keywords":    strings.Join(kw, ","),
		"source_id":   sourceID(r),
		"file_path":   filePath(r),
		"created_at":  createdAt(r),
	}}
}

func (g *Generated) perm(x int) int { return (x*g.mul + g.add) % g.opts.Nodes }

// text returns about DescriptionBytes of words (between half and one and a half).
func (g *Generated) text(r *rand.Rand) string {
	size := g.opts.DescriptionBytes/2 + r.IntN(g.opts.DescriptionBytes+1)
	var b strings.Builder
	b.Grow(size + 16)
	for b.Len() < size {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[r.IntN(len(words))])
		if r.IntN(10) == 0 {
			b.WriteByte('.')
		}
	}
	return b.String()
}

func sourceID(r *rand.Rand) string {
	chunks := make([]string, 1+r.IntN(3))
	for i := range chunks {
		chunks[i] = fmt.Sprintf("chunk-%016x%016x", r.Uint64(), r.Uint64())
	}
	return strings.Join(chunks, "<SEP>")
}

func filePath(r *rand.Rand) string {
	if r.IntN(10) == 0 {
		return "unknown_source"
	}
	return fmt.Sprintf("docs/%s_%d.md", words[r.IntN(len(words))], r.IntN(1000))
}

func createdAt(r *rand.Rand) int64 { return 1_700_000_000 + r.Int64N(50_000_000) }

// Nodes yields every node, by index.
func (g *Generated) Nodes() iter.Seq2[graph.Node, error] {
	return func(yield func(graph.Node, error) bool) {
		for i := range g.opts.Nodes {
			if !yield(g.Node(i), nil) {
				return
			}
		}
	}
}

// Edges yields every edge, by index.
func (g *Generated) Edges() iter.Seq2[graph.Edge, error] {
	return func(yield func(graph.Edge, error) bool) {
		for j := range g.edges {
			if !yield(g.Edge(j), nil) {
				return
			}
		}
	}
}

// Ops yields the upserts that build the graph, nodes first, in batches of at most
// batchSize operations (1 if batchSize < 1). Each batch is a new slice.
func (g *Generated) Ops(batchSize int) iter.Seq[[]graph.Op] {
	batchSize = max(batchSize, 1)
	return func(yield func([]graph.Op) bool) {
		total := g.opts.Nodes + g.edges
		for start := 0; start < total; start += batchSize {
			ops := make([]graph.Op, 0, min(batchSize, total-start))
			for i := start; i < start+cap(ops); i++ {
				if i < g.opts.Nodes {
					ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: g.Node(i)})
				} else {
					ops = append(ops, graph.Op{Kind: graph.OpUpsertEdge, Edge: g.Edge(i - g.opts.Nodes)})
				}
			}
			if !yield(ops) {
				return
			}
		}
	}
}

// Replace loads the graph into w with one Replace call.
func (g *Generated) Replace(ctx context.Context, w graph.Writer) error {
	return w.Replace(ctx, g.Meta(), g.Nodes(), g.Edges())
}

// Apply loads the graph into w with Apply calls of batchSize operations.
func (g *Generated) Apply(ctx context.Context, w graph.Writer, batchSize int) error {
	for ops := range g.Ops(batchSize) {
		if err := w.Apply(ctx, ops); err != nil {
			return err
		}
	}
	return nil
}

// View returns a view of the generated graph.
func (g *Generated) View(ctx context.Context) (graph.View, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return genView{g}, nil
}

type genView struct{ g *Generated }

func (v genView) Meta() graph.Meta { return v.g.Meta() }
func (v genView) Close() error     { return nil }

func (v genView) Nodes(ctx context.Context) iter.Seq2[graph.Node, error] {
	return withContext(ctx, v.g.Nodes())
}

func (v genView) Edges(ctx context.Context) iter.Seq2[graph.Edge, error] {
	return withContext(ctx, v.g.Edges())
}

func withContext[T any](ctx context.Context, seq iter.Seq2[T, error]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		if err := ctx.Err(); err != nil {
			yield(zero, err)
			return
		}
		for x, err := range seq {
			if !yield(x, err) {
				return
			}
			if err := ctx.Err(); err != nil {
				yield(zero, err)
				return
			}
		}
	}
}
