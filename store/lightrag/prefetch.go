package lightrag

import (
	"context"
	"sync"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graphml"
)

// A restore writes a GraphML file in its layout's order, asking for each node and
// then each edge once. Reading a record back from the spill file (a lookup and a
// decode) took a second of the writer's 3.6 s on the 200k/600k file, in the same
// goroutine as the formatting; prefetched reads the records in the layout's order
// on another goroutine, a few batches ahead of the writer.

// prefetchBatch is how many records go to the writer at a time.
const prefetchBatch = 512

// fetched is one record read ahead: a node or an edge, whether the graph has it,
// or the error reading it.
type fetched struct {
	node graph.Node
	edge graph.Edge
	ok   bool
	err  error
}

// prefetched is a graph.Getter for graphml.WriteLayout: it answers from the
// records read ahead while the requests follow the layout's order, and from the
// underlying getter (once the reader has stopped) when they do not.
type prefetched struct {
	g      graph.Getter
	l      *graphml.Layout
	ch     chan []fetched
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	cur    []fetched
	next   int // the position in the layout of the next request: nodes, then edges
	direct bool
}

func newPrefetched(ctx context.Context, g graph.Getter, l *graphml.Layout) *prefetched {
	p := &prefetched{g: g, l: l, ch: make(chan []fetched, 4), stop: make(chan struct{}), done: make(chan struct{})}
	go p.read(ctx)
	return p
}

func (p *prefetched) read(ctx context.Context) {
	defer close(p.done)
	defer close(p.ch)
	batch := make([]fetched, 0, prefetchBatch)
	send := func() bool {
		select {
		case p.ch <- batch:
			batch = make([]fetched, 0, prefetchBatch)
			return true
		case <-p.stop:
			return false
		}
	}
	for _, nl := range p.l.Nodes {
		n, ok, err := p.g.Node(ctx, nl.ID)
		if batch = append(batch, fetched{node: n, ok: ok, err: err}); len(batch) == prefetchBatch && !send() {
			return
		}
	}
	for _, el := range p.l.Edges {
		e, ok, err := p.g.Edge(ctx, el.Source, el.Target, el.Type)
		if batch = append(batch, fetched{edge: e, ok: ok, err: err}); len(batch) == prefetchBatch && !send() {
			return
		}
	}
	if len(batch) > 0 {
		send()
	}
}

// close stops the reader and waits for it; the underlying getter is then the
// caller's alone.
func (p *prefetched) close() {
	p.once.Do(func() { close(p.stop) })
	<-p.done
}

// take returns the record read ahead for the next position of the layout, or
// false once the requests have left the layout's order.
func (p *prefetched) take() (fetched, bool) {
	if p.direct {
		return fetched{}, false
	}
	if len(p.cur) == 0 {
		b, ok := <-p.ch
		if !ok {
			return fetched{}, false
		}
		p.cur = b
	}
	f := p.cur[0]
	p.cur = p.cur[1:]
	p.next++
	return f, true
}

// leave stops reading ahead: the requests no longer follow the layout.
func (p *prefetched) leave() {
	p.direct = true
	p.close()
}

func (p *prefetched) Node(ctx context.Context, id string) (graph.Node, bool, error) {
	if !p.direct && p.next < len(p.l.Nodes) && p.l.Nodes[p.next].ID == id {
		if f, ok := p.take(); ok {
			return f.node, f.ok, f.err
		}
	}
	p.leave()
	return p.g.Node(ctx, id)
}

func (p *prefetched) Edge(ctx context.Context, source, target, typ string) (graph.Edge, bool, error) {
	i := p.next - len(p.l.Nodes)
	if !p.direct && i >= 0 && i < len(p.l.Edges) {
		if el := p.l.Edges[i]; el.Source == source && el.Target == target && el.Type == typ {
			if f, ok := p.take(); ok {
				return f.edge, f.ok, f.err
			}
		}
	}
	p.leave()
	return p.g.Edge(ctx, source, target, typ)
}
