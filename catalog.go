package graphvault

import (
	"context"
	"fmt"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/memgraph"
)

// creatingCatalog is the Vault's catalog as restores see it: the served graphs,
// and a graph held in memory made for a restore into an id nothing serves yet
// (graph.Creator). Such a graph then takes changes over HTTP like the other
// memory graphs, is snapshotted at once so that a restart serves it again, and
// joins the schedule when there is one.
type creatingCatalog struct {
	*graph.Registry
	v *Vault
}

// Create makes a memory graph, fills it and serves it under id; see
// graph.Creator.
func (c creatingCatalog) Create(ctx context.Context, id string, m graph.Meta, fill func(context.Context, graph.Graph) error) (graph.Graph, error) {
	if !backup.ValidGraphID(id) {
		return nil, fmt.Errorf("%w: graph id %q", graph.ErrInvalidID, id)
	}
	if _, err := c.Graph(ctx, id); err == nil {
		return nil, fmt.Errorf("%w: graph %q", graph.ErrExists, id)
	}
	var opts []memgraph.Option
	if m.Directed {
		opts = append(opts, memgraph.Directed())
	}
	g := memgraph.New(opts...)
	if err := fill(ctx, g); err != nil {
		return nil, err
	}
	if err := c.Add(id, g); err != nil {
		return nil, err
	}
	v := c.v
	v.mem.add(id, g)
	v.log.Info("created a graph for a restore", "graph", id)
	// The store knows a graph by its snapshots: without one, a restart would not
	// serve the graph again.
	if _, err := v.engine.Snapshot(ctx, id, g, backup.SnapshotOptions{Labels: map[string]string{"created_by": "restore"}}); err != nil {
		v.log.Warn("snapshot of a graph created by a restore failed; it is served, and the next snapshot keeps it", "graph", id, "err", err)
	}
	if v.cfg.Every > 0 && v.sched != nil {
		job := backup.Job{GraphID: id, Every: v.cfg.Every, Retention: backup.Retention{KeepLast: v.cfg.Keep}}
		if err := v.sched.Add(job); err != nil {
			v.log.Warn("schedule a graph created by a restore", "graph", id, "err", err)
		}
	}
	return g, nil
}
