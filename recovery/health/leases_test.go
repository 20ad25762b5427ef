package health_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/graphvault/graphvault/recovery/health"
	"github.com/graphvault/graphvault/store/meta"
)

func TestLeasesCheck(t *testing.T) {
	ctx := context.Background()
	st, err := meta.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := health.NewLeasesCheck(st, "node-a")
	if r := c.Check(ctx); r.Status != health.Pass || !strings.Contains(r.Message, "node-a answers; 0 lease(s)") {
		t.Fatalf("no lease: %+v", r)
	}
	if ok, err := st.AcquireLease(ctx, "graphvault.schedule.g1", "node-b", time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	r := c.Check(ctx)
	leases, _ := r.Details["leases"].(map[string]health.LeaseHolder)
	if r.Status != health.Pass || leases["graphvault.schedule.g1"].Holder != "node-b" || !strings.Contains(r.Message, "graphvault.schedule.g1 held by node-b") {
		t.Fatalf("a held lease: %+v", r)
	}
	st.Close()
	if r := c.Check(ctx); r.Status != health.Fail {
		t.Fatalf("a closed store: %+v, want fail", r)
	}
}
