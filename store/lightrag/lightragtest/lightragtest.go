// Package lightragtest makes LightRAG working directories for tests and
// benchmarks: a Workspace is an in-memory model of the seven files LightRAG keeps
// (the NetworkX GraphML graph, four key-value stores, three nano-vectordb files),
// written exactly as LightRAG's Python writes them, and changed at random the way
// inserts, updates and deletions change them.
package lightragtest

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graphml"
)

// Options size a Workspace.
type Options struct {
	Seed      uint64
	Docs      int // documents; each has ChunksPerDoc chunks and a cache entry per chunk
	Chunks    int // chunks per document, default 3
	Entities  int
	Relations int
	Dim       int           // embedding dimension, default 16
	Style     graphml.Style // default graphml.StyleLxml
}

// Stores a Workspace can change, for Mutate.
const (
	StoreGraph     = "graph"
	StoreFullDocs  = "full_docs"
	StoreChunks    = "text_chunks"
	StoreCache     = "llm_response_cache"
	StoreDocStatus = "doc_status"
	StoreEntities  = "vdb_entities"
	StoreRelations = "vdb_relationships"
	StoreVChunks   = "vdb_chunks"
)

// Stores lists every store Mutate takes.
var Stores = []string{StoreGraph, StoreFullDocs, StoreChunks, StoreCache, StoreDocStatus, StoreEntities, StoreRelations, StoreVChunks}

// Obj is a JSON object with its keys in order, as a Python dict keeps them.
type Obj struct {
	Keys []string
	Vals map[string]any
}

func obj(kv ...any) *Obj {
	o := &Obj{Vals: map[string]any{}}
	for i := 0; i < len(kv); i += 2 {
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}

// Set sets key to v, keeping the key's place when it exists.
func (o *Obj) Set(key string, v any) {
	if _, ok := o.Vals[key]; !ok {
		o.Keys = append(o.Keys, key)
	}
	o.Vals[key] = v
}

// Delete removes key.
func (o *Obj) Delete(key string) {
	if _, ok := o.Vals[key]; ok {
		delete(o.Vals, key)
		o.Keys = slices.DeleteFunc(o.Keys, func(k string) bool { return k == key })
	}
}

type vrow struct {
	entry *Obj
	vec   []float32
}

// vstore is a nano-vectordb file. at indexes its rows by __id__ while no row
// was removed or moved out of place (nil: look rows up by scanning).
type vstore struct {
	rows []vrow
	at   map[string]int
}

func (s *vstore) find(id string) int {
	if s.at != nil {
		if i, ok := s.at[id]; ok {
			return i
		}
		return -1
	}
	return slices.IndexFunc(s.rows, func(r vrow) bool { return r.entry.Vals["__id__"] == id })
}

func (s *vstore) upsert(id string, e *Obj, vec []float32) {
	if i := s.find(id); i >= 0 {
		s.rows[i] = vrow{e, vec}
		return
	}
	if s.at == nil && len(s.rows) == 0 {
		s.at = map[string]int{}
	}
	if s.at != nil {
		s.at[id] = len(s.rows)
	}
	s.rows = append(s.rows, vrow{e, vec})
}

func (s *vstore) remove(id string) {
	if s.find(id) < 0 {
		return
	}
	s.rows = slices.DeleteFunc(s.rows, func(r vrow) bool { return r.entry.Vals["__id__"] == id })
	s.reindex()
}

// reindex rebuilds the index after rows were removed or changed in place.
func (s *vstore) reindex() {
	s.at = make(map[string]int, len(s.rows))
	for i, r := range s.rows {
		if id, ok := r.entry.Vals["__id__"].(string); ok {
			s.at[id] = i
		}
	}
}

// Workspace is a LightRAG working directory in memory.
type Workspace struct {
	o        Options
	rng      *rand.Rand
	clock    int64
	Nodes    []string // insertion order
	nodeData map[string]*Obj
	adj      map[string][]string // NetworkX adjacency, in insertion order
	edgeData map[[2]string]*Obj  // by (min, max)
	KV       map[string]*Obj     // by store
	vdb      map[string]*vstore
}

// New makes a workspace of the given size.
func New(o Options) *Workspace {
	if o.Chunks == 0 {
		o.Chunks = 3
	}
	if o.Dim == 0 {
		o.Dim = 16
	}
	if o.Style == "" {
		o.Style = graphml.StyleLxml
	}
	w := &Workspace{o: o, rng: rand.New(rand.NewPCG(o.Seed, 0x6c69676874726167)), clock: 1733500000,
		nodeData: map[string]*Obj{}, adj: map[string][]string{}, edgeData: map[[2]string]*Obj{},
		KV: map[string]*Obj{}, vdb: map[string]*vstore{}}
	for _, s := range []string{StoreFullDocs, StoreChunks, StoreCache, StoreDocStatus} {
		w.KV[s] = obj()
	}
	for _, s := range []string{StoreEntities, StoreRelations, StoreVChunks} {
		w.vdb[s] = &vstore{}
	}
	for range o.Docs {
		w.addDoc()
	}
	for range o.Entities {
		w.addEntity()
	}
	for i := 0; i < o.Relations && len(w.Nodes) > 1; i++ {
		w.addRelation()
	}
	return w
}

var words = strings.Fields(`the bank of river city archive vault ledger north south
	company board director meeting report quarter revenue growth policy law court
	"quoted" naïve café 東京 Zürich <tag> & amp; tab	line`)

func (w *Workspace) text(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[w.rng.IntN(len(words))])
	}
	if w.rng.IntN(7) == 0 {
		b.WriteString("\nA second line.")
	}
	return b.String()
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func (w *Workspace) now() int64 { w.clock += int64(1 + w.rng.IntN(5)); return w.clock }

