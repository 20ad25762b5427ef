package graphvault

import (
	_ "embed"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/monitoring"
	"github.com/graphvault/graphvault/monitoring/dashboard"
	"github.com/graphvault/graphvault/recovery"
	"github.com/graphvault/graphvault/replication"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/memgraph"
)

// OpenAPI is the OpenAPI 3 document of every route Handler serves.
//
//go:embed openapi.yaml
var OpenAPI []byte

// maxChangeOps bounds one POST .../changes.
const maxChangeOps = 10000

// routes mounts every handler under /api.
func (v *Vault) routes() http.Handler {
	opts := api.Options{Operations: v.ops, Logger: v.log}
	if v.cfg.Token != "" {
		opts.Authorizer = api.BearerToken(api.Tokens{Write: v.cfg.Token, Read: v.cfg.ReadToken, CloseStatus: v.cfg.CloseStatus})
	}
	mux := http.NewServeMux()
	mount := func(prefix string, h http.Handler) { mux.Handle(prefix+"/", http.StripPrefix(prefix, h)) }
	mount("/api/backup/backup", backup.NewHandler(v.engine, creatingCatalog{v.catalog, v}, opts))
	mount("/api/backup/recovery", recovery.NewHandler(v.recovery, v.health, opts))
	mount("/api/backup/replication", replication.NewHandler(v.repl, opts))
	mount("/api/monitoring", monitoring.NewHandler(v.store, monitoring.Parts{
		Prometheus: v.prom, Collector: v.collector, Health: v.health, Dashboard: dashboard.Handler(),
	}, opts))
	if v.cfg.Token != "" {
		// Another server's http target stores snapshot objects here, under the same token.
		recv := replication.NewReceiver(v.bucket, v.cfg.Token, replication.WithReceiverLogger(v.log))
		mount("/api/backup/replication/receive", v.indexReceived(recv, opts.Authorizer))
	}
	changes := api.NewMux(opts.WithDefaults(v.log), api.ErrorMap{
		{Err: graph.ErrNotFound, Status: http.StatusNotFound},
		{Err: graph.ErrInvalidID, Status: http.StatusBadRequest},
		{Err: graph.ErrInvalidValue, Status: http.StatusBadRequest},
	})
	changes.Handle("POST /api/backup/backup/graphs/{id}/changes", api.ScopeWrite, v.applyChanges)
	mux.Handle("/api/backup/backup/graphs/{id}/changes", changes)
	mux.HandleFunc("GET /api/openapi.yaml", serveOpenAPI)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/api/monitoring/dashboard", http.StatusFound)
	})
	// Routes answers what no handler serves as a problem too: a path that is not
	// clean is 400 (not the redirect a bare ServeMux sends), one outside the
	// mounts 404, a known path with another method 405 with Allow.
	var h http.Handler = api.Routes(mux)
	h = v.refreshingHealth(h)
	if v.cfg.Rate > 0 {
		h = newMutationLimiter(v.cfg.Rate, max(1, int(2*v.cfg.Rate))).wrap(h)
	}
	return h
}

// refreshingHealth reruns the health checks after every change that succeeded
// (a checkpoint made or deleted, a target added, changed or removed, a snapshot
// deleted), so that health reflects it within a second. Work answered with 202
// refreshes health when its operation finishes.
func (v *Vault) refreshingHealth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !api.Mutating(r.Method) {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status/100 == 2 && sw.status != http.StatusAccepted {
			v.refreshHealth()
		}
	})
}

// refreshHealth asks for a health run soon; runs coalesce.
func (v *Vault) refreshHealth() {
	if v.health != nil {
		v.health.Trigger()
	}
}

// serveOpenAPI answers GET /api/openapi.yaml with the document.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/yaml")
	h.Set("Content-Length", strconv.Itoa(len(OpenAPI)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(OpenAPI) //nolint:errcheck // the client is gone; nothing to do
	}
}

// Changes is a batch of changes to a graph the Vault holds in memory, applied
// together: deletions first, then upserts of nodes, then of edges. JSON has one
// kind of number: a whole number within ±2^53 in a property becomes an integer,
// any other a float.
type Changes struct {
	UpsertNodes []graph.Node `json:"upsert_nodes,omitempty"`
	DeleteNodes []string     `json:"delete_nodes,omitempty"`
	UpsertEdges []graph.Edge `json:"upsert_edges,omitempty"`
	DeleteEdges []graph.Edge `json:"delete_edges,omitempty"`
}

