package blob_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/graphvault/graphvault/internal/metrictest"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/faultblob"
	"github.com/graphvault/graphvault/store/blob/memblob"
)

func TestValidateKey(t *testing.T) {
	tests := []struct {
		key  string
		ok   bool
		why  string // part of the error message
		pref bool   // ValidatePrefix result
	}{
		{"a", true, "", true},
		{"a/b/c.d", true, "", true},
		{"dir with space/ü/日本", true, "", true},
		{"..a/b..", true, "", true},
		{strings.Repeat("kkk/", blob.MaxKeyLen/4)[:blob.MaxKeyLen-1] + "k", true, "", true},
		{strings.Repeat("k", blob.MaxSegmentLen) + "/" + strings.Repeat("k", blob.MaxSegmentLen), true, "", true},
		{"a/" + strings.Repeat("k", blob.MaxSegmentLen+1) + "/b", false, "segment is longer than", false},
		{"", false, "empty", true},
		{"a/", false, "empty path segment", true},
		{"/a", false, "empty path segment", false},
		{"a//b", false, "empty path segment", false},
		{"a/./b", false, `"." segment`, false},
		{"a/..", false, `".." segment`, false},
		{"a\x00", false, "NUL", false},
		{"a\\b", false, "backslash", false},
		{"\xff", false, "UTF-8", false},
		{strings.Repeat("k", blob.MaxKeyLen+1), false, "longer than", false},
	}
	for _, tc := range tests {
		err := blob.ValidateKey(tc.key)
		if (err == nil) != tc.ok || !tc.ok && (!errors.Is(err, blob.ErrInvalidKey) || !strings.Contains(err.Error(), tc.why)) {
			t.Errorf("ValidateKey(%.20q) = %v, want ok %v (%s)", tc.key, err, tc.ok, tc.why)
		}
		if err := blob.ValidatePrefix(tc.key); (err == nil) != tc.pref {
			t.Errorf("ValidatePrefix(%.20q) = %v, want ok %v", tc.key, err, tc.pref)
		}
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		err  *blob.Error
		want string
	}{
		{&blob.Error{Op: "get", Key: "a/b", Err: blob.ErrNotFound}, `blob get "a/b": blob: not found`},
		{&blob.Error{Op: "close", Err: blob.ErrClosed}, "blob close: blob: bucket closed"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
		if !errors.Is(tc.err, tc.err.Err) {
			t.Errorf("%v does not unwrap to %v", tc.err, tc.err.Err)
		}
	}
}

func TestDriverErrorsWrapped(t *testing.T) {
	ctx := t.Context()
	boom := errors.New("boom")
	fd := faultblob.New(memblob.New())
	fd.Inject(faultblob.Rule{Err: boom})
	b := blob.NewBucket(fd)
	_, getErr := b.Get(ctx, "k")
	_, statErr := b.Stat(ctx, "k")
	_, existsErr := b.Exists(ctx, "k")
	var listErr error
	for _, err := range b.List(ctx, "p/") {
		listErr = err
	}
	tests := []struct {
		op, key string
		err     error
	}{
		{"put", "k", b.Put(ctx, "k", nil)},
		{"put-if-absent", "k", b.PutIfAbsent(ctx, "k", nil)},
		{"get", "k", getErr},
		{"stat", "k", statErr},
		{"stat", "k", existsErr},
		{"list", "p/", listErr},
		{"delete", "k", b.Delete(ctx, "k")},
		{"close", "", b.Close()},
	}
	for _, tc := range tests {
		var be *blob.Error
		if !errors.As(tc.err, &be) || be.Op != tc.op || be.Key != tc.key || !errors.Is(tc.err, boom) {
			t.Errorf("%s: error %#v, want a *blob.Error{Op: %q, Key: %q} wrapping boom", tc.op, tc.err, tc.op, tc.key)
		}
	}
	// An error the driver already wrapped for the same call is not wrapped twice.
	fd.Reset()
	inner := &blob.Error{Op: "get", Key: "k", Err: boom}
	fd.Inject(faultblob.Rule{Err: inner})
	b2 := blob.NewBucket(fd)
	if _, err := b2.Get(ctx, "k"); err != inner {
		t.Errorf("Get: error %v, want the driver's own *blob.Error", err)
	}
}

type point struct{ op, outcome string }

// collect reads the bucket instruments from reader.
func collect(t *testing.T, reader sdkmetric.Reader) (ops, durations map[point]int64, bytes map[string]int64, units map[string]string) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	ops, durations, bytes, units = map[point]int64{}, map[point]int64{}, map[string]int64{}, map[string]string{}
	attr := func(s attribute.Set, k string) string {
		v, _ := s.Value(attribute.Key(k))
		return v.AsString()
	}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != "github.com/graphvault/graphvault/store/blob" {
			t.Errorf("scope %q, want the import path", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			units[m.Name] = m.Unit
			switch data := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range data.DataPoints {
					if m.Name == "graphvault.blob.operations" {
						ops[point{attr(dp.Attributes, "op"), attr(dp.Attributes, "result")}] += dp.Value
					} else {
						bytes[attr(dp.Attributes, "op")] += dp.Value
					}
				}
			case metricdata.Histogram[float64]:
				for _, dp := range data.DataPoints {
					durations[point{attr(dp.Attributes, "op"), attr(dp.Attributes, "result")}] += int64(dp.Count)
				}
			}
		}
	}
	return ops, durations, bytes, units
}

func TestMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	b := blob.NewBucket(memblob.New(), blob.WithMeterProvider(mp))
	ctx := t.Context()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()

	mustNil := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustNil(b.Put(ctx, "k", []byte("12345")))
	mustNil(b.Put(ctx, "k2", []byte("123")))
	if err := b.PutIfAbsent(ctx, "k", []byte("x")); !errors.Is(err, blob.ErrExists) {
		t.Fatalf("PutIfAbsent: %v", err)
	}
	_, err := b.Get(ctx, "k")
	mustNil(err)
	_, err = b.Get(ctx, "missing")
	if !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Get: %v", err)
	}
	_, err = b.Stat(ctx, "/bad")
	if !errors.Is(err, blob.ErrInvalidKey) {
		t.Fatalf("Stat: %v", err)
	}
	for _, err := range b.List(ctx, "") {
		mustNil(err)
	}
	mustNil(b.Delete(ctx, "k2"))
	if err := b.Delete(cancelled, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Delete: %v", err)
	}
	fd := faultblob.New(memblob.New())
	fd.Inject(faultblob.Rule{Ops: faultblob.OpGet, Err: errors.New("disk on fire")})
	b2 := blob.NewBucket(fd, blob.WithMeterProvider(mp))
	if _, err := b2.Get(ctx, "k"); err == nil {
		t.Fatal("Get: no error")
	}
	mustNil(b.Close())
	if err := b.Put(ctx, "k", []byte("after")); !errors.Is(err, blob.ErrClosed) {
		t.Fatalf("Put after Close: %v", err)
	}

	ops, durations, bytes, units := collect(t, reader)
	wantOps := map[point]int64{
		{"put", "ok"}:               2,
		{"put_if_absent", "exists"}: 1,
		{"get", "ok"}:               1,
		{"get", "not_found"}:        1,
		{"get", "error"}:            1,
		{"stat", "invalid_key"}:     1,
		{"list", "ok"}:              1,
		{"delete", "ok"}:            1,
		{"delete", "canceled"}:      1,
		{"put", "closed"}:           1,
	}
	for p, want := range wantOps {
		if ops[p] != want || durations[p] != want {
			t.Errorf("%v: %d operations and %d durations, want %d", p, ops[p], durations[p], want)
		}
	}
	if len(ops) != len(wantOps) {
		t.Errorf("operations recorded: %v, want %v", ops, wantOps)
	}
	wantBytes := map[string]int64{"put": 8, "get": 5, "put_if_absent": 0} // put-if-absent refused
	if len(bytes) != len(wantBytes) || bytes["put"] != 8 || bytes["get"] != 5 || bytes["put_if_absent"] != 0 {
		t.Errorf("bytes = %v, want %v", bytes, wantBytes)
	}
	wantUnits := map[string]string{
		"graphvault.blob.operations": "{operation}",
		"graphvault.blob.duration":   "s",
		"graphvault.blob.bytes":      "By",
	}
	for name, unit := range wantUnits {
		if units[name] != unit {
			t.Errorf("unit of %s = %q, want %q", name, units[name], unit)
		}
	}
}

