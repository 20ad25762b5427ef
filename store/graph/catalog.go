package graph

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// Catalog resolves graph ids to a host's graphs. Handlers, schedulers and
// checkpoints use it to find the graph behind an id. Methods may be called
// concurrently.
type Catalog interface {
	// Graph returns the graph with the id, or an error wrapping ErrNotFound.
	Graph(ctx context.Context, id string) (Graph, error)
	// GraphIDs lists the ids of every graph, sorted.
	GraphIDs(ctx context.Context) ([]string, error)
}

// Registry is a Catalog held in memory. The zero value is empty and ready to use.
type Registry struct {
	mu     sync.RWMutex
	graphs map[string]Graph
}

// Register adds or replaces the graph under id.
func (r *Registry) Register(id string, g Graph) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.graphs == nil {
		r.graphs = map[string]Graph{}
	}
	r.graphs[id] = g
}

// Graph returns the graph registered under id.
func (r *Registry) Graph(_ context.Context, id string) (Graph, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	g, ok := r.graphs[id]
	if !ok {
		return nil, fmt.Errorf("%w: graph %q", ErrNotFound, id)
	}
	return g, nil
}

// GraphIDs lists the registered ids, sorted.
func (r *Registry) GraphIDs(context.Context) ([]string, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ids := make([]string, 0, len(r.graphs))
	for id := range r.graphs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// Add adds the graph under id, unless the id is taken: then it returns an error
// wrapping ErrExists and changes nothing.
func (r *Registry) Add(id string, g Graph) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.graphs[id]; ok {
		return fmt.Errorf("%w: graph %q", ErrExists, id)
	}
	if r.graphs == nil {
		r.graphs = map[string]Graph{}
	}
	r.graphs[id] = g
	return nil
}

// Creator is an optional Catalog method: a catalog that can make a graph under an
// id it does not hold yet. A restore into such an id creates the graph this way
// when the catalog can. Create may be called concurrently with the Catalog's
// methods.
type Creator interface {
	// Create makes an empty graph shaped by meta (only Directed is read), calls
	// fill with it, and adds it to the catalog under id only if fill returns nil:
	// a failed fill leaves the catalog as it was, and its error is returned. If
	// the id names a graph when Create is called, or when fill returns, Create
	// returns an error wrapping ErrExists and the new graph is dropped.
	Create(ctx context.Context, id string, meta Meta, fill func(context.Context, Graph) error) (Graph, error)
}
