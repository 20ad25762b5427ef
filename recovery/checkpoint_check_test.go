package recovery

import (
	"strings"
	"testing"

	"github.com/graphvault/graphvault/recovery/health"
)

// TestCheckpointPolicy checks what having no checkpoint means under each policy,
// and that the policy changes nothing once there is one.
func TestCheckpointPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		p           CheckpointPolicy
		none        health.Status
		noneMessage string
	}{
		{"no policy", CheckpointPolicy{}, health.Pass, "no checkpoint yet; none is required"},
		{"required", CheckpointPolicy{Required: true}, health.Warn, "no checkpoint yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.graph("g1", "alice")
			check := NewCheckpointCheck(f.svc, tt.p)
			r := check.Check(f.ctx)
			if r.Status != tt.none || r.Message != tt.noneMessage {
				t.Errorf("without a checkpoint: %s %q, want %s %q", r.Status, r.Message, tt.none, tt.noneMessage)
			}
			if got, want := r.Details["required"], tt.p.Required; got != want {
				t.Errorf("details required = %v, want %v", got, want)
			}

			cp, err := f.svc.Create(f.ctx, CreateRequest{GraphIDs: []string{"g1"}})
			if err != nil {
				t.Fatal(err)
			}
			if r := check.Check(f.ctx); r.Status != health.Warn || !strings.Contains(r.Message, "not validated") {
				t.Errorf("unvalidated checkpoint: %s %q, want warn, not validated", r.Status, r.Message)
			}
			if _, err := f.svc.Validate(f.ctx, cp.ID); err != nil {
				t.Fatal(err)
			}
			if r := check.Check(f.ctx); r.Status != health.Pass || !strings.Contains(r.Message, cp.ID) {
				t.Errorf("validated checkpoint: %s %q, want pass naming %s", r.Status, r.Message, cp.ID)
			}
		})
	}
}
