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
