package graphml

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"testing/iotest"
)

// layoutBoth reads a layout with the fast reader (as ReadLayout does, and once
// more through a reader that gives one byte a read, so that every element is
// cut by the end of the window) and with the XML reader alone.
func layoutBoth(t *testing.T, data []byte) (fast, oneByte, xmlOnly *Layout, fastErr, oneErr, xmlErr error) {
	t.Helper()
	fast, fastErr = ReadLayout(t.Context(), bytes.NewReader(data))
	oneByte, oneErr = readLayoutFast(t.Context(), iotest.OneByteReader(bytes.NewReader(data)))
	if errors.Is(oneErr, errNotFast) {
		oneByte, oneErr = readLayoutXML(t.Context(), bytes.NewReader(data))
	}
	xmlOnly, xmlErr = readLayoutXML(t.Context(), bytes.NewReader(data))
	return
}

func sameLayouts(t *testing.T, data []byte) {
	t.Helper()
	fast, one, want, fastErr, oneErr, wantErr := layoutBoth(t, data)
	for _, c := range []struct {
		name string
		l    *Layout
		err  error
	}{{"fast", fast, fastErr}, {"one byte a read", one, oneErr}} {
		if (c.err == nil) != (wantErr == nil) || c.err != nil && c.err.Error() != wantErr.Error() {
			t.Fatalf("%s: error %v, the XML reader's %v", c.name, c.err, wantErr)
		}
		if !reflect.DeepEqual(c.l, want) {
			t.Fatalf("%s: another layout than the XML reader's:\n%+v\n%+v", c.name, c.l, want)
		}
	}
}

// TestLayoutFastReadsNetworkX: the fast reader reads every file NetworkX wrote
// in testdata itself (but for an empty graph), and gives the XML reader's layout.
func TestLayoutFastReadsNetworkX(t *testing.T) {
	files, _ := filepath.Glob("testdata/networkx/*.graphml")
	if len(files) < 10 {
		t.Fatalf("found %d files", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// An empty graph written as <graph ... /> is left to the XML reader.
		if _, err := readLayoutFast(t.Context(), bytes.NewReader(data)); err != nil && !bytes.Contains(data, []byte(`" />`+"\n</graphml>")) {
			t.Errorf("%s: the fast reader gave up: %v", f, err)
		}
		sameLayouts(t, data)
	}
}

// FuzzLayoutAgrees reads every input's layout with the fast reader and with the
// XML reader alone: the same layout, or the same error.
func FuzzLayoutAgrees(f *testing.F) {
	files, _ := filepath.Glob("testdata/networkx/*.graphml")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if len(data) < 8<<10 {
			f.Add(data)
		}
	}
	for _, seed := range scanSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sameLayouts(t, data)
	})
}
