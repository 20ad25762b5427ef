package lightrag

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/lightrag/lightragtest"
)

// generated writes a generated workspace and returns its GraphML file's path
// and bytes.
func generated(t *testing.T, o lightragtest.Options) (string, []byte) {
	t.Helper()
	ws := t.TempDir()
	if err := lightragtest.New(o).Write(ws); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(ws, graphFileName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, data
}

// assembled writes the file a chunked File's records give, taken in the
// order given, and returns its bytes and the assembly's spilled bytes.
func assembled(t *testing.T, recs []graph.Node) ([]byte, int64) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.graphml")
	c := newCollected()
	c.target = out
	defer c.close()
	var entry *fileEntry
	for _, n := range recs {
		if err := c.addNode(n); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range c.files {
		entry = f
	}
	if entry == nil {
		t.Fatal("no file record")
	}
	var rep RestoreReport
	if err := c.writeFile(t.Context(), entry, out, &rep); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return got, c.pieces.spilled
}

// records reads every record of a view.
func records(t *testing.T, v graph.View) []graph.Node {
	t.Helper()
	var recs []graph.Node
	for n, err := range v.Nodes(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, n)
	}
	return recs
}

// TestChunkedRestoresBytes: any file a chunked File snapshots comes back byte
// for byte: NetworkX's files, files with carriage returns, a file on one line,
// bytes that are not UTF-8, an empty file.
func TestChunkedRestoresBytes(t *testing.T) {
	files := map[string][]byte{}
	for _, dir := range []string{"../graphml/testdata/networkx", "testdata/carriage-returns"} {
		names, _ := filepath.Glob(filepath.Join(dir, "*.graphml"))
		for _, n := range names {
			data, err := os.ReadFile(n)
			if err != nil {
				t.Fatal(err)
			}
			files[filepath.Base(dir)+"/"+filepath.Base(n)] = data
		}
	}
	if len(files) < 14 {
		t.Fatalf("only %d files in testdata", len(files))
	}
	_, big := generated(t, lightragtest.Options{Seed: 1, Docs: 4, Entities: 3000, Relations: 6000, Dim: 2})
	files["generated"] = big
	files["one line"] = bytes.ReplaceAll(big, []byte("\n"), nil)
	files["not utf-8"] = append(bytes.Clone(big[:300<<10]), 0xff, 0xfe, '\n', 0x80)
	files["empty"] = nil
	h := newHarness(t)
	for name, data := range files {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "in.graphml")
			if err := os.WriteFile(path, data, 0o640); err != nil {
				t.Fatal(err)
			}
			row, _ := h.snapshotFile(path, filepath.Join(t.TempDir(), "index"), Chunked())
			got, rep := h.restoreBytes(row.ID)
			if !bytes.Equal(got, data) {
				t.Errorf("restored %d bytes, not the file's %d", len(got), len(data))
			}
			if len(rep.Reencoded) != 0 {
				t.Errorf("re-encoded %v", rep.Reencoded)
			}
		})
	}
}

// TestChunkedIncremental: LightRAG-style rounds of changes (entities and
// relations changed, added and deleted, the file rewritten whole) snapshot
// through the journal as patches, cost a small part of the full snapshot,
// and every snapshot restores byte for byte. Some rounds lose the sidecar or
// change nothing.
func TestChunkedIncremental(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			if seed == 1 {
				// Patches made again from the file, not kept from the scan.
				defer func(n int) { keptPatches = n }(keptPatches)
				keptPatches = 0
			}
			h := newHarness(t)
			w := lightragtest.New(lightragtest.Options{Seed: seed, Docs: 4, Entities: 2000, Relations: 5000, Dim: 2})
			index := filepath.Join(t.TempDir(), "index")
			rng := rand.New(rand.NewPCG(seed, 7))
			var snaps []taken
			journals := 0
			var full int64
			for round := range 10 {
				switch {
				case round == 0:
				case rng.IntN(5) == 0:
					// unchanged
				default:
					w.Mutate(lightragtest.StoreGraph, 1+rng.IntN(20))
				}
				if round == 6 {
					os.Remove(index + ".pieces")
				}
				dir := filepath.Join(t.TempDir(), "ws")
				if err := w.Write(dir); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(dir, graphFileName)
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				row, journal := h.snapshotFile(path, index, Chunked())
				switch {
				case round == 0:
					full = row.BytesNew
				case journal:
					journals++
					if row.Kind == string(backup.KindIncremental) && row.BytesNew > full/5 {
						t.Errorf("round %d: the %s snapshot wrote %d bytes, the full %d", round, row.Kind, row.BytesNew, full)
					}
				case round != 6:
					t.Errorf("round %d: the snapshot did not follow the journal", round)
				}
				snaps = append(snaps, taken{row.ID, data})
			}
			if journals == 0 {
				t.Error("no snapshot followed the journal")
			}
			h.checkRestores(snaps)
		})
	}
}

// TestPiecesRoundTrip: pieces cut a file whole, each piece record gives its
// bytes back, and a patch between any two versions of a piece gives the new
// one back.
func TestPiecesRoundTrip(t *testing.T) {
	_, data := generated(t, lightragtest.Options{Seed: 3, Docs: 2, Entities: 1500, Relations: 3000, Dim: 2})
	for _, d := range [][]byte{data, bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n")), []byte(strings.Repeat("x", 3*pieceHard))} {
		if n := checkPieces(t, d); n < 2 {
			t.Errorf("%d pieces of %d bytes", n, len(d))
		}
	}
}

