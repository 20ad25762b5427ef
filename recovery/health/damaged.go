package health

import (
	"context"
	"fmt"
	"strings"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/meta"
)

// DamagedSnapshotsCheck names every snapshot found damaged: one whose Error
// starts with [backup.DamagedPrefix], because a verification found it damaged or
// a host could not restore it at start-up and marked it failed. Any such snapshot
// warns, whatever newer snapshots exist, until it is deleted or, when it is still
// completed, verifies clean again. Component "backup", name "damaged".
type DamagedSnapshotsCheck struct {
	st *meta.Store
}

// NewDamagedSnapshotsCheck returns a check of the snapshots kept in st.
func NewDamagedSnapshotsCheck(st *meta.Store) *DamagedSnapshotsCheck {
	return &DamagedSnapshotsCheck{st: st}
}

// Component returns "backup".
func (*DamagedSnapshotsCheck) Component() string { return "backup" }

// Name returns "damaged".
func (*DamagedSnapshotsCheck) Name() string { return "damaged" }

// damagedListed bounds how many damaged snapshots one result names; the count
// covers all of them.
const damagedListed = 100

// DamagedSnapshot is what [DamagedSnapshotsCheck] reports of one snapshot; the
// check's Details hold one under "snapshots" → snapshot id.
type DamagedSnapshot struct {
	GraphID string `json:"graph_id"`
	Status  string `json:"status"`
	Error   string `json:"error"`
}

// Check lists the damaged snapshots, newest first. None passes; any warns,
// naming each (the first hundred) by id and graph. A store that cannot be read
// fails.
func (c *DamagedSnapshotsCheck) Check(ctx context.Context) Result {
	f := meta.SnapshotFilter{ErrorPrefix: backup.DamagedPrefix, Limit: damagedListed}
	rows, _, err := c.st.ListSnapshots(ctx, f)
	if err != nil {
		return Result{Status: Fail, Message: "cannot list snapshots: " + err.Error()}
	}
	if len(rows) == 0 {
		return Result{Status: Pass, Message: "no snapshot found damaged", Details: map[string]any{"count": 0}}
	}
	n := len(rows)
	if n == damagedListed {
		if n, err = c.st.CountSnapshots(ctx, f); err != nil {
			return Result{Status: Fail, Message: "cannot count snapshots: " + err.Error()}
		}
	}
	snaps := make(map[string]DamagedSnapshot, len(rows))
	parts := make([]string, 0, len(rows))
	for _, r := range rows {
		snaps[r.ID] = DamagedSnapshot{GraphID: r.GraphID, Status: r.Status, Error: r.Error}
		parts = append(parts, fmt.Sprintf("snapshot %s of graph %s (%s)", r.ID, r.GraphID, r.Status))
	}
	msg := fmt.Sprintf("%d damaged snapshot(s), to delete or repair: %s", n, strings.Join(parts, "; "))
	if n > len(rows) {
		msg += fmt.Sprintf("; and %d more", n-len(rows))
	}
	return Result{Status: Warn, Message: msg, Details: map[string]any{"count": n, "snapshots": snaps}}
}
