package backup

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzDecodeManifest: DecodeManifest never panics, every error wraps ErrCorrupt,
// and whatever decodes re-encodes to a manifest that decodes again to the same
// content.
func FuzzDecodeManifest(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format":1,"id":"x","layers":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeManifest(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		_ = m.Objects()
		again, err := marshalManifest(m)
		if err != nil {
			t.Fatalf("decoded manifest does not encode: %v", err)
		}
		m2, err := DecodeManifest(again)
		if err != nil {
			t.Fatalf("re-encoded manifest does not decode: %v\n%s", err, again)
		}
		j1, err1 := json.Marshal(m)
		j2, err2 := json.Marshal(m2)
		if err1 != nil || err2 != nil || !bytes.Equal(j1, j2) {
			t.Fatalf("decode, encode, decode changed the manifest:\n%s\n%s", j1, j2)
		}
	})
}
