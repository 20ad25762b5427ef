package recovery

import (
	"context"
	"fmt"
	"time"

	"github.com/graphvault/graphvault/recovery/health"
)

// CheckpointPolicy says what a host expects of its checkpoints. The zero value
// is no policy: checkpoints are taken now and then, if ever.
type CheckpointPolicy struct {
	// Required says that the host takes checkpoints (on a schedule, or before every
	// risky change), so that having none yet warns. False: having none passes.
	Required bool
}

// CheckpointCheck checks the newest checkpoint: that it passed its last validation
// and that every object of its snapshots is still present with its size. A
// checkpoint whose validation failed, or with an object missing, fails; one not
// validated yet warns; no checkpoint at all warns when the [CheckpointPolicy]
// requires one and passes otherwise. Component "recovery", name "checkpoint", the
// names [Service.Validate] records its findings under.
type CheckpointCheck struct {
	s *Service
	p CheckpointPolicy
}

// NewCheckpointCheck returns a check of the checkpoints s keeps, judged by p.
func NewCheckpointCheck(s *Service, p CheckpointPolicy) *CheckpointCheck {
	return &CheckpointCheck{s: s, p: p}
}

// Component returns "recovery".
func (*CheckpointCheck) Component() string { return checkpointComponent }

// Name returns "checkpoint".
func (*CheckpointCheck) Name() string { return checkpointCheck }

// Check reads the newest checkpoint and verifies its snapshots quickly.
func (c *CheckpointCheck) Check(ctx context.Context) health.Result {
	cp, err := c.s.newest(ctx)
	if err != nil {
		return health.Result{Status: health.Fail, Message: "reading checkpoints: " + err.Error()}
	}
	if cp == nil {
		if !c.p.Required {
			return health.Result{Status: health.Pass, Message: "no checkpoint yet; none is required",
				Details: map[string]any{"required": false}}
		}
		return health.Result{Status: health.Warn, Message: "no checkpoint yet",
			Details: map[string]any{"required": true}}
	}
	details := map[string]any{
		"checkpoint": cp.ID, "created_at": cp.CreatedAt.Format(time.RFC3339Nano),
		"graphs": len(cp.Graphs), "validated": cp.Validated,
	}
	if !cp.ValidatedAt.IsZero() {
		details["validated_at"] = cp.ValidatedAt.Format(time.RFC3339Nano)
	}
	if cp.ValidationError != "" {
		return health.Result{Status: health.Fail, Message: fmt.Sprintf("checkpoint %s failed validation: %s", cp.ID, cp.ValidationError), Details: details}
	}
	for _, g := range cp.Graphs {
		rep, err := c.s.e.Verify(ctx, g.SnapshotID, false)
		if err == nil && !rep.OK {
			err = rep.Err()
		}
		if err != nil {
			if ctx.Err() != nil {
				return health.Result{Status: health.Fail, Message: "interrupted: " + ctx.Err().Error(), Details: details}
			}
			return health.Result{Status: health.Fail, Message: fmt.Sprintf("checkpoint %s: graph %s: snapshot %s: %v", cp.ID, g.GraphID, g.SnapshotID, err), Details: details}
		}
	}
	if !cp.Validated {
		return health.Result{Status: health.Warn, Message: fmt.Sprintf("checkpoint %s is not validated yet; its objects are present", cp.ID), Details: details}
	}
	return health.Result{Status: health.Pass, Message: fmt.Sprintf("checkpoint %s validated and its objects present", cp.ID), Details: details}
}
