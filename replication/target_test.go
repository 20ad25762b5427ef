package replication

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/memblob"
	"github.com/graphvault/graphvault/store/meta"
)

// fakeS3 starts an in-process S3 server holding one bucket, "replica".
func fakeS3(t *testing.T) string {
	t.Helper()
	be := s3mem.New()
	if err := be.CreateBucket("replica"); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(gofakes3.New(be).Server())
	t.Cleanup(ts.Close)
	return ts.URL
}

// receiverServer serves a receiver over a memory bucket.
func receiverServer(t *testing.T, token string) (*httptest.Server, *memblob.Driver) {
	t.Helper()
	drv := memblob.New()
	ts := httptest.NewServer(NewReceiver(blob.NewBucket(nopClose{drv}), token))
	t.Cleanup(ts.Close)
	return ts, drv
}

func TestRegisterRefusesBadTargets(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 10, edges: 10})
	s3URL := fakeS3(t)
	recv, _ := receiverServer(t, "right-token")
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	h.target("taken")
	tests := []struct {
		name string
		spec TargetSpec
		want error
	}{
		{"unknown kind", TargetSpec{Name: "x", Kind: "ftp"}, ErrInvalid},
		{"no name", TargetSpec{Kind: KindFile, Config: map[string]string{"path": "/a"}}, ErrInvalid},
		{"name with control characters", TargetSpec{Name: "a\nb", Kind: KindFile, Config: map[string]string{"path": "/a"}}, ErrInvalid},
		{"name taken", TargetSpec{Name: "taken", Kind: KindFile, Config: map[string]string{"path": "/b"}}, ErrConflict},
		{"relative path", TargetSpec{Name: "x", Kind: KindFile, Config: map[string]string{"path": "replica/here"}}, ErrInvalid},
		{"no path", TargetSpec{Name: "x", Kind: KindFile}, ErrInvalid},
		{"unknown config key", TargetSpec{Name: "x", Kind: KindFile, Config: map[string]string{"path": "/a", "speed": "9"}}, ErrInvalid},
		{"file with a secret", TargetSpec{Name: "x", Kind: KindFile, Config: map[string]string{"path": "/a"}, Secret: "s"}, ErrInvalid},
		{"s3 without bucket", TargetSpec{Name: "x", Kind: KindS3, Config: map[string]string{"endpoint": s3URL}}, ErrInvalid},
		{"s3 without endpoint", TargetSpec{Name: "x", Kind: KindS3, Config: map[string]string{"bucket": "replica"}}, ErrInvalid},
		{"s3 endpoint with credentials", TargetSpec{Name: "x", Kind: KindS3, Config: map[string]string{"endpoint": "http://k:s@host", "bucket": "b"}}, ErrInvalid},
		{"s3 access key without secret", TargetSpec{Name: "x", Kind: KindS3, Config: map[string]string{"endpoint": s3URL, "bucket": "b", "access_key": "k"}}, ErrInvalid},
		{"s3 secure not a boolean", TargetSpec{Name: "x", Kind: KindS3, Config: map[string]string{"endpoint": s3URL, "bucket": "b", "secure": "maybe"}}, ErrInvalid},
		{"s3 missing bucket, verified", TargetSpec{Name: "x", Kind: KindS3, Config: map[string]string{"endpoint": s3URL, "bucket": "nope", "access_key": "k"}, Secret: "s", Verify: true}, ErrUnreachable},
		{"http bad url", TargetSpec{Name: "x", Kind: KindHTTP, Config: map[string]string{"base_url": "ftp://x"}, Secret: "t"}, ErrInvalid},
		{"http url with credentials", TargetSpec{Name: "x", Kind: KindHTTP, Config: map[string]string{"base_url": "http://u:p@host/r"}, Secret: "t"}, ErrInvalid},
		{"http without token", TargetSpec{Name: "x", Kind: KindHTTP, Config: map[string]string{"base_url": recv.URL}}, ErrInvalid},
		{"http unreachable, verified", TargetSpec{Name: "x", Kind: KindHTTP, Config: map[string]string{"base_url": dead.URL}, Secret: "t", Verify: true}, ErrUnreachable},
		{"http wrong token, verified", TargetSpec{Name: "x", Kind: KindHTTP, Config: map[string]string{"base_url": recv.URL}, Secret: "wrong", Verify: true}, ErrUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := h.svc.List(h.ctx)
			if err != nil {
				t.Fatal(err)
			}
			got, err := h.svc.Register(h.ctx, tt.spec)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
			after, err := h.svc.List(h.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != len(before) {
				t.Fatalf("a refused target was stored: %d targets, want %d", len(after), len(before))
			}
		})
	}
}

