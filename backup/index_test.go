package backup

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// storeOldIndex stores entries as the layer index format 2 and before wrote.
func storeOldIndex(t *testing.T, h *harness, entries []indexEntry) Object {
	t.Helper()
	raw := encodeIndex(slices.Clone(entries))
	key, stored, err := h.engine.pack(indexPrefix, raw, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.engine.put(h.ctx, key, stored); err != nil {
		t.Fatal(err)
	}
	return Object{Key: key, Size: int64(len(stored)), Raw: int64(len(raw))}
}

// liveBase streams what decodeIndex decodes, and refuses what it refuses.
func TestLiveBase(t *testing.T) {
	h := newHarness(t)
	var entries []indexEntry
	var want []liveEntry
	for i := range 70000 {
		kh := hashKey(fmt.Sprintf("e:%d\x00x\x00", i))
		if i%50 == 0 {
			entries = append(entries, indexEntry{kh: kh, tombstone: true})
			continue
		}
		entries = append(entries, indexEntry{kh: kh, rh: uint64(i) * 7})
		want = append(want, liveEntry{kh, uint64(i) * 7})
	}
	slices.SortFunc(want, byKeyHash)
	obj := storeOldIndex(t, h, entries)
	got, err := h.engine.liveBase(h.ctx, obj, nil)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("liveBase: %d entries, %v; want %d", len(got), err, len(want))
	}
	var ce *CorruptError
	wrongRaw := obj
	wrongRaw.Raw += 25
	if _, err := h.engine.liveBase(h.ctx, wrongRaw, nil); !errors.As(err, &ce) {
		t.Fatalf("wrong raw size: %v, want a CorruptError", err)
	}
	// A well-formed object whose entries are out of order.
	raw := encodeIndex([]indexEntry{{kh: hashKey("n:b"), rh: 1}, {kh: hashKey("n:a"), rh: 2}})
	// Swap the two entries: out of order.
	body := raw[len(raw)-50:]
	first := slices.Clone(body[:25])
	copy(body[:25], body[25:])
	copy(body[25:], first)
	key, stored, err := h.engine.pack(indexPrefix, raw, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.engine.put(h.ctx, key, stored); err != nil {
		t.Fatal(err)
	}
	bad := Object{Key: key, Size: int64(len(stored)), Raw: int64(len(raw))}
	_, err1 := h.engine.liveBase(h.ctx, bad, nil)
	_, err2 := decodeIndex(raw)
	if !errors.As(err1, &ce) || err2 == nil {
		t.Fatalf("unordered index: liveBase %v, decodeIndex %v; want both refused", err1, err2)
	}
}
