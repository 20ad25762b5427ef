package lightrag

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graphml"
)

// Reserved labels of the records that are not the graph's. Node ids of those
// records start with idMark, a character XML cannot carry, so no GraphML node id
// can ever equal one of them.
const (
	LabelRoot  = "lightrag.root"  // the record saying whether the snapshot is a folder or one file
	LabelFile  = "lightrag.file"  // one file or folder of the working directory
	LabelKV    = "lightrag.kv"    // one top-level entry of a key-value store
	LabelVDB   = "lightrag.vdb"   // one data entry of a vector store with its matrix row
	LabelChunk = "lightrag.chunk" // a content-defined chunk of a file or of an order
)

const idMark = "\x01"

const rootID = idMark + "root"

func fileID(path string) string    { return idMark + "file" + idMark + path }
func kvID(path, key string) string { return idMark + "kv" + idMark + path + idMark + key }
func vdbID(path, id string) string { return idMark + "vdb" + idMark + path + idMark + id }
func chunkID(data []byte) string {
	s := sha256.Sum256(data)
	return idMark + "chunk" + idMark + hex.EncodeToString(s[:16])
}
func isReserved(nodeID string) bool { return strings.HasPrefix(nodeID, idMark) }
func splitID(nodeID string) []string {
	return strings.Split(strings.TrimPrefix(nodeID, idMark), idMark)
}
func chunkName(id string) string      { return strings.TrimPrefix(id, idMark+"chunk"+idMark) }
func chunkIDFromName(n string) string { return idMark + "chunk" + idMark + n }

// File kinds.
const (
	kindDir     = "dir"
	kindSymlink = "symlink"
	kindRaw     = "raw"     // content in chunks
	kindKV      = "kv"      // kv_store_*.json: entries as records
	kindVDB     = "vdb"     // vdb_*.json: data entries with their matrix rows as records
	kindGraphML = "graphml" // the graph: nodes and edges as the graph's records
)

