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
func (h *handler) failoverRoutes(m *api.Mux) {
	m.Handle("POST /failover", api.ScopeWrite, h.failover)
}

func (h *handler) failover(w http.ResponseWriter, r *http.Request) error {
	wait, err := api.QueryBool(r, "wait")
	if err != nil {
		return err
	}
	var req FailoverRequest
	if err := api.Decode(w, r, &req, h.opts.MaxBodyBytes); err != nil {
		return err
	}
	if err := api.CheckID("graph_id", req.GraphID, backup.ValidGraphID); err != nil {
		return err
	}
	cat := h.svc.cfg.journal
	if cat == nil {
		return fmt.Errorf("%w: failover needs the service built with a graph catalog (WithJournal)", ErrInvalid)
	}
	g, err := cat.Graph(r.Context(), req.GraphID)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return h.opts.Operations.Run(w, r, wait, "failover", func(ctx context.Context, _ func(any)) (any, error) {
		return h.svc.Failover(ctx, req.GraphID, g, FailoverOptions{NoJournal: req.NoJournal})
	})
}
