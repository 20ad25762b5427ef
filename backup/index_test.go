package backup

import (
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
