package lightrag

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graphml"
)

// Apply merges a batch of changes into the working directory, as a partial
// restore does (the backup engine's Restore with a selection, which upserts the
// selected records): entities and relations go into the GraphML file, key-value
// entries ([LabelKV] records) into their kv_store file and vector rows
// ([LabelVDB] records) into their vdb file, each file keeping its entries' order,
// new ones appended, deleted ones dropped. Every other file is left as it is.
//
// The batch applies whole or not at all: the merged files are written into a new
// folder beside the working directory, with the files the batch does not change
// linked (or copied) there, and the new folder takes the old one's place only when
// everything is written and the working directory did not move meanwhile (else
// ErrUnsettled). A record a working directory cannot merge — a file, chunk or root
// record, an entry of a store the folder lacks or keeps in chunks, a relation
// whose end is neither in the graph nor in the batch, a vector of the wrong size
// — is refused before anything is written, wrapping ErrUnsupported.
func (d *Dir) Apply(ctx context.Context, ops []graph.Op) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, err := d.view(ctx)
	if err != nil {
		return err
	}
	defer v.Close()
	before, _, err := walk(d.path)
	if err != nil {
		return err
	}
	m := &merge{v: v, kv: map[string]*ordered{}, vdb: map[string]*vecStore{}}
	if err := m.load(ops); err != nil {
		return err
	}
	for _, op := range ops {
		if err := m.apply(op); err != nil {
			return err
		}
	}
	if err := m.checkEdges(); err != nil {
		return err
	}
	return d.replaceFiles(ctx, v, before, m)
}

// ordered is a store's entries in file order.
type ordered struct {
	keys []string
	vals map[string][]byte
}

func (o *ordered) set(k string, v []byte) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *ordered) del(k string) {
	if _, ok := o.vals[k]; ok {
		delete(o.vals, k)
		o.keys = slices.DeleteFunc(o.keys, func(s string) bool { return s == k })
	}
}

// vecStore is a vector file's members and rows.
type vecStore struct {
	members []member
	dim     int
	rows    ordered // __id__ → entry; vectors beside
	vecs    map[string][]byte
}

// merge is a batch being merged into a captured working directory.
type merge struct {
	v       *dirView
	graph   bool // the batch changes the graph
	nodes   *ordered
	nodeMap map[string]graph.Node
	edges   map[string]graph.Edge
	layout  *graphml.Layout
	kv      map[string]*ordered
	vdb     map[string]*vecStore
}

