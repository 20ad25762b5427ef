package metrictest

import (
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

func TestInts(t *testing.T) {
	r := sdkmetric.NewManualReader()
	meter := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r)).Meter("test")
	c, _ := meter.Int64Counter("c")
	g, _ := meter.Int64Gauge("g")
	c.Add(t.Context(), 2, metric.WithAttributes(attribute.String("a", "x"), attribute.String("b", "y")))
	c.Add(t.Context(), 3, metric.WithAttributes(attribute.String("a", "x"), attribute.String("b", "y")))
	c.Add(t.Context(), 1, metric.WithAttributes(attribute.String("a", "z")))
	g.Record(t.Context(), 7)
	got := Ints(t, r, "c", "a", "b")
	if len(got) != 2 || got["x/y"] != 5 || got["z/"] != 1 {
		t.Errorf("counter points %v", got)
	}
	if got := Ints(t, r, "g"); len(got) != 1 || got[""] != 7 {
		t.Errorf("gauge points %v", got)
	}
	if got := Ints(t, r, "absent"); len(got) != 0 {
		t.Errorf("absent metric points %v", got)
	}
}

func TestFloats(t *testing.T) {
	r := sdkmetric.NewManualReader()
	meter := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r)).Meter("test")
	g, _ := meter.Float64Gauge("g")
	c, _ := meter.Float64Counter("c")
	g.Record(t.Context(), 0.5, metric.WithAttributes(attribute.String("a", "x")))
	g.Record(t.Context(), 1.5, metric.WithAttributes(attribute.String("a", "y")))
	c.Add(t.Context(), 0.25)
	if got := Floats(t, r, "g", "a"); len(got) != 2 || got["x"] != 0.5 || got["y"] != 1.5 {
		t.Errorf("gauge points %v", got)
	}
	if got := Floats(t, r, "c"); len(got) != 1 || got[""] != 0.25 {
		t.Errorf("counter points %v", got)
	}
}
