package monitoring_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/graphvault/graphvault/monitoring"
)

// A host builds the helper once, gives its MeterProvider to every package that
// records metrics, and serves its Handler (or mounts monitoring.NewHandler with it
// in monitoring.Parts).
func ExampleNewPrometheus() {
	p, err := monitoring.NewPrometheus()
	if err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(context.Background())

	// What store.WithMeterProvider, backup.WithMeterProvider, ... would do.
	meter := p.MeterProvider.Meter("example")
	snapshots, err := meter.Int64Counter("graphvault.example.snapshots", metric.WithUnit("{snapshot}"))
	if err != nil {
		log.Fatal(err)
	}
	snapshots.Add(context.Background(), 3, metric.WithAttributes(attribute.String("graph", "graph1")))

	// Scrape the handler as Prometheus would, and parse the text exposition.
	rec := httptest.NewRecorder()
	p.Handler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		log.Fatal(err)
	}
	for name, mf := range families {
		if !strings.HasPrefix(name, "graphvault_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "graph" {
					fmt.Printf("%s{graph=%q} %v\n", name, l.GetValue(), m.GetCounter().GetValue())
				}
			}
		}
	}
	// Output:
	// graphvault_example_snapshots_total{graph="graph1"} 3
}