func TestRegisterEveryKind(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 100, edges: 100})
	s3URL := fakeS3(t)
	recv, recvDrv := receiverServer(t, "right-token")
	dir := t.TempDir()
	specs := []TargetSpec{
		{Name: "disk", Kind: KindFile, Config: map[string]string{"path": dir}, Verify: true},
		{Name: "bucket", Kind: KindS3, Config: map[string]string{"endpoint": s3URL, "bucket": "replica", "prefix": "/gv/", "access_key": "ak", "region": "us-east-1"}, Secret: "sk", Verify: true},
		{Name: "peer", Kind: KindHTTP, Config: map[string]string{"base_url": recv.URL + "/"}, Secret: "right-token", Verify: true},
	}
	// The harness opener keeps file targets in memory; use the built-in drivers here.
	h.svc.cfg.opener = nil
	row := h.snapshot(backup.KindFull)
	for _, spec := range specs {
		t.Run(spec.Kind, func(t *testing.T) {
			tg, err := h.svc.Register(h.ctx, spec)
			if err != nil {
				t.Fatal(err)
			}
			if tg.Health != HealthHealthy || !tg.Enabled || tg.Secret != spec.Secret {
				t.Errorf("got health %q enabled %t, want healthy and enabled", tg.Health, tg.Enabled)
			}
			res := h.replicate(row.ID, tg.ID, true)
			if !res.OK || res.ObjectsCopied == 0 {
				t.Fatalf("replicate to %s: %+v", spec.Kind, res)
			}
		})
	}
	if _, err := fileBucketHas(t, dir, row.ManifestKey); err != nil {
		t.Error(err)
	}
	if _, err := blob.NewBucket(nopClose{recvDrv}).Stat(h.ctx, row.ManifestKey); err != nil {
		t.Errorf("receiver: %v", err)
	}
}

func TestTargetLifecycle(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 10, edges: 10})
	a := h.target("a")
	b := h.target("b")
	got, err := h.svc.Get(h.ctx, a.ID)
	if err != nil || got.Name != "a" || got.Kind != KindFile || got.Config["path"] != "/srv/replica/a" {
		t.Fatalf("Get: got %+v, %v", got, err)
	}
	list, err := h.svc.List(h.ctx)
	if err != nil || len(list) != 2 || list[0].Name != "a" || list[1].Name != "b" {
		t.Fatalf("List: got %v, %v; want a, b", list, err)
	}
	name := "a2"
	if got, err = h.svc.Update(h.ctx, a.ID, TargetPatch{Name: &name, Config: map[string]string{"path": "/srv/other"}}); err != nil {
		t.Fatal(err)
	}
	if got.Name != "a2" || got.Config["path"] != "/srv/other" {
		t.Errorf("Update: got %+v", got)
	}
	taken := "b"
	if _, err := h.svc.Update(h.ctx, a.ID, TargetPatch{Name: &taken}); !errors.Is(err, ErrConflict) {
		t.Errorf("rename to a taken name: got %v, want ErrConflict", err)
	}
	if _, err := h.svc.Update(h.ctx, a.ID, TargetPatch{Config: map[string]string{"path": "rel"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("relative path: got %v, want ErrInvalid", err)
	}
	if got, _ := h.svc.Get(h.ctx, a.ID); got.Config["path"] != "/srv/other" {
		t.Errorf("a refused update changed the target: %+v", got)
	}
	if got, err = h.svc.Disable(h.ctx, b.ID); err != nil || got.Enabled {
		t.Errorf("Disable: got %+v, %v", got, err)
	}
	if got, err = h.svc.Enable(h.ctx, b.ID); err != nil || !got.Enabled {
		t.Errorf("Enable: got %+v, %v", got, err)
	}
	if err := h.svc.Remove(h.ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Get(h.ctx, b.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Remove: got %v, want ErrNotFound", err)
	}
	if err := h.svc.Remove(h.ctx, b.ID); !errors.Is(err, ErrNotFound) || !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("Remove twice: got %v, want ErrNotFound", err)
	}
}

func fileBucketHas(t *testing.T, dir, key string) (bool, error) {
	t.Helper()
	drv, err := (&Service{}).builtinDriver(t.Context(), &meta.Target{Kind: KindFile, Config: map[string]string{"path": dir}})
	if err != nil {
		return false, err
	}
	b := blob.NewBucket(drv)
	defer b.Close()
	if _, err := b.Stat(t.Context(), key); err != nil {
		return false, err
	}
	return true, nil
}
