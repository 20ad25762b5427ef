package backup

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/meta"
)

// TestCorruptionEveryObject damages every object of an encrypted snapshot chain
// (full, incremental, incremental) in each way storage can: a flipped bit, a
// truncation, a deletion, and a swap with another object of the same kind. For each
// case a full verification must name the damaged object, and a restore must refuse
// and leave its target as it was.
func TestCorruptionEveryObject(t *testing.T) {
	h := newHarness(t, WithEncryptionKey(key(3)))
	g := loadGenerated(t, 120, 300, false)
	var rows []*meta.Snapshot
	for round := range 3 {
		if round > 0 {
			mutate(t, g, rand.New(rand.NewPCG(11, uint64(round))), round)
		}
		rows = append(rows, h.snapshot(g, KindAuto))
	}
	if rows[2].Kind != string(KindIncremental) || rows[2].ChainLen != 3 {
		t.Fatalf("newest snapshot is %s with a chain of %d, want incremental of 3", rows[2].Kind, rows[2].ChainLen)
	}

	// Every object of the chain, with the snapshot to check it through: the newest
	// one needs every layer; a manifest is checked through its own snapshot.
	type target struct {
		key      string
		prefix   string
		snapshot string
	}
	var targets []target
	newest := h.manifest(rows[2].ID)
	for _, o := range newest.Objects() {
		targets = append(targets, target{o.Key, o.Key[:strings.IndexByte(o.Key, '/')+1], rows[2].ID})
	}
	for _, r := range rows {
		targets = append(targets, target{r.ManifestKey, manifestPrefix, r.ID})
	}
	byPrefix := map[string][]string{}
	for _, tg := range targets {
		byPrefix[tg.prefix] = append(byPrefix[tg.prefix], tg.key)
	}
	for p, keys := range byPrefix {
		if len(keys) < 2 {
			t.Fatalf("only %d object(s) under %s: cannot swap", len(keys), p)
		}
	}

	rng := rand.New(rand.NewPCG(12, 13))
	damages := []struct {
		name string
		do   func(key string, orig []byte) error
	}{
		{"flip", func(key string, orig []byte) error {
			b := bytes.Clone(orig)
			b[rng.IntN(len(b))] ^= 1 << rng.IntN(8)
			return h.bucket.Put(h.ctx, key, b)
		}},
		{"truncate", func(key string, orig []byte) error {
			return h.bucket.Put(h.ctx, key, orig[:rng.IntN(len(orig))])
		}},
		{"delete", func(key string, _ []byte) error { return h.bucket.Delete(h.ctx, key) }},
		{"swap", func(key string, orig []byte) error {
			for {
				other := byPrefix[key[:strings.IndexByte(key, '/')+1]]
				o := other[rng.IntN(len(other))]
				if o == key {
					continue
				}
				b, err := h.bucket.Get(h.ctx, o)
				if err != nil {
					return err
				}
				return h.bucket.Put(h.ctx, key, b)
			}
		}},
	}
	// Damage the engine detects but does not attribute to the damaged object, or
	// that restore does not see; see RELIABILITY.md. Keyed by prefix and damage.
	var cases, named, refused, restoreNamed, missed int
	var missedBy []string
	for _, tg := range targets {
		orig, err := h.bucket.Get(h.ctx, tg.key)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range damages {
			cases++
			if err := d.do(tg.key, orig); err != nil {
				t.Fatal(err)
			}
			ok, what := checkDamage(t, h, tg.snapshot, tg.key)
			if err := h.bucket.Put(h.ctx, tg.key, orig); err != nil {
				t.Fatal(err)
			}
			if what.named {
				named++
			}
			if what.refused {
				refused++
			}
			if what.restoreNamed {
				restoreNamed++
			}
			if ok {
				continue
			}
			missed++
			id := tg.prefix + d.name
			missedBy = append(missedBy, id)
			t.Errorf("%s of %s: %s", d.name, tg.key, what.detail)
		}
	}
	slices.Sort(missedBy)
	missedBy = slices.Compact(missedBy)
	t.Logf("corruption cases %d: full verify named the object in %d, restore refused untouched in %d (its error naming the object in %d), fully detected %d (%.1f%%); not fully detected: %v",
		cases, named, refused, restoreNamed, cases-missed, 100*float64(cases-missed)/float64(cases), missedBy)
	// Undamaged again, everything verifies and restores.
	for _, r := range rows {
		if rep, err := h.engine.Verify(h.ctx, r.ID, true); err != nil || !rep.OK {
			t.Fatalf("after repair, %s: %v %+v", r.ID, err, rep)
		}
	}
	h.restoreEqual(rows[2].ID, content(t, g), false)
}

type damageResult struct {
	named, refused, restoreNamed bool
	detail                       string
}

// checkDamage runs a full verification and a restore of snapshot with key damaged.
func checkDamage(t *testing.T, h *harness, snapshot, key string) (bool, damageResult) {
	t.Helper()
	var res damageResult
	var problems []string
	rep, err := h.engine.Verify(h.ctx, snapshot, true)
	switch {
	case err != nil:
		problems = append(problems, fmt.Sprintf("verify returned an error, not a report: %v", err))
	case rep.OK:
		problems = append(problems, "full verify passed")
	case !slices.ContainsFunc(rep.Problems, func(p Problem) bool { return p.Object == key }):
		problems = append(problems, fmt.Sprintf("full verify blamed %+v", rep.Problems))
	default:
		res.named = true
	}
	seed := loadGenerated(t, 10, 15, false)
	before := content(t, seed)
	_, err = h.engine.Restore(h.ctx, snapshot, seed, RestoreOptions{})
	var ce *CorruptError
	switch {
	case err == nil:
		problems = append(problems, "restore succeeded")
	case graphtest.DiffContent(before, content(t, seed)) != "":
		problems = append(problems, "failed restore changed its target")
	default:
		// Refused and untouched is what a restore owes; the name is in the
		// verification report. Count whether the restore error names it too.
		res.refused = true
		res.restoreNamed = errors.As(err, &ce) && ce.Key == key
	}
	res.detail = strings.Join(problems, "; ")
	return len(problems) == 0, res
}