// checkPieces cuts data into pieces, checks that each piece record gives its
// piece back and the pieces give data back, and returns how many there are.
func checkPieces(t *testing.T, data []byte) int {
	t.Helper()
	var joined []byte
	rest := data
	pieces := 0
	for len(rest) > 0 {
		n, starts := cutPiece(rest[:min(len(rest), pieceLook)], nil)
		if n <= 0 || n > len(rest) {
			t.Fatalf("cut %d of %d bytes", n, len(rest))
		}
		p := rest[:n]
		if want := elementStarts(p, nil); !slices.Equal(starts, want) {
			t.Fatalf("piece %d: the cut found elements at %v, elementStarts at %v", pieces, starts, want)
		}
		rest = rest[n:]
		got, err := pieceBytes(pieceNode("p", p), nil)
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("piece %d: %v, %d bytes back of %d", pieces, err, len(got), len(p))
		}
		joined = append(joined, got...)
		pieces++
	}
	if !bytes.Equal(joined, data) {
		t.Fatal("the pieces do not join into the file")
	}
	return pieces
}

func TestPatchRoundTrip(t *testing.T) {
	base := []byte("<graph>\n  <node id=\"a\">\n    <data key=\"d0\">A</data>\n  </node>\n  <node id=\"b\" />\n  <node id=\"c\">\n  </node>\n  <edge source=\"a\" target=\"b\" />\n")
	for _, next := range []string{
		string(base),
		strings.Replace(string(base), ">A<", ">AA<", 1),
		strings.Replace(string(base), "  <node id=\"b\" />\n", "", 1),
		strings.Replace(string(base), "  <node id=\"b\" />\n", "  <node id=\"b\" />\n  <node id=\"b2\" />\n", 1),
		"  <edge source=\"a\" target=\"b\" />\n<graph>\n",
		"",
	} {
		bs := elementStarts(base, nil)
		bh := elementHashes(base, bs, nil)
		p := []byte(next)
		var pt patch
		if len(p) > 0 {
			ps := elementStarts(p, nil)
			pt = diffPiece(bh, p, ps, elementHashes(p, ps, nil))
		}
		back, err := patchOf(pt.node("x"))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := unmarshalPatch(back.marshal(nil))
		if err != nil {
			t.Fatal(err)
		}
		got, err := raw.apply(base, nil)
		if err != nil || string(got) != next {
			t.Errorf("patch to %q gave %q, %v", next, got, err)
		}
	}
}

// TestAssemblyAnyOrder: the pieces and the file record, in any order, give the
// file back (the assembly's guess that pieces come in the file's order is
// only a guess).
func TestAssemblyAnyOrder(t *testing.T) {
	path, data := generated(t, lightragtest.Options{Seed: 5, Docs: 2, Entities: 1500, Relations: 3000, Dim: 2})
	v, err := NewFile(path, filepath.Join(t.TempDir(), "index"), Chunked()).View(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	recs := records(t, v)
	v.Close()
	if len(recs) < 5 {
		t.Fatalf("%d records", len(recs))
	}
	rng := rand.New(rand.NewPCG(5, 5))
	for round := range 20 {
		order := slices.Clone(recs)
		switch round {
		case 0: // as written
		case 1:
			slices.Reverse(order)
		default:
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		got, spilled := assembled(t, order)
		if round == 0 && spilled != 0 {
			t.Errorf("pieces in the file's order spilled %d bytes", spilled)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("round %d: %d bytes back of %d", round, len(got), len(data))
		}
	}
}

// FuzzPieces: any bytes are cut into pieces that give them back, and a patch
// between any two pieces gives the second back from the first.
func FuzzPieces(f *testing.F) {
	f.Add([]byte("<graph>\n  <node id=\"a\">\n    <data key=\"d0\">A</data>\n  </node>\n"), []byte("  <node id=\"a\">\n    <data key=\"d0\">B</data>\n  </node>\n  <edge source=\"a\" target=\"a\" />\n"))
	f.Add([]byte("\xff\n<data key=\"x\">\n"), []byte(""))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		checkPieces(t, a)
		checkPieces(t, b)
		if len(a) == 0 || len(b) == 0 {
			return
		}
		as := elementStarts(a, nil)
		bs := elementStarts(b, nil)
		pt := diffPiece(elementHashes(a, as, nil), b, bs, elementHashes(b, bs, nil))
		back, err := patchOf(pt.node("p"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := back.apply(a, nil)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("patch gives %q, %v; want %q", got, err, b)
		}
	})
}

// TestChunkedConcurrentViews: a view made while another is open reads the
// file whole and leaves the sidecar alone; both give the file back.
func TestChunkedConcurrentViews(t *testing.T) {
	path, data := generated(t, lightragtest.Options{Seed: 9, Docs: 2, Entities: 800, Relations: 1600, Dim: 2})
	index := filepath.Join(t.TempDir(), "index")
	f := NewFile(path, index, Chunked())
	first, err := f.View(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := f.View(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if m := second.Meta(); m.Journal != "" {
		t.Errorf("the second view has journal %q, want none", m.Journal)
	}
	if got, _ := assembled(t, records(t, second)); !bytes.Equal(got, data) {
		t.Errorf("the second view: %d bytes back of %d", len(got), len(data))
	}
	if _, err := os.Stat(index + ".pieces"); err == nil {
		t.Error("the second view wrote the sidecar")
	}
	second.Close()
	if got, _ := assembled(t, records(t, first)); !bytes.Equal(got, data) {
		t.Errorf("the first view: %d bytes back of %d", len(got), len(data))
	}
	if _, err := os.Stat(index + ".pieces"); err != nil {
		t.Errorf("the first view's full read left no sidecar: %v", err)
	}
}