// TestGlobalMeterProvider checks that no provider, or nil, means the global one.
func TestGlobalMeterProvider(t *testing.T) {
	prev := otel.GetMeterProvider()
	t.Cleanup(func() { otel.SetMeterProvider(prev) })
	reader := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))

	for _, b := range []*blob.Bucket{
		blob.NewBucket(memblob.New()),
		blob.NewBucket(memblob.New(), blob.WithMeterProvider(nil), nil),
	} {
		if err := b.Put(t.Context(), "k", nil); err != nil {
			t.Fatal(err)
		}
	}
	if ops, _, _, _ := collect(t, reader); ops[point{"put", "ok"}] != 2 {
		t.Errorf("global provider saw %v, want 2 put/ok", ops)
	}
}

// brokenMeter fails to make instruments.
type brokenMeter struct{ noop.Meter }

func (brokenMeter) Int64Counter(string, ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	return nil, errors.New("no counters today")
}

type brokenProvider struct{ noop.MeterProvider }

func (brokenProvider) Meter(string, ...metric.MeterOption) metric.Meter { return brokenMeter{} }

func TestBrokenMeterProvider(t *testing.T) {
	var handled []error
	prev := otel.GetErrorHandler()
	t.Cleanup(func() { otel.SetErrorHandler(prev) })
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { handled = append(handled, err) }))
	b := blob.NewBucket(memblob.New(), blob.WithMeterProvider(brokenProvider{}))
	if len(handled) != 1 || !strings.Contains(handled[0].Error(), "no counters today") {
		t.Errorf("errors handled: %v, want the instrument error", handled)
	}
	if err := b.Put(t.Context(), "k", []byte("still works")); err != nil {
		t.Errorf("Put with broken metrics: %v", err)
	}
}

// tempDriver is a memblob that also keeps temporaries, to test Bucket.RemoveTemp.
type tempDriver struct {
	*memblob.Driver
	cutoff time.Time
	calls  int
	n      int
	err    error
}

func (d *tempDriver) RemoveTemp(_ context.Context, cutoff time.Time) (int, error) {
	d.calls++
	d.cutoff = cutoff
	return d.n, d.err
}

func TestBucketRemoveTemp(t *testing.T) {
	ctx := t.Context()
	cutoff := time.Now().Add(-time.Hour)

	plain := blob.NewBucket(memblob.New())
	if n, err := plain.RemoveTemp(ctx, cutoff); n != 0 || err != nil {
		t.Errorf("RemoveTemp on a driver without temporaries = %d, %v; want 0, nil", n, err)
	}

	drv := &tempDriver{Driver: memblob.New(), n: 3}
	b := blob.NewBucket(drv)
	if n, err := b.RemoveTemp(ctx, cutoff); n != 3 || err != nil {
		t.Errorf("RemoveTemp = %d, %v; want 3, nil", n, err)
	}
	if !drv.cutoff.Equal(cutoff) {
		t.Errorf("driver got cutoff %v, want %v", drv.cutoff, cutoff)
	}

	boom := errors.New("boom")
	drv.n, drv.err = 1, boom
	n, err := b.RemoveTemp(ctx, cutoff)
	var be *blob.Error
	if n != 1 || !errors.Is(err, boom) || !errors.As(err, &be) || be.Op != "remove-temp" {
		t.Errorf("RemoveTemp with a failing driver = %d, %v; want 1 and a *blob.Error remove-temp wrapping boom", n, err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	calls := drv.calls
	if _, err := b.RemoveTemp(cancelled, cutoff); !errors.Is(err, context.Canceled) || drv.calls != calls {
		t.Errorf("RemoveTemp with a cancelled context = %v after %d driver calls; want context.Canceled and none", err, drv.calls-calls)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.RemoveTemp(ctx, cutoff); !errors.Is(err, blob.ErrClosed) || drv.calls != calls {
		t.Errorf("RemoveTemp after Close = %v; want ErrClosed and no driver call", err)
	}
}

// TestBytesListedBeforeCalls checks that the bytes moved by put, put_if_absent and
// get are listed at zero before the first call.
func TestBytesListedBeforeCalls(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	blob.NewBucket(memblob.New(), blob.WithMeterProvider(mp))
	got := metrictest.Ints(t, reader, "graphvault.blob.bytes", "op")
	if len(got) != 3 || got["put"] != 0 || got["put_if_absent"] != 0 || got["get"] != 0 {
		t.Errorf("graphvault.blob.bytes before any call = %v, want put, put_if_absent and get at 0", got)
	}
}
