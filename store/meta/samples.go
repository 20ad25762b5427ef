package meta

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// MetricSample is one value of one metric series at one time, kept as history for
// dashboards.
type MetricSample struct {
	bun.BaseModel `bun:"table:graphvault_metric_samples,alias:sample"`

	ID     string    `bun:"id,pk" json:"id"`
	Name   string    `bun:"name,notnull" json:"name"`
	Labels string    `bun:"labels,notnull" json:"labels,omitempty"` // canonical "k=v,k=v", see CanonicalLabels
	Value  float64   `bun:"value,notnull" json:"value"`
	At     time.Time `bun:"sampled_at,notnull" json:"at"`
}

// CanonicalLabels renders labels as "k=v,k=v" sorted by key, the form stored in
// MetricSample.Labels.
func CanonicalLabels(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(labels[k])
	}
	return b.String()
}

// sampleBatch is how many samples one INSERT carries.
const sampleBatch = 500

// AddMetricSamples inserts the samples in batches inside one transaction. Empty IDs
// are filled with [NewID] and zero times with now; the caller's slice is not changed.
func (s *Store) AddMetricSamples(ctx context.Context, samples []MetricSample) error {
	return s.write(ctx, "add metric samples", "", func(ctx context.Context) error {
		if len(samples) == 0 {
			return nil
		}
		rows := make([]MetricSample, len(samples))
		now := s.nowUTC()
		for i, m := range samples {
			if m.Name == "" {
				return fmt.Errorf("%w: metric sample %d has no name", ErrInvalid, i)
			}
			if err := checkID(&m.ID); err != nil {
				return err
			}
			if m.At.IsZero() {
				m.At = now
			}
			m.At = utc(m.At)
			rows[i] = m
		}
		return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			for start := 0; start < len(rows); start += sampleBatch {
				batch := rows[start:min(start+sampleBatch, len(rows))]
				if _, err := tx.NewInsert().Model(&batch).Exec(ctx); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// ListMetricSamples returns the samples of the named metric taken at or after since,
// oldest first, at most limit of them (0 means 1000; at most 10000).
func (s *Store) ListMetricSamples(ctx context.Context, name string, since time.Time, limit int) ([]MetricSample, error) {
	out := []MetricSample{}
	err := s.do(ctx, "list metric samples", name, func(ctx context.Context) error {
		n, err := pageLimit(limit, 1000, 10000)
		if err != nil {
			return err
		}
		q := s.db.NewSelect().Model(&out).Where("name = ?", name)
		if !since.IsZero() {
			q = q.Where("sampled_at >= ?", utc(since))
		}
		return q.OrderExpr("sampled_at ASC, id ASC").Limit(int64(n)).Scan(ctx)
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].At = utc(out[i].At)
	}
	return out, nil
}

// PruneMetricSamples deletes the samples taken before the given time and returns how
// many it deleted.
func (s *Store) PruneMetricSamples(ctx context.Context, before time.Time) (int64, error) {
	return s.prune(ctx, "prune metric samples", "graphvault_metric_samples", "sampled_at", before)
}
