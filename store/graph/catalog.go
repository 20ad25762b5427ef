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
