package lightrag

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graphml"
)

// classify decides how each captured file is kept, checking at once that the
// files kept as records re-encode to their exact bytes.
func classify(ctx context.Context, c *capture) (*dirView, error) {
	v := &dirView{c: c, files: map[string]*fileEntry{}, graphFile: ""}
	for _, e := range c.entries {
		f := &fileEntry{Path: e.path, Kind: e.kind, Mode: uint32(e.mode.Perm()), Size: e.size, SHA256: e.sum, Target: e.target}
		if e.kind == "" {
			f.Kind = kindRaw
			base := path.Base(e.path)
			top := !strings.Contains(e.path, "/")
			var err error
			switch {
			case top && strings.HasPrefix(base, "kv_store_") && strings.HasSuffix(base, ".json"):
				err = checkKV(e, f)
			case top && strings.HasPrefix(base, "vdb_") && strings.HasSuffix(base, ".json"):
				err = checkVDB(e, f)
			case (top || c.single) && strings.HasSuffix(base, ".graphml") && (strings.HasPrefix(base, "graph_") || c.single) && v.graphFile == "":
				err = v.loadGraph(ctx, e, f)
			}
			if err != nil {
				if !errors.Is(err, errNotPython) && !errors.Is(err, errKeepRaw) {
					return nil, err
				}
				f.Kind, f.Note = kindRaw, err.Error()
			}
		}
		v.order = append(v.order, f)
		v.files[f.Path] = f
	}
	return v, nil
}

var errKeepRaw = errors.New("kept in chunks")

// dirView is a captured working directory seen as a graph: the GraphML's nodes
// and edges, and a record for every entry of the stores and chunk of the rest.
type dirView struct {
	c         *capture
	files     map[string]*fileEntry
	order     []*fileEntry
	graphFile string
	// keepContent: the GraphML file's bytes are kept beside its records.
	keepContent bool
	directed    bool
	layout      *graphml.Layout
	nodes       []graph.Node
	edges       []graph.Edge
}

func (v *dirView) Meta() graph.Meta { return graph.Meta{Directed: v.directed} }
func (v *dirView) Close() error     { return v.c.close() }

func (v *dirView) copyOf(p string) string {
	for _, e := range v.c.entries {
		if e.path == p {
			return e.copy
		}
	}
	return ""
}

// Nodes yields the root record, then for each entry its records and chunks, then
// its file record; the graph's nodes come with the GraphML file.
func (v *dirView) Nodes(ctx context.Context) iter.Seq2[graph.Node, error] {
	return func(yield func(graph.Node, error) bool) {
		root := kindDir
		if v.c.single {
			root = "file"
		}
		if !yield(graph.Node{ID: rootID, Labels: []string{LabelRoot}, Props: map[string]any{"kind": root}}, nil) {
			return
		}
		seen := map[string]bool{}
		for _, f := range v.order {
			if err := ctx.Err(); err != nil {
				yield(graph.Node{}, err)
				return
			}
			fe := *f
			ok, err := v.fileNodes(ctx, &fe, seen, yield)
			if err != nil {
				yield(graph.Node{}, err)
				return
			}
			if !ok {
				return
			}
			n, err := fe.node()
			if !yield(n, err) || err != nil {
				return
			}
		}
	}
}

