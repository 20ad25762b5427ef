package health

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/graphvault/graphvault/store/meta"
)

// LeasesCheck says which instance holds which lease of the store: the
// scheduled jobs and the instances sharing the store. Component "store", name
// "leases".
type LeasesCheck struct {
	st   *meta.Store
	self string
}

// NewLeasesCheck returns a check of the leases kept in st; self names the
// instance that answers, reported beside them.
func NewLeasesCheck(st *meta.Store, self string) *LeasesCheck {
	return &LeasesCheck{st: st, self: self}
}

// Component returns "store".
func (*LeasesCheck) Component() string { return "store" }

// Name returns "leases".
func (*LeasesCheck) Name() string { return "leases" }

// LeaseHolder is what [LeasesCheck] reports of one lease; the check's Details
// hold one under "leases" → lease name.
type LeaseHolder struct {
	Holder    string    `json:"holder"`
	ExpiresAt time.Time `json:"expires_at"`
	Expired   bool      `json:"expired,omitempty"`
}

// Check lists the leases and their holders. It passes whatever they are: a lease
// is how instances share work, not a fault. A store that cannot be read fails.
func (c *LeasesCheck) Check(ctx context.Context) Result {
	ls, err := c.st.ListLeases(ctx)
	if err != nil {
		return Result{Status: Fail, Message: "cannot list leases: " + err.Error()}
	}
	now := time.Now()
	held := make(map[string]LeaseHolder, len(ls))
	parts := make([]string, 0, len(ls))
	for _, l := range ls {
		h := LeaseHolder{Holder: l.Holder, ExpiresAt: l.ExpiresAt, Expired: l.Expired(now)}
		held[l.Name] = h
		if h.Expired {
			parts = append(parts, fmt.Sprintf("%s expired (last held by %s)", l.Name, l.Holder))
		} else {
			parts = append(parts, fmt.Sprintf("%s held by %s", l.Name, l.Holder))
		}
	}
	msg := fmt.Sprintf("instance %s answers; %d lease(s)", c.self, len(ls))
	if len(parts) > 0 {
		msg += ": " + strings.Join(parts, "; ")
	}
	return Result{Status: Pass, Message: msg, Details: map[string]any{"instance": c.self, "leases": held}}
}
