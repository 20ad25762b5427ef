package monitoring

import (
	"math"
	"sort"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// MetricPrefix is the prefix of every graphvault metric family as Prometheus names
// it.
const MetricPrefix = "graphvault_"

// Family is one metric family as the metrics endpoint answers it.
type Family struct {
	Type   string   `json:"type"` // "counter", "gauge", "histogram", "summary", "untyped"
	Help   string   `json:"help,omitempty"`
	Unit   string   `json:"unit,omitempty"`
	Series []Series `json:"series"`
}

// Series is one labelled series of a family. Counters and gauges have Value;
// histograms Count, Sum and Buckets (cumulative, the last one "+Inf"); summaries
// Count, Sum and Quantiles. A value that is not finite is null.
type Series struct {
	Labels    map[string]string `json:"labels"`
	Value     *float64          `json:"value,omitempty"`
	Count     *uint64           `json:"count,omitempty"`
	Sum       *float64          `json:"sum,omitempty"`
	Buckets   []Bucket          `json:"buckets,omitempty"`
	Quantiles map[string]any    `json:"quantiles,omitempty"`
}

// Bucket is one cumulative histogram bucket.
type Bucket struct {
	LE    string `json:"le"` // upper bound, "+Inf" for the last
	Count uint64 `json:"count"`
}

// scopeLabel reports whether a label only names the instrumentation scope, which
// the JSON answer leaves out.
func scopeLabel(name string) bool { return strings.HasPrefix(name, "otel_scope_") }

// convertFamilies converts the families whose name starts with prefix.
func convertFamilies(mfs []*dto.MetricFamily, prefix string) map[string]Family {
	out := map[string]Family{}
	for _, mf := range mfs {
		name := mf.GetName()
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		f := Family{Type: strings.ToLower(mf.GetType().String()), Help: mf.GetHelp(), Unit: mf.GetUnit(), Series: []Series{}}
		for _, m := range mf.GetMetric() {
			f.Series = append(f.Series, convertMetric(mf.GetType(), m))
		}
		sort.Slice(f.Series, func(i, j int) bool { return labelKey(f.Series[i].Labels) < labelKey(f.Series[j].Labels) })
		out[name] = f
	}
	return out
}

func labelKey(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + l[k] + ",")
	}
	return b.String()
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func convertMetric(t dto.MetricType, m *dto.Metric) Series {
	s := Series{Labels: map[string]string{}}
	for _, lp := range m.GetLabel() {
		if !scopeLabel(lp.GetName()) {
			s.Labels[lp.GetName()] = lp.GetValue()
		}
	}
	switch t {
	case dto.MetricType_COUNTER:
		s.Value = finite(m.GetCounter().GetValue())
	case dto.MetricType_GAUGE:
		s.Value = finite(m.GetGauge().GetValue())
	case dto.MetricType_UNTYPED:
		s.Value = finite(m.GetUntyped().GetValue())
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		h := m.GetHistogram()
		n := h.GetSampleCount()
		s.Count, s.Sum = &n, finite(h.GetSampleSum())
		for _, b := range h.GetBucket() {
			s.Buckets = append(s.Buckets, Bucket{LE: formatBound(b.GetUpperBound()), Count: b.GetCumulativeCount()})
		}
		if len(s.Buckets) == 0 || s.Buckets[len(s.Buckets)-1].LE != "+Inf" {
			s.Buckets = append(s.Buckets, Bucket{LE: "+Inf", Count: n})
		}
	case dto.MetricType_SUMMARY:
		sm := m.GetSummary()
		n := sm.GetSampleCount()
		s.Count, s.Sum = &n, finite(sm.GetSampleSum())
		s.Quantiles = map[string]any{}
		for _, q := range sm.GetQuantile() {
			s.Quantiles[formatBound(q.GetQuantile())] = finite(q.GetValue())
		}
	}
	return s
}

func formatBound(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