// fileEntry is what a file record holds (as JSON): enough, with the records it
// names, to write the file again and check it.
type fileEntry struct {
	Path   string `json:"path"`
	Kind   string `json:"kind"`
	Mode   uint32 `json:"mode"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Target string `json:"target,omitempty"`
	// Chunks are the chunk names of the content (raw) or of the order of the
	// entries (kv, vdb, graphml).
	Chunks []string `json:"chunks,omitempty"`
	// Members are a vector store's top-level members in order; "data" and
	// "matrix" have no value, the others their minified JSON.
	Members []member `json:"members,omitempty"`
	Dim     int      `json:"dim,omitempty"`
	// Graph is the GraphML file's head and writer.
	Graph *graphHead `json:"graph,omitempty"`
	// Content are the chunk names of a GraphML file's own bytes, kept beside its
	// records when NetworkX laid the file out but the layout does not give its
	// bytes back: ElementTree leaves carriage returns in text raw, and XML
	// readers turn them into line feeds before the graph sees them.
	Content []string `json:"content,omitempty"`
	// Pieces are the names of a chunked GraphML file's pieces in order, each
	// with a "+" when a patch record changes its piece record (see Chunked).
	Pieces  []string `json:"pieces,omitempty"`
	Chunked bool     `json:"chunked,omitempty"`
	// Note says why a store file is kept in chunks, or why GraphML is re-encoded.
	Note string `json:"note,omitempty"`
}

type member struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// graphHead is a graphml.Layout without its nodes and edges, which are in the
// order stream.
type graphHead struct {
	Exact bool `json:"exact"`
	// Unchecked: the layout was not written back at snapshot time (a [File]);
	// the restore writes it and compares: the file's bytes, or a re-encoding.
	Unchecked bool            `json:"unchecked,omitempty"`
	Style     graphml.Style   `json:"style,omitempty"`
	Directed  bool            `json:"directed,omitempty"`
	GraphID   *string         `json:"graph_id,omitempty"`
	Keys      []graphml.Key   `json:"keys,omitempty"`
	Data      []graphml.Datum `json:"data,omitempty"`
}

func (f *fileEntry) node() (graph.Node, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return graph.Node{}, err
	}
	return graph.Node{ID: fileID(f.Path), Labels: []string{LabelFile}, Props: map[string]any{"json": string(b)}}, nil
}

func chunkNode(id string, data []byte) graph.Node {
	props := map[string]any{}
	if utf8.Valid(data) {
		props["text"] = string(data)
	} else {
		props["b64"] = base64.StdEncoding.EncodeToString(data)
	}
	return graph.Node{ID: id, Labels: []string{LabelChunk}, Props: props}
}

// chunkData is the content of a chunk record, checked against its name.
func chunkData(n graph.Node) ([]byte, error) {
	var data []byte
	if s, ok := n.Props["text"].(string); ok {
		data = []byte(s)
	} else if s, ok := n.Props["b64"].(string); ok {
		var err error
		if data, err = base64.StdEncoding.DecodeString(s); err != nil {
			return nil, fmt.Errorf("%w: chunk %s: %v", ErrCorrupt, chunkName(n.ID), err)
		}
	} else {
		return nil, fmt.Errorf("%w: chunk %s has no content", ErrCorrupt, chunkName(n.ID))
	}
	if chunkID(data) != n.ID {
		return nil, fmt.Errorf("%w: chunk %s does not hash to its name", ErrCorrupt, chunkName(n.ID))
	}
	return data, nil
}

// chunkStream cuts data into chunks, yields each chunk record not yet in seen,
// and returns the chunk names in order.
func chunkStream(data []byte, seen map[string]bool, yield func(graph.Node, error) bool) ([]string, bool) {
	c := newChunker(bytes.NewReader(data))
	var names []string
	for {
		b, err := c.next()
		if err != nil {
			return names, true
		}
		id := chunkID(b)
		names = append(names, chunkName(id))
		if !seen[id] {
			seen[id] = true
			if !yield(chunkNode(id, b), nil) {
				return names, false
			}
		}
	}
}

// order streams: a kv or vdb file's keys one per line (a JSON string token's
// content holds no newline); a GraphML file's nodes and edges, one JSON value a
// line (see encodeLayout).

// encodeLayout writes the nodes and edges of a layout compactly: a first line
// {"nodes":N,"edges":M}, a line per node (its id as a JSON string, or [id,[key
// ids]] when its data are not in the usual order), a line per edge: [source,
// target] (as the file has them), or only target when the source is the previous
// edge's, or [source, target, {"t": type, "k": [key ids]}]. An end is the index
// of its node in the node lines (a JSON number), or its id (a JSON string) for
// an end that is not among them; snapshots taken before ends were indexes hold
// ids only.
func encodeLayout(l *graphml.Layout) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(map[string]int{"edges": len(l.Edges), "nodes": len(l.Nodes)})
	index := make(map[string]int, len(l.Nodes))
	for i, n := range l.Nodes {
		if _, ok := index[n.ID]; !ok {
			index[n.ID] = i
		}
		if n.Keys == nil {
			enc.Encode(n.ID)
		} else {
			enc.Encode([]any{n.ID, n.Keys})
		}
	}
	end := func(id string) any {
		if i, ok := index[id]; ok {
			return i
		}
		return id
	}
	var num []byte
	prev := ""
	for i, e := range l.Edges {
		switch {
		case e.Type != "" || e.Keys != nil:
			x := map[string]any{}
			if e.Type != "" {
				x["t"] = e.Type
			}
			if e.Keys != nil {
				x["k"] = e.Keys
			}
			enc.Encode([]any{end(e.Source), end(e.Target), x})
		case i > 0 && e.Source == prev:
			if t, ok := index[e.Target]; ok {
				num = strconv.AppendInt(num[:0], int64(t), 10)
				b.Write(append(num, '\n'))
			} else {
				enc.Encode(e.Target)
			}
		default:
			s, okS := index[e.Source]
			t, okT := index[e.Target]
			if okS && okT {
				num = append(strconv.AppendInt(append(num[:0], '['), int64(s), 10), ',')
				num = append(strconv.AppendInt(num, int64(t), 10), ']', '\n')
				b.Write(num)
			} else {
				enc.Encode([]any{end(e.Source), end(e.Target)})
			}
		}
		prev = e.Source
	}
	return b.Bytes()
}

// layoutEnd reads an edge's end: a node's index or an id.
func layoutEnd(raw []byte, nodes []graphml.NodeLayout) (string, bool) {
	if len(raw) > 0 && raw[0] == '"' {
		var id string
		return id, json.Unmarshal(raw, &id) == nil
	}
	i, err := strconv.Atoi(string(raw))
	if err != nil || i < 0 || i >= len(nodes) {
		return "", false
	}
	return nodes[i].ID, true
}

func decodeLayout(data []byte, h *graphHead) (*graphml.Layout, error) {
	l := &graphml.Layout{Style: h.Style, Directed: h.Directed, GraphID: h.GraphID, Keys: h.Keys, GraphData: h.Data}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	bad := func(what string) error { return fmt.Errorf("%w: graph order: %s", ErrCorrupt, what) }
	if !sc.Scan() {
		return nil, bad("empty")
	}
	var counts struct{ Nodes, Edges int }
	if err := json.Unmarshal(sc.Bytes(), &counts); err != nil || counts.Nodes < 0 || counts.Edges < 0 {
		return nil, bad("bad counts")
	}
	l.Nodes = make([]graphml.NodeLayout, 0, counts.Nodes)
	for range counts.Nodes {
		if !sc.Scan() {
			return nil, bad("short")
		}
		var n graphml.NodeLayout
		line := sc.Bytes()
		if len(line) > 0 && line[0] == '[' {
			var x []json.RawMessage
			if json.Unmarshal(line, &x) != nil || len(x) != 2 || json.Unmarshal(x[0], &n.ID) != nil || json.Unmarshal(x[1], &n.Keys) != nil || n.Keys == nil {
				return nil, bad("bad node")
			}
		} else if json.Unmarshal(line, &n.ID) != nil {
			return nil, bad("bad node")
		}
		l.Nodes = append(l.Nodes, n)
	}
	l.Edges = make([]graphml.EdgeLayout, 0, counts.Edges)
	prev := ""
	for range counts.Edges {
		if !sc.Scan() {
			return nil, bad("short")
		}
		var e graphml.EdgeLayout
		line := sc.Bytes()
		if len(line) > 0 && line[0] == '[' {
			var x []json.RawMessage
			if json.Unmarshal(line, &x) != nil || len(x) < 2 || len(x) > 3 {
				return nil, bad("bad edge")
			}
			var ok1, ok2 bool
			e.Source, ok1 = layoutEnd(x[0], l.Nodes)
			e.Target, ok2 = layoutEnd(x[1], l.Nodes)
			if !ok1 || !ok2 {
				return nil, bad("bad edge")
			}
			if len(x) == 3 {
				var extra struct {
					T string   `json:"t"`
					K []string `json:"k"`
				}
				if json.Unmarshal(x[2], &extra) != nil {
					return nil, bad("bad edge")
				}
				e.Type, e.Keys = extra.T, extra.K
			}
		} else {
			var ok bool
			if e.Target, ok = layoutEnd(line, l.Nodes); prev == "" || !ok {
				return nil, bad("bad edge")
			}
			e.Source = prev
		}
		prev = e.Source
		l.Edges = append(l.Edges, e)
	}
	if sc.Scan() || sc.Err() != nil {
		return nil, bad("trailing lines")
	}
	return l, nil
}

// collected is a working directory as the records of a snapshot give it: what a
// restore writes files from.
type collected struct {
	root     string // kindDir or "file"
	directed bool
	files    map[string]*fileEntry
	chunks   map[string][]byte // by chunk name
	kv       map[string]map[string][]byte
	vdb      map[string]map[string]vrow
	nodes    map[string]graph.Node
	edges    map[string]graph.Edge
	// spill holds the graph instead of nodes and edges in the restore of
	// one GraphML file.
	spill *spill
	// pieces holds a chunked file's pieces and patches, in a file beside
	// target.
	pieces *assembly
	target string
}

type vrow struct {
	entry []byte // minified JSON
	row   []byte // float32 little endian, Dim of them
}

func newCollected() *collected {
	return &collected{files: map[string]*fileEntry{}, chunks: map[string][]byte{}, kv: map[string]map[string][]byte{},
		vdb: map[string]map[string]vrow{}, nodes: map[string]graph.Node{}, edges: map[string]graph.Edge{}}
}

// addNode files a record where it belongs.
func (c *collected) addNode(n graph.Node) error {
	if !isReserved(n.ID) {
		c.nodes[n.ID] = n
		return nil
	}
	parts := splitID(n.ID)
	str := func(name string) (string, error) {
		s, ok := n.Props[name].(string)
		if !ok {
			return "", fmt.Errorf("%w: record %q has no %s", ErrCorrupt, n.ID, name)
		}
		return s, nil
	}
	switch {
	case parts[0] == "root" && len(parts) == 1:
		s, err := str("kind")
		c.root = s
		return err
	case parts[0] == "file" && len(parts) == 2:
		s, err := str("json")
		if err != nil {
			return err
		}
		var f fileEntry
		dec := json.NewDecoder(strings.NewReader(s))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil || f.Path != parts[1] {
			return fmt.Errorf("%w: file record %q: %v", ErrCorrupt, parts[1], err)
		}
		c.files[f.Path] = &f
		if f.Chunked && len(f.Pieces) > 0 {
			if err := c.assemble(); err != nil {
				return err
			}
			return c.pieces.setOrder(f.Pieces)
		}
	case parts[0] == "chunk" && len(parts) == 2:
		data, err := chunkData(n)
		if err != nil {
			return err
		}
		c.chunks[parts[1]] = data
	case (parts[0] == "piece" || parts[0] == "patch") && len(parts) == 2:
		if err := c.assemble(); err != nil {
			return err
		}
		return c.pieces.add(n, parts[0], parts[1])
	case parts[0] == "kv" && len(parts) == 3:
		s, err := str("json")
		if err != nil {
			return err
		}
		m := c.kv[parts[1]]
		if m == nil {
			m = map[string][]byte{}
			c.kv[parts[1]] = m
		}
		m[parts[2]] = []byte(s)
	case parts[0] == "vdb" && len(parts) == 3:
		s, err := str("json")
		if err != nil {
			return err
		}
		v, err := str("vector")
		if err != nil {
			return err
		}
		row, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return fmt.Errorf("%w: vector of %q: %v", ErrCorrupt, n.ID, err)
		}
		m := c.vdb[parts[1]]
		if m == nil {
			m = map[string]vrow{}
			c.vdb[parts[1]] = m
		}
		m[parts[2]] = vrow{entry: []byte(s), row: row}
	default:
		return fmt.Errorf("%w: unknown record %q", ErrCorrupt, n.ID)
	}
	return nil
}

// assemble makes the assembly of a chunked file's pieces, once.
func (c *collected) assemble() error {
	if c.pieces != nil {
		return nil
	}
	if c.target == "" {
		return fmt.Errorf("%w: piece records outside a restore", ErrChunked)
	}
	a, err := newAssembly(c.target)
	if err != nil {
		return err
	}
	c.pieces = a
	return nil
}

// stream joins the chunks of a file's content or order.
func (c *collected) stream(f *fileEntry) ([]byte, error) {
	return c.streamOf(f, f.Chunks)
}

// streamOf joins the named chunks of f.
func (c *collected) streamOf(f *fileEntry, names []string) ([]byte, error) {
	var b bytes.Buffer
	for _, name := range names {
		data, ok := c.chunks[name]
		if !ok {
			return nil, fmt.Errorf("%w: %s: chunk %s is missing", ErrCorrupt, f.Path, name)
		}
		b.Write(data)
	}
	return b.Bytes(), nil
}

// Node and Edge make collected a graph.Getter of the graph for graphml.WriteLayout.
func (c *collected) Node(_ context.Context, id string) (graph.Node, bool, error) {
	n, ok := c.nodes[id]
	return n, ok, nil
}

func (c *collected) Edge(_ context.Context, s, t, typ string) (graph.Edge, bool, error) {
	e, ok := c.edges[graph.EdgeKey(s, t, typ, c.directed)]
	return e, ok, nil
}

// sortedNodes yields the graph's nodes in the order of their ids.
func (c *collected) sortedNodes() iter.Seq2[graph.Node, error] {
	return func(yield func(graph.Node, error) bool) {
		for _, id := range slices.Sorted(maps.Keys(c.nodes)) {
			if !yield(c.nodes[id], nil) {
				return
			}
		}
	}
}

// sortedEdges yields the graph's edges in the order of their keys.
func (c *collected) sortedEdges() iter.Seq2[graph.Edge, error] {
	return func(yield func(graph.Edge, error) bool) {
		for _, k := range slices.Sorted(maps.Keys(c.edges)) {
			if !yield(c.edges[k], nil) {
				return
			}
		}
	}
}
