package lightrag

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/lightrag/lightragtest"
)

// objects returns the keys and sizes of every object in the bucket.
func (h *harness) objects() map[string]int64 {
	out := map[string]int64{}
	for a, err := range h.drv.List(h.ctx, "") {
		if err != nil {
			h.t.Fatal(err)
		}
		out[a.Key] = a.Size
	}
	return out
}

// TestPropertyEditRestore edits random entries of each store, snapshots after
// each round and restores every snapshot byte for byte.
func TestPropertyEditRestore(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			h := newHarness(t)
			w := lightragtest.New(lightragtest.Options{Seed: seed, Docs: 4, Entities: 25, Relations: 50, Dim: 4})
			type taken struct{ id, dir string }
			var snaps []taken
			for round := range 2 * len(lightragtest.Stores) {
				store := lightragtest.Stores[round%len(lightragtest.Stores)]
				if round > 0 {
					w.Mutate(store, 1+round%4)
				}
				dir := filepath.Join(t.TempDir(), "ws")
				if err := w.Write(dir); err != nil {
					t.Fatal(err)
				}
				snaps = append(snaps, taken{h.snapshot(dir).ID, dir})
			}
			for i, s := range snaps {
				out := filepath.Join(t.TempDir(), "r")
				if _, err := h.restore(s.id, out); err != nil {
					t.Fatalf("restore %d: %v", i, err)
				}
				sameTree(t, s.dir, out)
			}
		})
	}
}

// TestIncrementalOneEntry: changing one key-value entry adds a few KiB of new
// objects, manifest included, not the file again.
func TestIncrementalOneEntry(t *testing.T) {
	h := newHarness(t)
	w := lightragtest.New(lightragtest.Options{Seed: 5, Docs: 60, Entities: 400, Relations: 1200, Dim: 64})
	dir := t.TempDir()
	if err := w.Write(dir); err != nil {
		t.Fatal(err)
	}
	h.snapshot(dir)
	before := h.objects()
	var full int64
	for _, s := range before {
		full += s
	}
	w.Mutate(lightragtest.StoreChunks, 1)
	if err := w.Write(dir); err != nil {
		t.Fatal(err)
	}
	row := h.snapshot(dir)
	var added int64
	for k, s := range h.objects() {
		if _, ok := before[k]; !ok {
			added += s
		}
	}
	t.Logf("full %d bytes, incremental after one entry %d bytes (%s)", full, added, row.Kind)
	if added > 6<<10 {
		t.Errorf("one changed entry added %d bytes of objects (full: %d)", added, full)
	}
	out := filepath.Join(t.TempDir(), "r")
	if _, err := h.restore(row.ID, out); err != nil {
		t.Fatal(err)
	}
	sameTree(t, dir, out)
}

// TestDamagedObject: any damaged stored object makes the restore fail, and the
// target is left as it was.
func TestDamagedObject(t *testing.T) {
	h := newHarness(t)
	src := t.TempDir()
	if err := os.CopyFS(src, os.DirFS(fixture)); err != nil {
		t.Fatal(err)
	}
	row := h.snapshot(src)
	for key, size := range h.objects() {
		if filepath.Dir(filepath.Dir(key)) == "manifests" || size == 0 {
			continue
		}
		data, err := h.drv.Get(h.ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		bad := append([]byte(nil), data...)
		bad[len(bad)/2] ^= 0x40
		if err := h.drv.Put(h.ctx, key, bad); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "r")
		os.Mkdir(out, 0o755)
		os.WriteFile(filepath.Join(out, "keep"), []byte("old"), 0o644)
		_, err = h.restore(row.ID, out)
		if err == nil {
			t.Errorf("%s damaged: the restore succeeded", key)
		} else if !errors.Is(err, backup.ErrCorrupt) && !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s damaged: %v, want a corruption error", key, err)
		}
		if b, _ := os.ReadFile(filepath.Join(out, "keep")); string(b) != "old" {
			t.Errorf("%s damaged: the target was changed", key)
		}
		h.drv.Put(h.ctx, key, data)
	}
}

// TestUnsettled: a folder rewritten during every read fails with ErrUnsettled;
// one rewritten once is read again and snapshotted consistently.
func TestUnsettled(t *testing.T) {
	src := t.TempDir()
	if err := os.CopyFS(src, os.DirFS(fixture)); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(src, "kv_store_full_docs.json")
	writes := 0
	readHook = func(p string) {
		if p == target && writes < 1000 {
			writes++
			os.WriteFile(filepath.Join(src, "kv_store_doc_status.json"), []byte(fmt.Sprintf("{\"n\": %d}", writes)), 0o644)
		}
	}
	t.Cleanup(func() { readHook = nil })
	d, err := New(src, WithRetries(3, 0), WithScratch(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.View(context.Background()); !errors.Is(err, ErrUnsettled) {
		t.Fatalf("got %v, want ErrUnsettled", err)
	}
	writes = 999 // one more write, then the folder settles
	v, err := d.View(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
	if writes != 1000 {
		t.Errorf("%d writes", writes)
	}
}
