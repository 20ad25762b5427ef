package replication

import (
	"context"
	"fmt"
	"net/http"

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/backup"
)

// FailoverRequest is the body of POST /failover.
type FailoverRequest struct {
	GraphID   string `json:"graph_id"`
	NoJournal bool   `json:"no_journal,omitempty"`
}

// failoverRoutes registers POST /failover[?wait=true]: FailoverRequest → 202
// operation, or 200 FailoverResult. The restore writes the graph the service's
// catalog (WithJournal) holds under graph_id; without a catalog it is 400.
func (h *handler) failoverRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /failover", h.failover)
}

func (h *handler) failover(w http.ResponseWriter, r *http.Request) {
	wait, err := api.QueryBool(r, "wait")
	if err != nil {
		fail(w, r, err)
		return
	}
	var req FailoverRequest
	if err := api.Decode(w, r, &req, h.cfg.maxBody); err != nil {
		fail(w, r, err)
		return
	}
	if err := api.CheckID("graph_id", req.GraphID, backup.ValidGraphID); err != nil {
		fail(w, r, err)
		return
	}
	cat := h.svc.cfg.journal
	if cat == nil {
		fail(w, r, fmt.Errorf("%w: failover needs the service built with a graph catalog (WithJournal)", ErrInvalid))
		return
	}
	g, err := cat.Graph(r.Context(), req.GraphID)
	if err != nil {
		fail(w, r, fmt.Errorf("%w: %w", ErrNotFound, err))
		return
	}
	run := func(ctx context.Context, _ func(any)) (any, error) {
		return h.svc.Failover(ctx, req.GraphID, g, FailoverOptions{NoJournal: req.NoJournal})
	}
	if wait {
		res, err := run(r.Context(), nil)
		if err != nil {
			fail(w, r, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, res)
		return
	}
	op, err := h.cfg.ops.Start(r.Context(), "failover", run)
	if err != nil {
		fail(w, r, err)
		return
	}
	api.Accepted(w, r, op)
}
