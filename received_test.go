package graphvault_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/graphvault/graphvault"
	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/replication"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/meta"
)

// A server that receives snapshots lists each as it arrives, and refuses the
// snapshots of a graph it serves itself instead of mixing them with its own.
func TestReceivedSnapshots(t *testing.T) {
	ctx := t.Context()
	sender := openVault(t, graphvault.Config{Demo: true})
	row, err := sender.Engine().Snapshot(ctx, graphvault.DemoGraph, mustGraph(t, sender, graphvault.DemoGraph), backup.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	push := func(name string, to *graphvault.Vault) replication.Result {
		t.Helper()
		srv := serveVault(t, to.Handler())
		tg, err := sender.Replication().Register(ctx, replication.TargetSpec{Name: name, Kind: replication.KindHTTP,
			Config: map[string]string{"base_url": srv.URL + "/api/backup/replication/receive"}, Secret: testToken})
		if err != nil {
			t.Fatal(err)
		}
		res, _ := sender.Replication().Replicate(ctx, row.ID, replication.ReplicateOptions{TargetID: tg.ID})
		if len(res) != 1 {
			t.Fatalf("replicate to %s: %d results", name, len(res))
		}
		return res[0]
	}

	t.Run("listed", func(t *testing.T) {
		replica := openVault(t, graphvault.Config{Token: testToken})
		if res := push("replica", replica); !res.OK {
			t.Fatalf("replicate: %+v", res)
		}
		got, err := replica.Store().GetSnapshot(ctx, row.ID)
		if err != nil || got.Status != meta.SnapshotCompleted || got.GraphID != graphvault.DemoGraph {
			t.Fatalf("the replica lists %+v, %v", got, err)
		}
		if rep, err := replica.Engine().Verify(ctx, row.ID, true); err != nil || !rep.OK {
			t.Fatalf("the received snapshot does not verify: %v %+v", err, rep)
		}
	})

	t.Run("own graph refused", func(t *testing.T) {
		own := openVault(t, graphvault.Config{Token: testToken, Demo: true})
		res := push("own", own)
		if res.OK || !strings.Contains(res.Error, "403") {
			t.Fatalf("replicating a graph the receiver serves: %+v", res)
		}
		if _, err := own.Store().GetSnapshot(ctx, row.ID); !errors.Is(err, meta.ErrNotFound) {
			t.Fatalf("the receiver indexed the other server's snapshot of its own graph: %v", err)
		}
	})
}

// mustGraph returns the served graph id.
func mustGraph(t testing.TB, v *graphvault.Vault, id string) graph.Graph {
	t.Helper()
	g, err := v.Graphs().Graph(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return g
}