// fileNodes yields the records of one file and fills in its chunk names.
func (v *dirView) fileNodes(ctx context.Context, f *fileEntry, seen map[string]bool, yield func(graph.Node, error) bool) (bool, error) {
	var order bytes.Buffer
	switch f.Kind {
	case kindDir, kindSymlink:
		return true, nil
	case kindGraphML:
		for _, n := range v.nodes {
			if !yield(n, nil) {
				return false, nil
			}
		}
		order.Write(encodeLayout(v.layout))
		if v.keepContent {
			names, ok, err := rawChunks(v.copyOf(f.Path), seen, yield)
			if !ok || err != nil {
				return ok, err
			}
			f.Content = names
		}
	case kindKV:
		r, err := os.Open(v.copyOf(f.Path))
		if err != nil {
			return false, err
		}
		defer r.Close()
		stopped := false
		err = readKV(r, func(key string, value []byte) error {
			order.WriteString(key)
			order.WriteByte('\n')
			if !yield(graph.Node{ID: kvID(f.Path, key), Labels: []string{LabelKV}, Props: map[string]any{"json": string(value)}}, nil) {
				stopped = true
				return errStop
			}
			return nil
		})
		if stopped {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("lightrag: %s changed since it was checked: %w", f.Path, err)
		}
	case kindVDB:
		r, err := os.Open(v.copyOf(f.Path))
		if err != nil {
			return false, err
		}
		defer r.Close()
		var entries [][]byte
		var ids []string
		stopped := false
		err = readVDB(r, f.Dim, vdbFuncs{
			entry: func(e []byte) error {
				id, _ := entryID(e)
				entries, ids = append(entries, bytes.Clone(e)), append(ids, id)
				order.WriteString(id)
				order.WriteByte('\n')
				return nil
			},
			row: func(i int, row []byte) error {
				if i >= len(entries) {
					return fmt.Errorf("%w: more rows than entries", errNotPython)
				}
				n := graph.Node{ID: vdbID(f.Path, ids[i]), Labels: []string{LabelVDB}, Props: map[string]any{
					"json": string(entries[i]), "vector": base64.StdEncoding.EncodeToString(row)}}
				entries[i] = nil
				if !yield(n, nil) {
					stopped = true
					return errStop
				}
				return nil
			},
		})
		if stopped {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("lightrag: %s changed since it was checked: %w", f.Path, err)
		}
	default: // raw
		names, ok, err := rawChunks(v.copyOf(f.Path), seen, yield)
		if names == nil {
			names = []string{}
		}
		f.Chunks = names
		return ok, err
	}
	names, ok := chunkStream(order.Bytes(), seen, yield)
	f.Chunks = names
	return ok, nil
}

func (v *dirView) Edges(ctx context.Context) iter.Seq2[graph.Edge, error] {
	return func(yield func(graph.Edge, error) bool) {
		for _, e := range v.edges {
			if !yield(e, nil) {
				return
			}
		}
	}
}

var errStop = errors.New("stop")

