package graphvault_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graphvault/graphvault"
	"github.com/graphvault/graphvault/recovery/health"
)

// snapshotDemo takes a snapshot of the demo graph over HTTP and returns its id
// and manifest key.
func snapshotDemo(t *testing.T, v *graphvault.Vault) (id, manifest string) {
	t.Helper()
	srv := serveVault(t, v.Handler())
	status, body := send(t, "POST", srv.URL+bk+"/graphs/"+graphvault.DemoGraph+"/snapshots?wait=true", "", "")
	if status != 201 {
		t.Fatalf("snapshot: %d %s", status, body)
	}
	var row struct {
		ID          string `json:"id"`
		ManifestKey string `json:"manifest_key"`
	}
	if err := json.Unmarshal(body, &row); err != nil || row.ID == "" {
		t.Fatalf("snapshot answer %s: %v", body, err)
	}
	return row.ID, row.ManifestKey
}

// damagedReason returns the health report's reason from the damaged-snapshots
// check, or "".
func damagedReason(rep health.Report) string {
	for _, r := range rep.Reasons {
		if strings.HasPrefix(r, "backup:damaged:") {
			return r
		}
	}
	return ""
}

// TestHealthNamesDamagedSnapshots checks that a fresh install passes health after
// its first snapshot, and that a newest snapshot found damaged at start makes
// health warn naming it, also after a newer good snapshot, until it is deleted.
func TestHealthNamesDamagedSnapshots(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	v := openVault(t, graphvault.Config{Data: dir, Demo: true})
	snapshotDemo(t, v)
	if rep := v.Health().Run(ctx); rep.Status != health.Pass {
		t.Fatalf("fresh install after its first snapshot: %s %v; want pass", rep.Status, rep.Reasons)
	}
	damaged, manifest := snapshotDemo(t, v)
	if err := v.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bucket", filepath.FromSlash(manifest)), []byte("{not a manifest"), 0o640); err != nil {
		t.Fatal(err)
	}

	v = openVault(t, graphvault.Config{Data: dir, Demo: true})
	rep := v.Health().Run(ctx)
	if rep.Status != health.Warn || !strings.Contains(damagedReason(rep), damaged) {
		t.Fatalf("after reopening over a damaged newest snapshot: %s %v; want warn naming %s", rep.Status, rep.Reasons, damaged)
	}
	snapshotDemo(t, v)
	rep = v.Health().Run(ctx)
	if rep.Status != health.Warn || !strings.Contains(damagedReason(rep), damaged) {
		t.Fatalf("after a newer good snapshot: %s %v; want still warn naming %s", rep.Status, rep.Reasons, damaged)
	}
	if err := v.Engine().Delete(ctx, damaged); err != nil {
		t.Fatal(err)
	}
	if rep := v.Health().Run(ctx); rep.Status != health.Pass {
		t.Fatalf("after deleting the damaged snapshot: %s %v; want pass", rep.Status, rep.Reasons)
	}
}
