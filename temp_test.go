package graphvault_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graphvault/graphvault"
	"github.com/graphvault/graphvault/store/blob/fileblob"
)

// writeTemp leaves a temporary file, as an interrupted write of the bucket's
// driver does, of the given age below the data folder's bucket.
func writeTemp(t *testing.T, data, name string, age time.Duration) string {
	t.Helper()
	p := filepath.Join(data, "bucket", filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("partial"), 0o640); err != nil {
		t.Fatal(err)
	}
	mod := time.Now().Add(-age)
	if err := os.Chtimes(p, mod, mod); err != nil {
		t.Fatal(err)
	}
	return p
}

func exists(t *testing.T, p string) bool {
	t.Helper()
	_, err := os.Stat(p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// TestOpenRemovesOldTemporaries checks that start-up removes the temporary objects
// older than TempMaxAge (default an hour) and logs how many, keeps younger ones,
// and that a GC removes those older than a short TempMaxAge and says so.
func TestOpenRemovesOldTemporaries(t *testing.T) {
	dir := t.TempDir()
	old := writeTemp(t, dir, "data/ab/"+fileblob.TempPrefix+"old", 2*time.Hour)
	fresh := writeTemp(t, dir, fileblob.TempPrefix+"fresh", 0)
	var log syncBuffer
	v := openVault(t, graphvault.Config{Data: dir, Demo: true, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if exists(t, old) {
		t.Error("a temporary object two hours old survived start-up")
	}
	if !exists(t, fresh) {
		t.Error("start-up removed a fresh temporary object")
	}
	if got := log.String(); !strings.Contains(got, "removed temporary objects") || !strings.Contains(got, "count=1") {
		t.Errorf("start-up log does not say that one temporary object was removed:\n%s", got)
	}
	if err := v.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	v = openVault(t, graphvault.Config{Data: dir, Demo: true, TempMaxAge: time.Minute})
	srv := serveVault(t, v.Handler())
	status, body := send(t, "POST", srv.URL+bk+"/graphs/"+graphvault.DemoGraph+"/snapshots?wait=true", "", "")
	if status != 201 {
		t.Fatalf("snapshot: %d %s", status, body)
	}
	stale := writeTemp(t, dir, "manifests/"+fileblob.TempPrefix+"stale", 5*time.Minute)
	status, body = send(t, "POST", srv.URL+bk+"/gc?wait=true", "", "")
	if status != 200 {
		t.Fatalf("gc: %d %s", status, body)
	}
	var res struct {
		TempRemoved *int `json:"temp_removed"`
	}
	if err := json.Unmarshal(body, &res); err != nil || res.TempRemoved == nil || *res.TempRemoved != 1 {
		t.Errorf("gc answered %s; want temp_removed 1", body)
	}
	if exists(t, stale) {
		t.Error("a temporary object older than TempMaxAge survived a GC")
	}
	if !exists(t, fresh) {
		t.Error("a GC removed a temporary object younger than TempMaxAge")
	}
}

func TestOpenRefusesNegativeTempMaxAge(t *testing.T) {
	v, err := graphvault.Open(t.Context(), graphvault.Config{Data: t.TempDir(), TempMaxAge: -time.Second,
		Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		v.Close(t.Context())
		t.Fatal("opened")
	}
	if !errors.Is(err, graphvault.ErrInvalid) {
		t.Fatalf("error %v is not ErrInvalid", err)
	}
}