// load reads the stores the batch touches.
func (m *merge) load(ops []graph.Op) error {
	for _, op := range ops {
		id := op.Node.ID
		switch op.Kind {
		case graph.OpUpsertEdge, graph.OpDeleteEdge:
			id = ""
		case graph.OpUpsertNode, graph.OpDeleteNode:
		default:
			return fmt.Errorf("%w: change of kind %v", ErrUnsupported, op.Kind)
		}
		if id == "" || !isReserved(id) {
			if err := m.loadGraph(); err != nil {
				return err
			}
			continue
		}
		parts := splitID(id)
		if len(parts) != 3 || parts[0] != "kv" && parts[0] != "vdb" {
			return fmt.Errorf("%w: record %q: only entities, relations, key-value entries and vectors merge into a working directory", ErrUnsupported, id)
		}
		f := m.v.files[parts[1]]
		if f == nil || f.Kind != parts[0] {
			return fmt.Errorf("%w: %s is not a %s store of this working directory", ErrUnsupported, parts[1], parts[0])
		}
		var err error
		if parts[0] == "kv" && m.kv[f.Path] == nil {
			m.kv[f.Path], err = m.loadKV(f)
		} else if parts[0] == "vdb" && m.vdb[f.Path] == nil {
			m.vdb[f.Path], err = m.loadVDB(f)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (m *merge) loadGraph() error {
	if m.graph {
		return nil
	}
	if m.v.graphFile == "" {
		return fmt.Errorf("%w: the working directory has no GraphML file to merge entities into", ErrUnsupported)
	}
	m.graph = true
	l := *m.v.layout
	l.Nodes = slices.Clone(l.Nodes)
	l.Edges = slices.Clone(l.Edges)
	l.Keys = slices.Clone(l.Keys)
	m.layout = &l
	m.nodeMap = map[string]graph.Node{}
	for _, n := range m.v.nodes {
		m.nodeMap[n.ID] = n
	}
	m.edges = map[string]graph.Edge{}
	for _, e := range m.v.edges {
		m.edges[graph.EdgeKey(e.Source, e.Target, e.Type, m.v.directed)] = e
	}
	return nil
}

func (m *merge) loadKV(f *fileEntry) (*ordered, error) {
	r, err := os.Open(m.v.copyOf(f.Path))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	o := &ordered{vals: map[string][]byte{}}
	err = readKV(r, func(k string, v []byte) error {
		o.set(k, bytes.Clone(v))
		return nil
	})
	return o, err
}

func (m *merge) loadVDB(f *fileEntry) (*vecStore, error) {
	r, err := os.Open(m.v.copyOf(f.Path))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	s := &vecStore{members: f.Members, dim: f.Dim, rows: ordered{vals: map[string][]byte{}}, vecs: map[string][]byte{}}
	err = readVDB(r, f.Dim, vdbFuncs{
		entry: func(e []byte) error {
			id, _ := entryID(e)
			s.rows.set(id, bytes.Clone(e))
			return nil
		},
		row: func(i int, row []byte) error {
			s.vecs[s.rows.keys[i]] = bytes.Clone(row)
			return nil
		},
	})
	return s, err
}

// apply merges one change.
func (m *merge) apply(op graph.Op) error {
	switch op.Kind {
	case graph.OpUpsertEdge:
		e := op.Edge
		k := graph.EdgeKey(e.Source, e.Target, e.Type, m.v.directed)
		if _, ok := m.edges[k]; !ok {
			m.layout.Edges = append(m.layout.Edges, graphml.EdgeLayout{Source: e.Source, Target: e.Target, Type: e.Type})
		} else {
			m.relayoutEdge(e)
		}
		m.edges[k] = e
		return nil
	case graph.OpDeleteEdge:
		e := op.Edge
		k := graph.EdgeKey(e.Source, e.Target, e.Type, m.v.directed)
		delete(m.edges, k)
		m.layout.Edges = slices.DeleteFunc(m.layout.Edges, func(el graphml.EdgeLayout) bool {
			return graph.EdgeKey(el.Source, el.Target, el.Type, m.v.directed) == k
		})
		return nil
	}
	n := op.Node
	if !isReserved(n.ID) {
		if op.Kind == graph.OpDeleteNode {
			delete(m.nodeMap, n.ID)
			m.layout.Nodes = slices.DeleteFunc(m.layout.Nodes, func(nl graphml.NodeLayout) bool { return nl.ID == n.ID })
			for k, e := range m.edges {
				if e.Source == n.ID || e.Target == n.ID {
					delete(m.edges, k)
				}
			}
			m.layout.Edges = slices.DeleteFunc(m.layout.Edges, func(el graphml.EdgeLayout) bool { return el.Source == n.ID || el.Target == n.ID })
			return nil
		}
		if _, ok := m.nodeMap[n.ID]; !ok {
			m.layout.Nodes = append(m.layout.Nodes, graphml.NodeLayout{ID: n.ID})
		} else {
			for i := range m.layout.Nodes {
				if m.layout.Nodes[i].ID == n.ID {
					m.layout.Nodes[i].Keys = nil // written in the usual data order
				}
			}
		}
		m.nodeMap[n.ID] = graph.Node{ID: n.ID, Props: n.Props}
		return nil
	}
	parts := splitID(n.ID)
	if op.Kind == graph.OpDeleteNode {
		if parts[0] == "kv" {
			m.kv[parts[1]].del(parts[2])
		} else {
			m.vdb[parts[1]].rows.del(parts[2])
		}
		return nil
	}
	js, ok := n.Props["json"].(string)
	if !ok {
		return fmt.Errorf("%w: record %q has no json", ErrCorrupt, n.ID)
	}
	if parts[0] == "kv" {
		m.kv[parts[1]].set(parts[2], []byte(js))
		return nil
	}
	s := m.vdb[parts[1]]
	vs, _ := n.Props["vector"].(string)
	row, err := base64.StdEncoding.DecodeString(vs)
	if err != nil || len(row) != s.dim*4 {
		return fmt.Errorf("%w: the vector of %q is not %d float32 values, the dimension of %s", ErrUnsupported, parts[2], s.dim, parts[1])
	}
	if id, ok := entryID([]byte(js)); !ok || id != parts[2] {
		return fmt.Errorf("%w: record %q holds an entry of __id__ %q", ErrCorrupt, n.ID, id)
	}
	s.rows.set(parts[2], []byte(js))
	s.vecs[parts[2]] = row
	return nil
}

// relayoutEdge drops an upserted edge's own data order, so it is written in the
// usual one.
func (m *merge) relayoutEdge(e graph.Edge) {
	k := graph.EdgeKey(e.Source, e.Target, e.Type, m.v.directed)
	for i, el := range m.layout.Edges {
		if graph.EdgeKey(el.Source, el.Target, el.Type, m.v.directed) == k {
			m.layout.Edges[i].Keys = nil
		}
	}
}

// checkEdges refuses relations whose ends the merged graph lacks.
func (m *merge) checkEdges() error {
	for _, e := range m.edges {
		for _, end := range []string{e.Source, e.Target} {
			if _, ok := m.nodeMap[end]; !ok {
				return fmt.Errorf("%w: relation %q-%q: entity %q is neither in the working directory nor in the batch", ErrUnsupported, e.Source, e.Target, end)
			}
		}
	}
	return nil
}

// Node and Edge make a merge a graph.Getter for graphml.WriteLayout.
func (m *merge) Node(_ context.Context, id string) (graph.Node, bool, error) {
	n, ok := m.nodeMap[id]
	return n, ok, nil
}

func (m *merge) Edge(_ context.Context, s, t, typ string) (graph.Edge, bool, error) {
	e, ok := m.edges[graph.EdgeKey(s, t, typ, m.v.directed)]
	return e, ok, nil
}

// declareKeys adds a key declaration for every node and edge attribute the file
// does not declare yet, as NetworkX names them (d0, d1, ...).
func (m *merge) declareKeys() {
	type sig struct{ domain, name, typ string }
	have := map[sig]bool{}
	ids := map[string]bool{}
	for _, k := range m.layout.Keys {
		have[sig{k.For, k.Name, k.Type}] = true
		ids[k.ID] = true
	}
	add := func(domain string, props map[string]any) {
		names := make([]string, 0, len(props))
		for name := range props {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			typ := "string"
			switch props[name].(type) {
			case int64:
				typ = "long"
			case float64:
				typ = "double"
			case bool:
				typ = "boolean"
			}
			s := sig{domain, name, typ}
			if have[s] {
				continue
			}
			have[s] = true
			id := ""
			for i := len(m.layout.Keys); ; i++ {
				if id = fmt.Sprintf("d%d", i); !ids[id] {
					break
				}
			}
			ids[id] = true
			m.layout.Keys = append(m.layout.Keys, graphml.Key{ID: id, For: domain, Name: name, Type: typ})
		}
	}
	for _, nl := range m.layout.Nodes {
		add("node", m.nodeMap[nl.ID].Props)
	}
	for _, el := range m.layout.Edges {
		e, _, _ := m.Edge(context.Background(), el.Source, el.Target, el.Type)
		add("edge", e.Props)
	}
}

// writeStore writes the merged content of the file at p, if the batch changed
// it, and reports whether it did.
func (m *merge) writeStore(ctx context.Context, p string, w *bufio.Writer) (bool, error) {
	switch {
	case m.graph && p == m.v.graphFile:
		m.declareKeys()
		var buf bytes.Buffer
		if err := graphml.WriteLayout(ctx, &buf, m.layout, m); err == nil {
			_, err = w.Write(buf.Bytes())
			return true, err
		}
		c := &collected{directed: m.v.directed, nodes: m.nodeMap, edges: m.edges}
		return true, graphml.Write(ctx, w, &layoutView{l: m.layout, c: c})
	case m.kv[p] != nil:
		o := m.kv[p]
		return true, writeKV(w, func(yield func(string, []byte) bool) error {
			for _, k := range o.keys {
				if !yield(k, o.vals[k]) {
					return nil
				}
			}
			return nil
		})
	case m.vdb[p] != nil:
		s := m.vdb[p]
		vw := newVDBWriter(w)
		for _, mb := range s.members {
			var value []byte
			if mb.Name != "data" && mb.Name != "matrix" {
				value = []byte(mb.Value)
			}
			if err := vw.member(mb.Name, value); err != nil {
				return true, err
			}
			for _, id := range s.rows.keys {
				var err error
				switch mb.Name {
				case "data":
					err = vw.entry(s.rows.vals[id])
				case "matrix":
					err = vw.row(s.vecs[id])
				}
				if err != nil {
					return true, err
				}
			}
		}
		return true, vw.close()
	}
	return false, nil
}

// replaceFiles writes the merged working directory beside the old one and puts it
// in its place (see Apply).
func (d *Dir) replaceFiles(ctx context.Context, v *dirView, before map[string]stamp, m *merge) error {
	parent := filepath.Dir(d.path)
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(d.path)+".merge-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if v.c.single {
		out := filepath.Join(tmp, "file")
		if err := writeMerged(ctx, m, v.c.entries[0], d.path, out); err != nil {
			return err
		}
		if err := settled(d.path, before); err != nil {
			return err
		}
		// Write order: the merged file is complete and synced before the rename.
		if err := os.Rename(out, d.path); err != nil {
			return err
		}
		return syncDir(parent)
	}
	root := filepath.Join(tmp, "dir")
	if err := os.Mkdir(root, 0o755); err != nil {
		return err
	}
	var dirs []*captured
	for _, e := range v.c.entries {
		full := filepath.Join(root, filepath.FromSlash(e.path))
		switch e.kind {
		case kindDir:
			if err := os.MkdirAll(full, 0o755); err != nil {
				return err
			}
			dirs = append(dirs, e)
		case kindSymlink:
			if err := os.Symlink(e.target, full); err != nil {
				return err
			}
		default:
			if err := writeMerged(ctx, m, e, filepath.Join(d.path, filepath.FromSlash(e.path)), full); err != nil {
				return err
			}
		}
	}
	for _, e := range slices.Backward(dirs) {
		if err := os.Chmod(filepath.Join(root, filepath.FromSlash(e.path)), e.mode.Perm()); err != nil {
			return err
		}
	}
	if fi, err := os.Stat(d.path); err != nil {
		return err
	} else if err := os.Chmod(root, fi.Mode().Perm()); err != nil {
		return err
	}
	if err := syncDir(root); err != nil {
		return err
	}
	if err := settled(d.path, before); err != nil {
		return err
	}
	// Write order: every file of the merged folder is written and synced before
	// the folder takes the old one's place.
	if err := exchange(root, d.path); err != nil {
		return err
	}
	return syncDir(parent)
}

// settled fails with ErrUnsettled when the working directory moved since it was
// read for the merge.
func settled(path string, before map[string]stamp) error {
	after, _, err := walk(path)
	if err != nil {
		return err
	}
	if len(after) != len(before) {
		return fmt.Errorf("%w: %s changed while the merge was written; nothing was changed", ErrUnsettled, path)
	}
	for p, s := range before {
		if a, ok := after[p]; !ok || a != s && !(s.mode.IsDir() && a.mode == s.mode && a.inode == s.inode) {
			return fmt.Errorf("%w: %s changed while the merge was written; nothing was changed", ErrUnsettled, path)
		}
	}
	return nil
}

// writeMerged writes one file of the merged folder at out: merged when the batch
// changed it, else linked to the original (or copied from the capture).
func writeMerged(ctx context.Context, m *merge, e *captured, orig, out string) error {
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	changed, err := m.writeStore(ctx, e.path, bw)
	if err != nil {
		return fmt.Errorf("lightrag: merge into %s: %w", e.path, err)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if !changed {
		if os.Link(orig, out) == nil {
			return nil
		}
		data, err := os.ReadFile(e.copy)
		if err != nil {
			return err
		}
		buf.Write(data)
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, e.mode.Perm()|0o200)
	if err != nil {
		return err
	}
	_, err = f.Write(buf.Bytes())
	if err == nil {
		err = f.Chmod(e.mode.Perm())
	}
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// EntityRecords returns the ids of the records that hold, in a snapshot of a
// working directory, the vectors of the named entities and of the relations
// between the given pairs of entities: their rows in vdb_entities.json and
// vdb_relationships.json, found by LightRAG's id scheme ("ent-" and the MD5 of the
// entity's name; "rel-" and the MD5 of the two names joined, the smaller first in
// current LightRAG and as inserted before, so both orders are named).
func EntityRecords(entities []string, relations [][2]string) []string {
	sum := func(s string) string {
		h := md5.Sum([]byte(s))
		return hex.EncodeToString(h[:])
	}
	var ids []string
	for _, n := range entities {
		ids = append(ids, vdbID("vdb_entities.json", "ent-"+sum(n)))
	}
	for _, r := range relations {
		ids = append(ids, vdbID("vdb_relationships.json", "rel-"+sum(r[0]+r[1])))
		if r[0] != r[1] {
			ids = append(ids, vdbID("vdb_relationships.json", "rel-"+sum(r[1]+r[0])))
		}
	}
	return ids
}

// RestoreFunc runs a partial restore of a snapshot into w, merging the records it
// selects: the nodes of the given ids, Hops rounds of their neighbours, and the
// edges among them — the backup engine's Restore with RestoreOptions{NodeIDs:
// ids, Hops: hops}.
type RestoreFunc func(ctx context.Context, w graph.Writer, ids []string, hops int) error

// EntityRestore says what RestoreEntities merged.
type EntityRestore struct {
	Entities   []string // the entities restored
	Neighbours []string // entities at the other end of a relation, added because the folder lacked them
	Relations  int      // relations merged
	Vectors    int      // vector rows merged
}

// RestoreEntities merges entities as LightRAG knows them, as a snapshot holds
// them, into the working directory: each entity node, its relations, and their
// rows in vdb_entities.json and vdb_relationships.json. An entity at the other
// end of a relation that the folder lacks is added with its row; one the folder
// has is left as it is. restore runs the partial restores that select those
// records (twice: the entities with their neighbours, then the vector rows); the
// merge is one Apply. Entities the snapshot lacks are an error of restore's (the
// engine's empty selection).
func (d *Dir) RestoreEntities(ctx context.Context, names []string, restore RestoreFunc) (*EntityRestore, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: no entity named", ErrUnsupported)
	}
	for _, n := range names {
		if isReserved(n) {
			return nil, fmt.Errorf("%w: %q is not an entity name", ErrUnsupported, n)
		}
	}
	near := &batch{}
	if err := restore(ctx, near, names, 1); err != nil {
		return nil, err
	}
	v, err := d.view(ctx)
	if err != nil {
		return nil, err
	}
	present := map[string]bool{}
	for _, n := range v.nodes {
		present[n.ID] = true
	}
	v.Close()
	wanted := map[string]bool{}
	for _, n := range names {
		wanted[n] = true
	}
	rep := &EntityRestore{Entities: names}
	var ops []graph.Op
	var rels [][2]string
	vecEntities := slices.Clone(names)
	for _, op := range near.ops {
		switch {
		case op.Kind == graph.OpUpsertNode && wanted[op.Node.ID]:
			ops = append(ops, op)
		case op.Kind == graph.OpUpsertNode && !isReserved(op.Node.ID) && !present[op.Node.ID]:
			// Kept only if a relation of a restored entity needs it, below.
		case op.Kind == graph.OpUpsertEdge && (wanted[op.Edge.Source] || wanted[op.Edge.Target]):
			ops = append(ops, op)
			rels = append(rels, [2]string{op.Edge.Source, op.Edge.Target})
			rep.Relations++
		}
	}
	needed := map[string]bool{}
	for _, r := range rels {
		for _, end := range r {
			if !wanted[end] && !present[end] {
				needed[end] = true
			}
		}
	}
	for _, op := range near.ops {
		if op.Kind == graph.OpUpsertNode && needed[op.Node.ID] {
			ops = append(ops, op)
			rep.Neighbours = append(rep.Neighbours, op.Node.ID)
			vecEntities = append(vecEntities, op.Node.ID)
		}
	}
	// The entity names keep the second selection from being empty when the
	// snapshot has no vector store.
	rows := &batch{}
	if err := restore(ctx, rows, append(slices.Clone(names), EntityRecords(vecEntities, rels)...), 0); err != nil {
		return nil, err
	}
	for _, op := range rows.ops {
		if op.Kind == graph.OpUpsertNode && isReserved(op.Node.ID) {
			ops = append(ops, op)
			rep.Vectors++
		}
	}
	if err := d.Apply(ctx, ops); err != nil {
		return nil, err
	}
	return rep, nil
}

// batch is a graph.Writer that keeps the batch a partial restore merges.
type batch struct{ ops []graph.Op }

func (b *batch) Apply(_ context.Context, ops []graph.Op) error {
	b.ops = append(b.ops, ops...)
	return nil
}

func (b *batch) Replace(context.Context, graph.Meta, iter.Seq2[graph.Node, error], iter.Seq2[graph.Edge, error]) error {
	return errors.New("lightrag: an entity restore merges; it does not replace")
}
