package backup

import (
	"errors"
	"fmt"
	"testing"
)

func TestKeyListCountsAndRefusesADuplicateKey(t *testing.T) {
	var l keyList
	for i := range 2*keyRunSize + 123 {
		l.add(hashKey(fmt.Sprintf("n:%d", i)), i%97 == 0)
	}
	if recs, tombs := l.counts(); recs+tombs != 2*keyRunSize+123 || tombs != (2*keyRunSize+123+96)/97 {
		t.Fatalf("counts %d + %d", recs, tombs)
	}
	if err := l.unique(); err != nil {
		t.Fatalf("distinct keys: %v", err)
	}
	l.add(hashKey("n:5"), false) // in another run than the first "n:5"
	if err := l.unique(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v, want ErrInvalid", err)
	}
	// A tombstone and a record of one key are refused too.
	var mixed keyList
	mixed.add(hashKey("n:x"), false)
	mixed.add(hashKey("n:y"), true)
	mixed.add(hashKey("n:x"), true)
	if err := mixed.unique(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("record and tombstone of one key: got %v, want ErrInvalid", err)
	}
}
