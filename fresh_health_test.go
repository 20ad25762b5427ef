package graphvault_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graphvault/graphvault"
	"github.com/graphvault/graphvault/recovery/health"
)

// Health reflects an event within about a second, not at the next periodic run
// (a minute by default): a checkpoint made, validated, deleted.
func TestHealthFollowsEvents(t *testing.T) {
	v := openVault(t, graphvault.Config{Demo: true})
	if err := v.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv := serveVault(t, v.Handler())
	// within waits up to two seconds for the checkpoint check's message to hold s.
	within := func(what, s string) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for {
			msg := ""
			if rep, ok := v.Health().Last(); ok {
				for _, c := range rep.Checks {
					if c.Component == "recovery" && c.Check == "checkpoint" {
						msg = c.Message
					}
				}
			}
			if strings.Contains(msg, s) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: health still says %q two seconds later", what, msg)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	status, body := send(t, "POST", srv.URL+"/api/backup/recovery/checkpoints", "", `{"graph_ids":["graph1"]}`)
	if status != 201 {
		t.Fatalf("checkpoint: %d %s", status, body)
	}
	var cp struct{ ID string }
	if err := json.Unmarshal(body, &cp); err != nil {
		t.Fatal(err)
	}
	within("a checkpoint made", cp.ID+" is not validated yet")

	// Validation runs as an operation (202); health follows when it finishes.
	status, body = send(t, "POST", srv.URL+"/api/backup/recovery/checkpoints/"+cp.ID+"/validate", "", "")
	if status/100 != 2 {
		t.Fatalf("validate: %d %s", status, body)
	}
	within("a checkpoint validated", cp.ID+" validated")

	// Deleting it commits nothing; health follows all the same.
	status, body = send(t, "DELETE", srv.URL+"/api/backup/recovery/checkpoints/"+cp.ID, "", "")
	if status/100 != 2 {
		t.Fatalf("delete: %d %s", status, body)
	}
	within("a checkpoint deleted", "no checkpoint yet")
	if rep, _ := v.Health().Last(); rep.Status == health.Fail {
		t.Fatalf("health fails: %v", rep.Reasons)
	}
}

// A change outside the recovery API (here, deleting a damaged snapshot) commits
// nothing, yet health follows it within about a second.
func TestHealthFollowsADeletion(t *testing.T) {
	dir := t.TempDir()
	v := openVault(t, graphvault.Config{Data: dir, Demo: true})
	damaged, manifest := snapshotDemo(t, v)
	snapshotDemo(t, v)
	closeVault(t, v)
	if err := os.WriteFile(filepath.Join(dir, "bucket", filepath.FromSlash(manifest)), []byte("{not a manifest"), 0o640); err != nil {
		t.Fatal(err)
	}
	// The newest is intact, so start-up does not meet the damage; a verify marks it.
	v = openVault(t, graphvault.Config{Data: dir})
	if err := v.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv := serveVault(t, v.Handler())
	if status, body := send(t, "POST", srv.URL+bk+"/snapshots/"+damaged+"/verify?wait=true", "", `{"full":true}`); status/100 != 2 && status != 422 {
		t.Fatalf("verify: %d %s", status, body)
	}
	waitHealth := func(what string, ok func(health.Report) bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for {
			if rep, done := v.Health().Last(); done && ok(rep) {
				return
			}
			if time.Now().After(deadline) {
				rep, _ := v.Health().Last()
				t.Fatalf("%s: health still %s %v two seconds later", what, rep.Status, rep.Reasons)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitHealth("a damaged snapshot verified", func(rep health.Report) bool { return strings.Contains(damagedReason(rep), damaged) })
	if status, body := send(t, "DELETE", srv.URL+bk+"/snapshots/"+damaged, "", ""); status/100 != 2 {
		t.Fatalf("delete: %d %s", status, body)
	}
	waitHealth("the damaged snapshot deleted", func(rep health.Report) bool { return damagedReason(rep) == "" })
}
