package backup

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// storeIndex writes, across several runs, the same index encodeIndex describes.
func TestStoreIndexMatchesEncodeIndex(t *testing.T) {
	h := newHarness(t)
	var l entryList
	var want []indexEntry
	for i := range 2*entryRunSize + 123 {
		e := indexEntry{kh: hashKey(fmt.Sprintf("n:%d", i)), rh: uint64(i)}
		if i%97 == 0 {
			e = indexEntry{kh: e.kh, tombstone: true} // a tombstone carries no value hash
		}
		l.add(e)
		want = append(want, e)
	}
	if recs, tombs := l.counts(); recs+tombs != int64(len(want)) || tombs != int64((len(want)+96)/97) {
		t.Fatalf("counts %d + %d, want %d entries", recs, tombs, len(want))
	}
	obj, written, err := h.engine.storeIndex(h.ctx, &l, nil)
	if err != nil {
		t.Fatal(err)
	}
	if written != obj.Size {
		t.Fatalf("wrote %d bytes of a %d-byte object", written, obj.Size)
	}
	raw, err := h.engine.load(h.ctx, obj, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != string(encodeIndex(slices.Clone(want))) {
		t.Fatal("stored index differs from encodeIndex of the same entries")
	}
	// The same entries again: the same object, nothing new written.
	var again entryList
	for _, e := range want {
		again.add(e)
	}
	if obj2, written, err := h.engine.storeIndex(h.ctx, &again, nil); err != nil || obj2 != obj || written != 0 {
		t.Fatalf("second store: %+v, %d, %v; want the same object and 0 bytes", obj2, written, err)
	}
}

func TestStoreIndexRefusesADuplicateKey(t *testing.T) {
	h := newHarness(t)
	var l entryList
	for i := range entryRunSize + 10 {
		l.add(indexEntry{kh: hashKey(fmt.Sprintf("n:%d", i))})
	}
	l.add(indexEntry{kh: hashKey("n:5"), rh: 1}) // in another run than the first "n:5"
	if _, _, err := h.engine.storeIndex(h.ctx, &l, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v, want ErrInvalid", err)
	}
	// A tombstone and a record of one key are refused too.
	var mixed entryList
	mixed.add(indexEntry{kh: hashKey("n:x"), rh: 3})
	mixed.add(indexEntry{kh: hashKey("n:y"), tombstone: true})
	mixed.add(indexEntry{kh: hashKey("n:x"), tombstone: true})
	if _, _, err := h.engine.storeIndex(h.ctx, &mixed, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("record and tombstone of one key: got %v, want ErrInvalid", err)
	}
}

// liveBase streams what decodeIndex decodes, and refuses what it refuses.
func TestLiveBase(t *testing.T) {
	h := newHarness(t)
	var l entryList
	var want []liveEntry
	for i := range entryRunSize + 500 {
		kh := hashKey(fmt.Sprintf("e:%d\x00x\x00", i))
		if i%50 == 0 {
			l.add(indexEntry{kh: kh, tombstone: true})
			continue
		}
		l.add(indexEntry{kh: kh, rh: uint64(i) * 7})
		want = append(want, liveEntry{kh, uint64(i) * 7})
	}
	slices.SortFunc(want, func(a, b liveEntry) int { return a.kh.compare(b.kh) })
	obj, _, err := h.engine.storeIndex(h.ctx, &l, nil)
	if err != nil {
		t.Fatal(err)
	}
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