func (w *Workspace) vector() []float32 {
	v := make([]float32, w.o.Dim)
	var norm float64
	for i := range v {
		x := w.rng.NormFloat64()
		v[i] = float32(x)
		norm += x * x
	}
	norm = math.Sqrt(norm)
	for i := range v {
		v[i] = float32(float64(v[i]) / norm)
	}
	return v
}

func (w *Workspace) chunkIDs() []string {
	return w.KV[StoreChunks].Keys
}

func (w *Workspace) someChunk() string {
	ids := w.chunkIDs()
	if len(ids) == 0 {
		return "chunk-" + md5hex("none")
	}
	return ids[w.rng.IntN(len(ids))]
}

func (w *Workspace) addDoc() {
	content := w.text(40 + w.rng.IntN(60))
	doc := "doc-" + md5hex(content+strconv.FormatInt(w.now(), 10))
	file := fmt.Sprintf("docs/report %d.txt", w.rng.IntN(1000))
	w.KV[StoreFullDocs].Set(doc, obj("content", content, "file_path", file))
	var chunks []any
	for i := range w.o.Chunks {
		text := w.text(20 + w.rng.IntN(40))
		id := "chunk-" + md5hex(doc+text)
		cache := "default:extract:" + md5hex(id)
		t := w.now()
		w.KV[StoreChunks].Set(id, obj("tokens", int64(100+w.rng.IntN(1100)), "content", text, "chunk_order_index", int64(i),
			"full_doc_id", doc, "file_path", file, "llm_cache_list", []any{cache}, "create_time", t, "update_time", t, "_id", id))
		w.KV[StoreCache].Set(cache, obj("return", w.text(30), "cache_type", "extract", "chunk_id", id,
			"original_prompt", w.text(15), "queryparam", nil, "create_time", t, "update_time", t, "_id", cache))
		w.vdb[StoreVChunks].upsert(id, obj("__id__", id, "__created_at__", t, "full_doc_id", doc, "file_path", file, "content", text), w.vector())
		chunks = append(chunks, id)
	}
	w.KV[StoreDocStatus].Set(doc, obj("status", "processed", "chunks_count", int64(len(chunks)), "chunks_list", chunks,
		"content_summary", content[:min(len(content), 100)], "content_length", int64(len(content)),
		"created_at", "2026-12-07T10:00:00.123456+00:00", "updated_at", "2026-12-07T10:01:00.654321+00:00",
		"file_path", file, "track_id", "insert_20261207_"+md5hex(doc)[:8], "error_msg", nil, "metadata", obj()))
}

func (w *Workspace) addEntity() string {
	name := fmt.Sprintf("%s %d", strings.ToUpper(words[w.rng.IntN(len(words))]), len(w.Nodes))
	if w.rng.IntN(9) == 0 {
		name = `"` + name + `" & Co.`
	}
	w.upsertEntity(name)
	return name
}

