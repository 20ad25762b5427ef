package dashboard_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/monitoring"
	"github.com/graphvault/graphvault/monitoring/dashboard"
	"github.com/graphvault/graphvault/store/meta"
)

// The dashboard is plugged into the monitoring handler, which serves it at
// dashboard; the page then reads metrics/summary, health and the stats next to it.
func Example() {
	ctx := context.Background()
	st, err := meta.Open(ctx, ":memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	mon := monitoring.NewHandler(st,
		monitoring.Parts{Dashboard: dashboard.Handler(dashboard.WithRefresh(30 * time.Second))}, api.Options{})
	mux := http.NewServeMux()
	mux.Handle("/api/monitoring/", http.StripPrefix("/api/monitoring", mon))

	for _, path := range []string{"/api/monitoring/dashboard", "/api/monitoring/metrics/summary"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		fmt.Println(path, rec.Code, rec.Header().Get("Content-Type"))
	}
	// Output:
	// /api/monitoring/dashboard 200 text/html; charset=utf-8
	// /api/monitoring/metrics/summary 200 application/json
}
