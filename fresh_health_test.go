package graphvault_test

import (
	"encoding/json"
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