// checkKV checks that a key-value store re-encodes exactly, as Python writes it.
func checkKV(e *captured, f *fileEntry) error {
	r, err := os.Open(e.copy)
	if err != nil {
		return err
	}
	defer r.Close()
	keys := map[string]bool{}
	var bad error
	h := sha256.New()
	bw := bufio.NewWriterSize(h, 1<<20)
	err = writeKV(bw, func(yield func(string, []byte) bool) error {
		return readKV(r, func(key string, value []byte) error {
			switch {
			case keys[key]:
				bad = fmt.Errorf("%w: key %q twice", errKeepRaw, key)
			case len(kvID(f.Path, key)) > graph.MaxIDLen:
				bad = fmt.Errorf("%w: key %.40q is too long", errKeepRaw, key)
			case !utf8.Valid(value) || !utf8.ValidString(key):
				bad = fmt.Errorf("%w: not UTF-8", errKeepRaw)
			}
			if bad != nil {
				return bad
			}
			keys[key] = true
			if !yield(key, value) {
				return errStop
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if hex.EncodeToString(h.Sum(nil)) != e.sum {
		return fmt.Errorf("%w: re-encoding as json.dump(indent=2, ensure_ascii=False) does not give the same bytes", errKeepRaw)
	}
	f.Kind = kindKV
	return nil
}

// readKV reads a JSON object and calls fn with each member: its key token's
// content and its minified value.
func readKV(r io.Reader, fn func(key string, value []byte) error) error {
	j := newJSONReader(r)
	var val []byte
	return j.object(func(key string) (err error) {
		if val, err = j.value(val[:0], 0); err != nil {
			return err
		}
		return fn(key, val)
	})
}

// vdbFuncs receive what readVDB reads, in file order.
type vdbFuncs struct {
	member func(name string, value []byte) error // every top-level member; data and matrix with a nil value
	entry  func(e []byte) error                  // each data entry, minified
	row    func(i int, row []byte) error         // each matrix row
}

// readVDB reads a nano-vectordb file: {"embedding_dim": N, "data": [...],
// "matrix": "<base64>", ...}. dim, when 0, is taken from embedding_dim.
func readVDB(r io.Reader, dim int, fn vdbFuncs) error {
	j := newJSONReader(r)
	var val []byte
	return j.object(func(name string) (err error) {
		switch name {
		case "data":
			if fn.member != nil {
				if err := fn.member(name, nil); err != nil {
					return err
				}
			}
			if err := j.expect('['); err != nil {
				return err
			}
			for i := 0; ; i++ {
				c, err := j.peek()
				if err != nil {
					return err
				}
				if c == ']' {
					j.r.ReadByte()
					break
				}
				if i > 0 {
					if err := j.expect(','); err != nil {
						return err
					}
				}
				if val, err = j.value(val[:0], 0); err != nil {
					return err
				}
				if fn.entry != nil {
					if err := fn.entry(val); err != nil {
						return err
					}
				}
			}
		case "matrix":
			if fn.member != nil {
				if err := fn.member(name, nil); err != nil {
					return err
				}
			}
			if dim <= 0 {
				return fmt.Errorf("%w: matrix before embedding_dim", errKeepRaw)
			}
			if err := j.expect('"'); err != nil {
				return err
			}
			if err := readMatrix(j, dim, fn.row); err != nil {
				return err
			}
		default:
			if val, err = j.value(val[:0], 0); err != nil {
				return err
			}
			if name == "embedding_dim" && dim == 0 {
				n, err := strconv.Atoi(string(val))
				if err != nil || n <= 0 || n > 1<<20 {
					return fmt.Errorf("%w: embedding_dim %q", errKeepRaw, val)
				}
				dim = n
			}
			if fn.member != nil {
				if err := fn.member(name, val); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// readMatrix decodes the base64 matrix string (its opening quote read) row by row.
func readMatrix(j *jsonReader, dim int, row func(int, []byte) error) error {
	rowLen := dim * 4
	var carry []byte // base64 characters not yet decoded (fewer than 4)
	rowBuf := make([]byte, 0, rowLen)
	dec := make([]byte, 0, 3<<18)
	rows := 0
	flush := func(b []byte) error {
		for len(b) > 0 {
			n := min(rowLen-len(rowBuf), len(b))
			rowBuf = append(rowBuf, b[:n]...)
			b = b[n:]
			if len(rowBuf) == rowLen {
				if row != nil {
					if err := row(rows, rowBuf); err != nil {
						return err
					}
				}
				rows++
				rowBuf = rowBuf[:0]
			}
		}
		return nil
	}
	for {
		chunk, err := j.r.ReadSlice('"')
		last := err == nil
		if err != nil && err != bufio.ErrBufferFull {
			if err == io.EOF {
				return fmt.Errorf("%w: unterminated matrix", errNotPython)
			}
			return err
		}
		if last {
			chunk = chunk[:len(chunk)-1]
		}
		data := append(carry, chunk...)
		n := len(data) / 4 * 4
		if last {
			n = len(data)
		}
		dec = dec[:base64.StdEncoding.DecodedLen(n)]
		m, derr := base64.StdEncoding.Decode(dec, data[:n])
		if derr != nil {
			return fmt.Errorf("%w: matrix: %v", errKeepRaw, derr)
		}
		carry = append([]byte(nil), data[n:]...)
		if err := flush(dec[:m]); err != nil {
			return err
		}
		if last {
			break
		}
	}
	if len(rowBuf) != 0 {
		return fmt.Errorf("%w: matrix is not a whole number of rows of %d", errKeepRaw, dim)
	}
	return nil
}

// entryID is the __id__ of a minified data entry: its string token's content.
func entryID(e []byte) (string, bool) {
	if len(e) < 2 || e[0] != '{' {
		return "", false
	}
	for i := 1; i < len(e) && e[i] == '"'; {
		end := stringEnd(e[i:])
		if end < 0 || i+end >= len(e) || e[i+end] != ':' {
			return "", false
		}
		name := string(e[i : i+end])
		i += end + 1
		n := valueLen(e[i:])
		if n < 0 {
			return "", false
		}
		if name == `"__id__"` {
			if e[i] != '"' {
				return "", false
			}
			return string(e[i+1 : i+n-1]), true
		}
		i += n
		if i < len(e) && e[i] == ',' {
			i++
		}
	}
	return "", false
}

// valueLen returns the length of the minified value v starts with, or -1.
func valueLen(v []byte) int {
	if len(v) == 0 {
		return -1
	}
	switch v[0] {
	case '"':
		return stringEnd(v)
	case '{', '[':
		depth := 0
		for i := 0; i < len(v); i++ {
			switch v[i] {
			case '"':
				e := stringEnd(v[i:])
				if e < 0 {
					return -1
				}
				i += e - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	i := 0
	for i < len(v) && v[i] != ',' && v[i] != '}' && v[i] != ']' {
		i++
	}
	return i
}

// checkVDB checks that a vector store re-encodes exactly, as nano-vectordb's
// json.dump(ensure_ascii=False) writes it, with a matrix row per data entry.
func checkVDB(e *captured, f *fileEntry) error {
	r, err := os.Open(e.copy)
	if err != nil {
		return err
	}
	defer r.Close()
	ids := map[string]bool{}
	var entries, rows int
	h := sha256.New()
	bw := bufio.NewWriterSize(h, 1<<20)
	vw := newVDBWriter(bw)
	dim := 0
	err = readVDB(r, 0, vdbFuncs{
		member: func(name string, value []byte) error {
			if name == "embedding_dim" {
				dim, _ = strconv.Atoi(string(value))
			}
			f.Members = append(f.Members, member{Name: name, Value: string(value)})
			if !utf8.Valid(value) {
				return fmt.Errorf("%w: not UTF-8", errKeepRaw)
			}
			return vw.member(name, value)
		},
		entry: func(en []byte) error {
			id, ok := entryID(en)
			switch {
			case !ok:
				return fmt.Errorf("%w: a data entry without __id__", errKeepRaw)
			case ids[id]:
				return fmt.Errorf("%w: __id__ %q twice", errKeepRaw, id)
			case len(vdbID(f.Path, id)) > graph.MaxIDLen:
				return fmt.Errorf("%w: __id__ %.40q is too long", errKeepRaw, id)
			case !utf8.Valid(en):
				return fmt.Errorf("%w: not UTF-8", errKeepRaw)
			}
			ids[id] = true
			entries++
			return vw.entry(en)
		},
		row: func(i int, row []byte) error {
			rows++
			return vw.row(row)
		},
	})
	if err != nil {
		return err
	}
	if err := vw.close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if entries != rows {
		return fmt.Errorf("%w: %d data entries but %d matrix rows", errKeepRaw, entries, rows)
	}
	if hex.EncodeToString(h.Sum(nil)) != e.sum {
		return fmt.Errorf("%w: re-encoding as json.dump(ensure_ascii=False) does not give the same bytes", errKeepRaw)
	}
	f.Kind, f.Dim = kindVDB, dim
	return nil
}

// vdbWriter writes a vector store as nano-vectordb does, member by member.
type vdbWriter struct {
	w       *bufio.Writer
	p       *pyWriter
	n       int    // members written
	in      string // "data" or "matrix" while one is open
	entries int
	b64     io.WriteCloser
}

func newVDBWriter(w *bufio.Writer) *vdbWriter {
	w.WriteByte('{')
	return &vdbWriter{w: w, p: &pyWriter{w: w}}
}

func (v *vdbWriter) closeOpen() error {
	switch v.in {
	case "data":
		v.w.WriteByte(']')
	case "matrix":
		if err := v.b64.Close(); err != nil {
			return err
		}
		v.w.WriteByte('"')
	}
	v.in = ""
	return nil
}

func (v *vdbWriter) member(name string, value []byte) error {
	if err := v.closeOpen(); err != nil {
		return err
	}
	if v.n > 0 {
		v.w.WriteString(", ")
	}
	v.n++
	v.w.WriteByte('"')
	v.w.WriteString(name)
	v.w.WriteString(`": `)
	switch {
	case name == "data" && value == nil:
		v.w.WriteByte('[')
		v.in = "data"
	case name == "matrix" && value == nil:
		v.w.WriteByte('"')
		v.in = "matrix"
		v.b64 = base64.NewEncoder(base64.StdEncoding, v.w)
	default:
		return v.p.writeValue(value, 0)
	}
	return nil
}

func (v *vdbWriter) entry(e []byte) error {
	if v.in != "data" {
		return fmt.Errorf("%w: data entry outside data", errNotPython)
	}
	if v.entries > 0 {
		v.w.WriteString(", ")
	}
	v.entries++
	return v.p.writeValue(e, 0)
}

func (v *vdbWriter) row(r []byte) error {
	if v.in != "matrix" {
		return fmt.Errorf("%w: matrix row outside matrix", errNotPython)
	}
	_, err := v.b64.Write(r)
	return err
}

func (v *vdbWriter) close() error {
	if err := v.closeOpen(); err != nil {
		return err
	}
	v.w.WriteByte('}')
	return nil
}

// loadGraph reads the GraphML file into memory, with its layout, and checks that
// the layout writes it back byte for byte; if not, the graph is kept all the same
// and a restore re-encodes the file.
func (v *dirView) loadGraph(ctx context.Context, e *captured, f *fileEntry) error {
	r, err := os.Open(e.copy)
	if err != nil {
		return err
	}
	defer r.Close()
	d := graphml.NewDecoder(r)
	meta, err := d.Meta()
	if err != nil {
		return fmt.Errorf("%w: %v", errKeepRaw, err)
	}
	coll := newCollected()
	coll.directed = meta.Directed
	var nodes []graph.Node
	var edges []graph.Edge
	for n, err := range d.Nodes(ctx) {
		if err != nil {
			return fmt.Errorf("%w: %v", errKeepRaw, err)
		}
		nodes = append(nodes, n)
		coll.nodes[n.ID] = n
	}
	for ed, err := range d.Edges(ctx) {
		if err != nil {
			return fmt.Errorf("%w: %v", errKeepRaw, err)
		}
		edges = append(edges, ed)
		coll.edges[graph.EdgeKey(ed.Source, ed.Target, ed.Type, meta.Directed)] = ed
	}
	if err := d.Err(); err != nil {
		return fmt.Errorf("%w: %v", errKeepRaw, err)
	}
	head := &graphHead{Directed: meta.Directed}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return err
	}
	l, lerr := graphml.ReadLayout(ctx, r)
	if lerr == nil {
		h := sha256.New()
		if werr := graphml.WriteLayout(ctx, h, l, coll); werr == nil && hex.EncodeToString(h.Sum(nil)) == e.sum {
			head.Exact = true
		} else {
			// NetworkX wrote it, so it must come back as it is: its bytes are
			// kept too (see fileEntry.Content).
			f.Note = "kept whole beside its records: the layout does not give these bytes"
			v.keepContent = true
		}
	} else {
		f.Note = "re-encoded: " + lerr.Error()
		l = fileOrderLayout(nodes, edges, meta.Directed)
	}
	head.Style, head.GraphID, head.Keys, head.Data = l.Style, l.GraphID, l.Keys, l.GraphData
	f.Kind, f.Graph = kindGraphML, head
	v.graphFile, v.directed, v.layout, v.nodes, v.edges = f.Path, meta.Directed, l, nodes, edges
	return nil
}

// fileOrderLayout is the order of a file whose layout could not be read: nodes
// and edges as the file has them, for a re-encoding that keeps that order.
func fileOrderLayout(nodes []graph.Node, edges []graph.Edge, directed bool) *graphml.Layout {
	l := &graphml.Layout{Directed: directed}
	for _, n := range nodes {
		l.Nodes = append(l.Nodes, graphml.NodeLayout{ID: n.ID})
	}
	for _, e := range edges {
		l.Edges = append(l.Edges, graphml.EdgeLayout{Source: e.Source, Target: e.Target, Type: e.Type})
	}
	return l
}

// rawChunks cuts the file at path into content-defined chunks, yields each
// chunk record not yet in seen, and returns the chunk names in order; false
// when the caller stopped.
func rawChunks(path string, seen map[string]bool, yield func(graph.Node, error) bool) ([]string, bool, error) {
	r, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer r.Close()
	ch := newChunker(r)
	var names []string
	for {
		b, err := ch.next()
		if err == io.EOF {
			return names, true, nil
		}
		if err != nil {
			return nil, false, err
		}
		id := chunkID(b)
		names = append(names, chunkName(id))
		if !seen[id] {
			seen[id] = true
			if !yield(chunkNode(id, b), nil) {
				return names, false, nil
			}
		}
	}
}
