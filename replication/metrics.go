package replication

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

const meterName = "github.com/graphvault/graphvault/replication"

type metrics struct {
	bytes      metric.Int64Counter
	objects    metric.Int64Counter
	operations metric.Int64Counter
	errors     metric.Int64Counter
	lag        metric.Float64Gauge
}

func newMetrics(mp metric.MeterProvider) (*metrics, error) {
	mt := mp.Meter(meterName)
	var m metrics
	var err, e error
	m.bytes, e = mt.Int64Counter("graphvault.replication.bytes", metric.WithUnit("By"),
		metric.WithDescription("Object bytes sent to replication targets, by target and result."))
	err = errors.Join(err, e)
	m.objects, e = mt.Int64Counter("graphvault.replication.objects", metric.WithUnit("{object}"),
		metric.WithDescription("Objects replicated, by target and result: copied, skipped or failed."))
	err = errors.Join(err, e)
	m.operations, e = mt.Int64Counter("graphvault.replication.operations", metric.WithUnit("{operation}"),
		metric.WithDescription("Replication runs and target checks, by target and result."))
	err = errors.Join(err, e)
	m.errors, e = mt.Int64Counter("graphvault.replication.errors", metric.WithUnit("{error}"),
		metric.WithDescription("Failed replication attempts, retried or not, by target."))
	err = errors.Join(err, e)
	m.lag, e = mt.Float64Gauge("graphvault.replication.lag", metric.WithUnit("s"),
		metric.WithDescription("How far a target is behind the newest snapshot of a graph."))
	err = errors.Join(err, e)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *metrics) targetAttr(target string) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String("target", target)))
}

func (m *metrics) resultAttr(target, result string) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String("target", target), attribute.String("result", result)))
}

// run records the end of a replication run.
func (m *metrics) run(ctx context.Context, target string, r Result) {
	ctx = context.WithoutCancel(ctx)
	result := "ok"
	if !r.OK {
		result = "failed"
		m.errors.Add(ctx, 1, m.targetAttr(target))
	}
	m.operations.Add(ctx, 1, m.resultAttr(target, result))
}

func (m *metrics) recordLag(ctx context.Context, target, graph string, seconds float64) {
	m.lag.Record(context.WithoutCancel(ctx), seconds, metric.WithAttributeSet(attribute.NewSet(
		attribute.String("target", target), attribute.String("graph", graph))))
}
