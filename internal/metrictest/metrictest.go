// Package metrictest reads back what an OpenTelemetry manual reader holds, for
// tests that check the metrics a package records.
package metrictest

import (
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Ints collects r and returns the points of the int64 sum or gauge named name,
// keyed by the values of attrs joined with "/" ("" when attrs is empty). A
// metric of another kind fails the test.
func Ints(t testing.TB, r sdkmetric.Reader, name string, attrs ...string) map[string]int64 {
	t.Helper()
	return points[int64](t, r, name, attrs)
}

// Floats is Ints for a float64 sum or gauge.
func Floats(t testing.TB, r sdkmetric.Reader, name string, attrs ...string) map[string]float64 {
	t.Helper()
	return points[float64](t, r, name, attrs)
}

func points[N int64 | float64](t testing.TB, r sdkmetric.Reader, name string, attrs []string) map[string]N {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]N{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			var points []metricdata.DataPoint[N]
			switch d := m.Data.(type) {
			case metricdata.Sum[N]:
				points = d.DataPoints
			case metricdata.Gauge[N]:
				points = d.DataPoints
			default:
				t.Fatalf("metric %s is a %T, not a %T sum or gauge", name, m.Data, N(0))
			}
			for _, dp := range points {
				key := make([]string, len(attrs))
				for i, a := range attrs {
					v, _ := dp.Attributes.Value(attribute.Key(a))
					key[i] = v.Emit()
				}
				out[strings.Join(key, "/")] = dp.Value
			}
		}
	}
	return out
}