// ops checks c and returns it as graph operations.
func (c Changes) ops() ([]graph.Op, error) {
	n := len(c.UpsertNodes) + len(c.DeleteNodes) + len(c.UpsertEdges) + len(c.DeleteEdges)
	if n == 0 {
		return nil, api.Errorf(http.StatusBadRequest, "the batch holds no change")
	}
	if n > maxChangeOps {
		return nil, api.Errorf(http.StatusRequestEntityTooLarge, "a batch holds at most %d changes", maxChangeOps)
	}
	ops := make([]graph.Op, 0, n)
	for i, e := range c.DeleteEdges {
		if err := graph.ValidateID(e.Source); err != nil {
			return nil, api.FieldErrorf(fmt.Sprintf("delete_edges[%d].source", i), "%v", err)
		}
		if err := graph.ValidateID(e.Target); err != nil {
			return nil, api.FieldErrorf(fmt.Sprintf("delete_edges[%d].target", i), "%v", err)
		}
		ops = append(ops, graph.Op{Kind: graph.OpDeleteEdge, Edge: graph.Edge{Source: e.Source, Target: e.Target, Type: e.Type}})
	}
	for i, id := range c.DeleteNodes {
		if err := graph.ValidateID(id); err != nil {
			return nil, api.FieldErrorf(fmt.Sprintf("delete_nodes[%d]", i), "%v", err)
		}
		ops = append(ops, graph.Op{Kind: graph.OpDeleteNode, Node: graph.Node{ID: id}})
	}
	for i, nd := range c.UpsertNodes {
		nd.Props = wholeNumbers(nd.Props).(map[string]any)
		if err := nd.Validate(); err != nil {
			return nil, api.FieldErrorf(fmt.Sprintf("upsert_nodes[%d]", i), "%v", err)
		}
		ops = append(ops, graph.Op{Kind: graph.OpUpsertNode, Node: nd})
	}
	for i, e := range c.UpsertEdges {
		e.Props = wholeNumbers(e.Props).(map[string]any)
		if err := e.Validate(); err != nil {
			return nil, api.FieldErrorf(fmt.Sprintf("upsert_edges[%d]", i), "%v", err)
		}
		ops = append(ops, graph.Op{Kind: graph.OpUpsertEdge, Edge: e})
	}
	return ops, nil
}

// POST /api/backup/backup/graphs/{id}/changes → 200 {"graph_id","applied","nodes","edges"}.
// Only graphs held in memory (the demo, graphs restored at start) take changes;
// another graph is 409, an unknown one 404. The batch is applied whole or not at
// all: an edge whose end does not exist is 422 and changes nothing.
func (v *Vault) applyChanges(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathID(r, "id", backup.ValidGraphID)
	if err != nil {
		return err
	}
	var c Changes
	if err := api.Decode(w, r, &c, api.DefaultMaxBodyBytes); err != nil {
		return err
	}
	ops, err := c.ops()
	if err != nil {
		return err
	}
	g, err := v.memoryGraph(r.Context(), id)
	if errors.Is(err, errHostGraph) {
		return api.Errorf(http.StatusConflict, "graph %s is the host's; change it where it lives", id)
	} else if err != nil {
		return err
	}
	if err := g.Apply(r.Context(), ops); err != nil {
		if errors.Is(err, memgraph.ErrMissingEnd) {
			return &api.Error{Status: http.StatusUnprocessableEntity, Detail: err.Error()}
		}
		return err
	}
	nodes, edges, err := counts(r, g)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"graph_id": id, "applied": len(ops), "nodes": nodes, "edges": edges})
	return nil
}

// counts returns how many nodes and edges g holds.
func counts(r *http.Request, g *memgraph.Graph) (nodes, edges int64, err error) {
	view, err := g.View(r.Context())
	if err != nil {
		return 0, 0, err
	}
	defer view.Close()
	c, ok := view.(interface{ Counts() (int64, int64) })
	if !ok {
		return 0, 0, fmt.Errorf("memgraph view does not count")
	}
	nodes, edges = c.Counts()
	return nodes, edges, nil
}

// indexReceived wraps the receiver so that a manifest it stores is indexed at
// once: a server that receives replication lists what it holds. A manifest of a
// graph this server serves itself is refused with 403: its snapshots would mix
// with the server's own, and a restart could serve the other server's graph.
func (v *Vault) indexReceived(next http.Handler, auth api.Authorizer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, isManifest := strings.CutPrefix(r.URL.Path, "/objects/")
		isManifest = isManifest && r.Method == http.MethodPut && strings.HasPrefix(key, "manifests/")
		if !isManifest {
			next.ServeHTTP(w, r)
			return
		}
		if graphID, _, ok := strings.Cut(strings.TrimPrefix(key, "manifests/"), "/"); ok && v.served(r.Context(), graphID) && auth(r, api.ScopeWrite) == nil {
			api.WriteProblem(w, r, http.StatusForbidden, fmt.Sprintf(
				"this server serves graph %s itself; it receives snapshots only of graphs it does not serve", graphID))
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status/100 != 2 {
			return
		}
		if created, err := v.engine.IndexManifest(r.Context(), key); err != nil {
			v.log.Warn("index a received manifest", "key", key, "err", err)
		} else if created {
			v.log.Info("indexed a received snapshot", "key", key)
		}
	})
}

// statusWriter remembers the status an answer was written with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// wholeNumbers turns the float64 values JSON decoding made of whole numbers
// within ±2^53 into int64, in lists and maps too.
func wholeNumbers(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) <= 1<<53 {
			return int64(x)
		}
	case []any:
		for i := range x {
			x[i] = wholeNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = wholeNumbers(x[k])
		}
	}
	return v
}
