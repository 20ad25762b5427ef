package monitoring

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
)

// Prometheus is an OpenTelemetry meter provider whose metrics are exported to a
// private Prometheus registry. Give MeterProvider to every graphvault package
// (their WithMeterProvider options) and serve Handler, or give it to [NewHandler] in
// [Parts]. Nothing is registered with the global registries.
type Prometheus struct {
	// MeterProvider records the metrics; its only reader is the exporter.
	MeterProvider *sdkmetric.MeterProvider
	// Registry is the private registry the exporter is registered with. A host may
	// register collectors of its own with it.
	Registry *prometheus.Registry
	// Gatherer reads the registry, sharing one gathering among the reads of a
	// second; a write to the store of a handler given this helper in its Parts
	// starts a new one.
	Gatherer prometheus.Gatherer
	// Handler serves the registry in the Prometheus exposition formats.
	Handler http.Handler

	once        sync.Once
	shutdownErr error
}

// PrometheusOption configures [NewPrometheus].
type PrometheusOption func(*promConfig)

type promConfig struct {
	res   *resource.Resource
	views []sdkmetric.View
}

// WithResource describes the process in the exported target_info metric; nil (the
// default) means resource.Default().
func WithResource(r *resource.Resource) PrometheusOption {
	return func(c *promConfig) { c.res = r }
}

// WithViews adds views to the meter provider, to rename instruments, drop
// attributes or change histogram buckets.
func WithViews(views ...sdkmetric.View) PrometheusOption {
	return func(c *promConfig) { c.views = append(c.views, views...) }
}

// NewPrometheus builds a private registry, an OpenTelemetry Prometheus exporter
// registered with it, and a meter provider reading through the exporter.
func NewPrometheus(opts ...PrometheusOption) (*Prometheus, error) {
	var c promConfig
	for _, o := range opts {
		o(&c)
	}
	if c.res == nil {
		c.res = resource.Default()
	}
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("monitoring: prometheus exporter: %w", err)
	}
	mpOpts := []sdkmetric.Option{sdkmetric.WithReader(exp), sdkmetric.WithResource(c.res)}
	if len(c.views) > 0 {
		mpOpts = append(mpOpts, sdkmetric.WithView(c.views...))
	}
	g := &sharedGatherer{g: reg, c: shared[[]*dto.MetricFamily]{ttl: time.Second}}
	return &Prometheus{
		MeterProvider: sdkmetric.NewMeterProvider(mpOpts...),
		Registry:      reg,
		Gatherer:      g,
		Handler: promhttp.HandlerFor(g, promhttp.HandlerOpts{
			ErrorHandling: promhttp.ContinueOnError,
		}),
	}, nil
}

// sharedGatherer answers scrapes that arrive within a second of each other from one
// gathering: the SDK runs metric callbacks one collection at a time, so a burst of
// scrapes would otherwise queue behind each other.
type sharedGatherer struct {
	g prometheus.Gatherer
	c shared[[]*dto.MetricFamily]

	mu   sync.Mutex
	gens []func() uint64 // store generations whose change starts a new gathering
}

func (s *sharedGatherer) Gather() ([]*dto.MetricFamily, error) {
	mfs, _, err := s.c.getAt(s.version(), s.g.Gather)
	return mfs, err
}

// follow makes a change of gen start a new gathering.
func (s *sharedGatherer) follow(gen func() uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gens = append(s.gens, gen)
}

// version is the sum of the generations followed: they only grow, so it changes
// whenever one of them does.
func (s *sharedGatherer) version() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var v uint64
	for _, gen := range s.gens {
		v += gen()
	}
	return v
}

// gather gathers p's registry. When the gathering is one shared among the reads of
// a second, it also returns its number and true: answers encoded from one
// gathering may be kept as long as the same number comes back.
func (p *Prometheus) gather() ([]*dto.MetricFamily, uint64, bool, error) {
	if s, ok := p.Gatherer.(*sharedGatherer); ok {
		mfs, seq, err := s.c.getAt(s.version(), s.g.Gather)
		return mfs, seq, err == nil, err
	}
	mfs, err := p.Gatherer.Gather()
	return mfs, 0, false, err
}

// Shutdown stops the meter provider: instruments record nothing afterwards and the
// registry exports nothing more from it. It is safe to call twice; the second call
// returns the first one's error.
func (p *Prometheus) Shutdown(ctx context.Context) error {
	p.once.Do(func() { p.shutdownErr = p.MeterProvider.Shutdown(ctx) })
	return p.shutdownErr
}