func (w *Workspace) upsertEntity(name string) {
	t := w.now()
	desc := w.text(12)
	src := w.someChunk()
	if _, ok := w.nodeData[name]; !ok {
		w.Nodes = append(w.Nodes, name)
		w.adj[name] = nil
		w.nodeData[name] = obj()
	}
	d := w.nodeData[name]
	for _, kv := range [][2]any{{"entity_id", name}, {"entity_type", []string{"PERSON", "ORGANIZATION", "GEO", "EVENT", "CATEGORY"}[w.rng.IntN(5)]},
		{"description", desc}, {"source_id", src}, {"file_path", "docs/report.txt"}, {"created_at", t}} {
		d.Set(kv[0].(string), kv[1])
	}
	id := "ent-" + md5hex(name)
	w.vdb[StoreEntities].upsert(id, obj("__id__", id, "__created_at__", t, "entity_name", name, "content", name+"\n"+desc,
		"source_id", src, "file_path", "docs/report.txt"), w.vector())
}

func ekey(a, b string) [2]string {
	if b < a {
		a, b = b, a
	}
	return [2]string{a, b}
}

func (w *Workspace) addRelation() {
	for range 20 {
		a, b := w.Nodes[w.rng.IntN(len(w.Nodes))], w.Nodes[w.rng.IntN(len(w.Nodes))]
		if a == b || w.edgeData[ekey(a, b)] != nil {
			continue
		}
		w.upsertRelation(a, b)
		return
	}
}

func (w *Workspace) upsertRelation(a, b string) {
	k := ekey(a, b)
	if w.edgeData[k] == nil {
		w.adj[a] = append(w.adj[a], b)
		w.adj[b] = append(w.adj[b], a)
		w.edgeData[k] = obj()
	}
	t := w.now()
	desc := w.text(10)
	src := w.someChunk()
	d := w.edgeData[k]
	weights := []float64{1.0, 2.0, 0.5, 1.5, 8.0}
	for _, kv := range [][2]any{{"weight", weights[w.rng.IntN(len(weights))]}, {"description", desc},
		{"keywords", words[w.rng.IntN(len(words))] + "," + words[w.rng.IntN(len(words))]}, {"source_id", src},
		{"file_path", "docs/report.txt"}, {"created_at", t}} {
		d.Set(kv[0].(string), kv[1])
	}
	id := "rel-" + md5hex(a+b)
	w.vdb[StoreRelations].upsert(id, obj("__id__", id, "__created_at__", t, "src_id", a, "tgt_id", b,
		"source_id", src, "content", "keywords\t"+a+"\n"+b+"\n"+desc, "file_path", "docs/report.txt"), w.vector())
}

func (w *Workspace) deleteEntity(name string) {
	for _, nb := range w.adj[name] {
		w.adj[nb] = slices.DeleteFunc(w.adj[nb], func(s string) bool { return s == name })
		k := ekey(name, nb)
		delete(w.edgeData, k)
		w.vdb[StoreRelations].remove("rel-" + md5hex(name+nb))
		w.vdb[StoreRelations].remove("rel-" + md5hex(nb+name))
	}
	delete(w.adj, name)
	delete(w.nodeData, name)
	w.Nodes = slices.DeleteFunc(w.Nodes, func(s string) bool { return s == name })
	w.vdb[StoreEntities].remove("ent-" + md5hex(name))
}

// DeleteEntity removes an entity as LightRAG's deletion does: the node, its
// relations, and their rows in vdb_entities and vdb_relationships.
func (w *Workspace) DeleteEntity(name string) { w.deleteEntity(name) }

// Neighbours returns the entities related to name, in adjacency order.
func (w *Workspace) Neighbours(name string) []string { return slices.Clone(w.adj[name]) }

