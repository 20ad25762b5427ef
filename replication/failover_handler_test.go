package replication

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/graph/graphtest"
)

func TestFailoverHandler(t *testing.T) {
	h, _ := journalHarness(t, harnessOpts{nodes: 100, edges: 200})
	h.target("replica")
	row := h.snapshot(backup.KindFull)
	if _, err := h.svc.Replicate(h.ctx, row.ID, ReplicateOptions{}); err != nil {
		t.Fatal(err)
	}
	want, err := graphtest.Read(h.ctx, h.graph)
	if err != nil {
		t.Fatal(err)
	}
	// The primary's graph is emptied; the failover brings it back.
	v, err := graphtest.Content{Meta: want.Meta}.View(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.graph.Replace(h.ctx, v.Meta(), v.Nodes(h.ctx), v.Edges(h.ctx)); err != nil {
		t.Fatal(err)
	}
	if n, _ := h.graph.Len(); n != 0 {
		t.Fatalf("%d nodes left", n)
	}
	a := newAPI(t, h)
	tests := []struct {
		name, body string
		wantCode   int
		wantIn     string
	}{
		{"bad json", `{"graph_id":`, http.StatusBadRequest, ""},
		{"bad graph id", `{"graph_id":"../x"}`, http.StatusBadRequest, "graph_id"},
		{"unknown graph", `{"graph_id":"nope"}`, http.StatusNotFound, ""},
		{"restores", `{"graph_id":"g1"}`, http.StatusOK, `"source":"primary"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, _ := a.do("POST", "/failover?wait=true", tt.body)
			if code != tt.wantCode || !strings.Contains(body, tt.wantIn) {
				t.Fatalf("got %d %s, want %d with %q", code, body, tt.wantCode, tt.wantIn)
			}
		})
	}
	var res FailoverResult
	_, body, _ := a.do("POST", "/failover?wait=true", `{"graph_id":"g1"}`)
	if err := json.Unmarshal([]byte(body), &res); err != nil || len(res.Sources) != 2 {
		t.Fatalf("result %s: %v", body, err)
	}
	sameContent(t, want, h.graph)

	plain := newHarness(t, harnessOpts{nodes: 10, edges: 10})
	if code, body, _ := newAPI(t, plain).do("POST", "/failover?wait=true", `{"graph_id":"g1"}`); code != http.StatusBadRequest {
		t.Fatalf("without a catalog: got %d %s, want 400", code, body)
	}
}

// TestJournalToHTTPTarget ships the journal to a receive endpoint, which checks
// each segment's hash; a follower-side replay from the receiver equals the primary.
func TestJournalToHTTPTarget(t *testing.T) {
	h, _ := journalHarness(t, harnessOpts{nodes: 100, edges: 200})
	recv, _ := receiverServer(t, "journal-token")
	if _, err := h.svc.Register(h.ctx, TargetSpec{Name: "peer", Kind: KindHTTP,
		Config: map[string]string{"base_url": recv.URL}, Secret: "journal-token"}); err != nil {
		t.Fatal(err)
	}
	h.edit(8, "http")
	if err := h.svc.ShipJournal(h.ctx); err != nil {
		t.Fatal(err)
	}
	client := blob.NewBucket(NewReceiverDriver(recv.URL, "journal-token", nil))
	got, pos := replay(t, client, "g1")
	if pos != h.position() {
		t.Fatalf("replayed to %d, want %d", pos, h.position())
	}
	sameContent(t, h.graph, got)

	// A segment whose body does not match its key is refused.
	segs, err := ListSegments(h.ctx, client, "g1", 0)
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments %v, %v", segs, err)
	}
	data, err := client.Get(h.ctx, segs[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	if err := client.Put(h.ctx, segs[0].Key, data); err == nil {
		t.Fatal("the receiver accepted a segment that fails its hash")
	}
	if err := client.Put(h.ctx, JournalHeadKey("g1"), []byte(`{"format":1,"graph_id":"other"}`)); err == nil {
		t.Fatal("the receiver accepted a HEAD of another graph")
	}
}