// Mutate changes n random entries of one store: most are updated in place, some
// added, some removed, as LightRAG's inserts and deletions do.
func (w *Workspace) Mutate(store string, n int) {
	var edgeKeys [][2]string // the relations in order, while none was added or removed
	for range n {
		op := w.rng.IntN(10) // 0-6 update, 7-8 add, 9 delete
		switch store {
		case StoreGraph:
			switch {
			case op < 4 && len(w.Nodes) > 0:
				w.upsertEntity(w.Nodes[w.rng.IntN(len(w.Nodes))])
			case op < 7 && len(w.edgeData) > 0:
				if edgeKeys == nil {
					edgeKeys = slices.Collect(mapKeys(w.edgeData))
					slices.SortFunc(edgeKeys, func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
				}
				k := edgeKeys[w.rng.IntN(len(edgeKeys))]
				w.upsertRelation(k[0], k[1])
			case op == 8 && len(w.Nodes) > 1:
				w.addRelation()
				edgeKeys = nil
			case op == 9 && len(w.Nodes) > 2:
				w.deleteEntity(w.Nodes[w.rng.IntN(len(w.Nodes))])
				edgeKeys = nil
			default:
				w.addEntity()
			}
		case StoreEntities, StoreRelations, StoreVChunks:
			s := w.vdb[store]
			switch {
			case op < 7 && len(s.rows) > 0:
				i := w.rng.IntN(len(s.rows))
				s.rows[i].entry.Set("__created_at__", w.now())
				s.rows[i].entry.Set("content", w.text(8))
				s.rows[i].vec = w.vector()
			case op == 9 && len(s.rows) > 0:
				i := w.rng.IntN(len(s.rows))
				s.rows = slices.Delete(s.rows, i, i+1)
				s.reindex()
			default:
				id := fmt.Sprintf("x-%s", md5hex(strconv.FormatInt(w.now(), 10)))
				s.upsert(id, obj("__id__", id, "__created_at__", w.now(), "content", w.text(6)), w.vector())
			}
		default:
			o := w.KV[store]
			switch {
			case op < 7 && len(o.Keys) > 0:
				k := o.Keys[w.rng.IntN(len(o.Keys))]
				e := o.Vals[k].(*Obj)
				for _, f := range e.Keys {
					switch e.Vals[f].(type) {
					case string:
						e.Set(f, w.text(10))
					case int64:
						e.Set(f, w.now())
					}
					if w.rng.IntN(2) == 0 {
						break
					}
				}
			case op == 9 && len(o.Keys) > 0:
				o.Delete(o.Keys[w.rng.IntN(len(o.Keys))])
			default:
				k := fmt.Sprintf("new-%s", md5hex(strconv.FormatInt(w.now(), 10)))
				o.Set(k, obj("content", w.text(20), "when", w.now(), "score", w.rng.Float64(), "tags", []any{"a", true, nil, 1.5e-7}))
			}
		}
	}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Write writes the seven files into dir, which it creates.
func (w *Workspace) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, s := range []string{StoreFullDocs, StoreChunks, StoreCache, StoreDocStatus} {
		if err := writeFile(filepath.Join(dir, "kv_store_"+s+".json"), func(bw *bufio.Writer) error {
			pyDump(bw, w.KV[s], 2, 0)
			return nil
		}); err != nil {
			return err
		}
	}
	for _, s := range []string{StoreEntities, StoreRelations, StoreVChunks} {
		if err := writeFile(filepath.Join(dir, s+".json"), func(bw *bufio.Writer) error { return w.writeVDB(bw, s) }); err != nil {
			return err
		}
	}
	return writeFile(filepath.Join(dir, "graph_chunk_entity_relation.graphml"), func(bw *bufio.Writer) error {
		return graphml.WriteLayout(context.Background(), bw, w.layout(), w)
	})
}

func writeFile(path string, fn func(*bufio.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := fn(bw); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (w *Workspace) writeVDB(bw *bufio.Writer, s string) error {
	fmt.Fprintf(bw, `{"embedding_dim": %d, "data": [`, w.o.Dim)
	rows := w.vdb[s].rows
	for i, r := range rows {
		if i > 0 {
			bw.WriteString(", ")
		}
		pyDump(bw, r.entry, 0, 0)
	}
	bw.WriteString(`], "matrix": "`)
	enc := base64.NewEncoder(base64.StdEncoding, bw)
	var b [4]byte
	for _, r := range rows {
		for _, x := range r.vec {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
			enc.Write(b[:])
		}
	}
	if err := enc.Close(); err != nil {
		return err
	}
	bw.WriteString(`"}`)
	return nil
}

// layout is the file NetworkX writes for the graph: nodes in insertion order,
// edges from each node's adjacency in order, each once, from the end met first;
// keys created as first met (nodes, then edges), declared newest first.
func (w *Workspace) layout() *graphml.Layout {
	l := &graphml.Layout{Style: w.o.Style}
	type sig struct{ domain, name, typ string }
	made := map[sig]bool{}
	var keys []graphml.Key
	declare := func(domain string, o *Obj) {
		for _, k := range o.Keys {
			s := sig{domain, k, pyType(o.Vals[k])}
			if !made[s] {
				made[s] = true
				keys = append(keys, graphml.Key{ID: fmt.Sprintf("d%d", len(keys)), For: domain, Name: k, Type: s.typ})
			}
		}
	}
	for _, n := range w.Nodes {
		l.Nodes = append(l.Nodes, graphml.NodeLayout{ID: n})
		declare("node", w.nodeData[n])
	}
	seen := map[string]bool{}
	for _, n := range w.Nodes {
		for _, nb := range w.adj[n] {
			if !seen[nb] {
				l.Edges = append(l.Edges, graphml.EdgeLayout{Source: n, Target: nb})
				declare("edge", w.edgeData[ekey(n, nb)])
			}
		}
		seen[n] = true
	}
	slices.Reverse(keys)
	l.Keys = keys
	return l
}

func pyType(v any) string {
	switch v.(type) {
	case int64:
		return "long"
	case float64:
		return "double"
	case bool:
		return "boolean"
	}
	return "string"
}

// Node and Edge make a Workspace a graph.Getter for graphml.WriteLayout.
func (w *Workspace) Node(_ context.Context, id string) (graph.Node, bool, error) {
	d, ok := w.nodeData[id]
	if !ok {
		return graph.Node{}, false, nil
	}
	return graph.Node{ID: id, Props: props(d)}, true, nil
}

func (w *Workspace) Edge(_ context.Context, s, t, _ string) (graph.Edge, bool, error) {
	d, ok := w.edgeData[ekey(s, t)]
	if !ok {
		return graph.Edge{}, false, nil
	}
	return graph.Edge{Source: s, Target: t, Props: props(d)}, true, nil
}

func props(o *Obj) map[string]any {
	m := make(map[string]any, len(o.Keys))
	for _, k := range o.Keys {
		m[k] = o.Vals[k]
	}
	return m
}

// pyDump writes v as Python's json.dump(v, ensure_ascii=False) does, with indent
// spaces per level (0: on one line with ", " and ": ").
func pyDump(bw *bufio.Writer, v any, indent, level int) {
	nl := func(l int) {
		if indent > 0 {
			bw.WriteByte('\n')
			bw.WriteString(strings.Repeat(" ", indent*l))
		}
	}
	sep := ", "
	if indent > 0 {
		sep = ","
	}
	switch x := v.(type) {
	case nil:
		bw.WriteString("null")
	case bool:
		if x {
			bw.WriteString("true")
		} else {
			bw.WriteString("false")
		}
	case int64:
		bw.WriteString(strconv.FormatInt(x, 10))
	case float64:
		bw.WriteString(pyFloat(x))
	case string:
		pyString(bw, x)
	case []any:
		if len(x) == 0 {
			bw.WriteString("[]")
			return
		}
		bw.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				bw.WriteString(sep)
			}
			nl(level + 1)
			pyDump(bw, e, indent, level+1)
		}
		nl(level)
		bw.WriteByte(']')
	case *Obj:
		if len(x.Keys) == 0 {
			bw.WriteString("{}")
			return
		}
		bw.WriteByte('{')
		for i, k := range x.Keys {
			if i > 0 {
				bw.WriteString(sep)
			}
			nl(level + 1)
			pyString(bw, k)
			bw.WriteString(": ")
			pyDump(bw, x.Vals[k], indent, level+1)
		}
		nl(level)
		bw.WriteByte('}')
	default:
		panic(fmt.Sprintf("pyDump: %T", v))
	}
}

func pyFloat(f float64) string {
	s := strconv.FormatFloat(f, 'e', -1, 64)
	i := strings.LastIndexByte(s, 'e')
	exp, _ := strconv.Atoi(s[i+1:])
	if f != 0 && (exp < -4 || exp >= 16) {
		mant, e := s[:i], s[i+1:]
		if e[0] != '-' {
			e = "+" + e
		}
		if len(strings.TrimLeft(e, "+-")) < 2 {
			e = e[:1] + "0" + e[1:]
		}
		return mant + "e" + e
	}
	s = strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

func pyString(bw *bufio.Writer, s string) {
	bw.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			bw.WriteString(`\"`)
		case '\\':
			bw.WriteString(`\\`)
		case '\n':
			bw.WriteString(`\n`)
		case '\r':
			bw.WriteString(`\r`)
		case '\t':
			bw.WriteString(`\t`)
		case '\b':
			bw.WriteString(`\b`)
		case '\f':
			bw.WriteString(`\f`)
		default:
			if r < 0x20 {
				fmt.Fprintf(bw, `\u%04x`, r)
			} else {
				bw.WriteRune(r)
			}
		}
	}
	bw.WriteByte('"')
}
