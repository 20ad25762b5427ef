package lightrag

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"io"
	"iter"
	"math"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/wire"
)

// A single-file snapshot is almost all graph: holding every node and edge in
// maps until the layout asks for them took 1.2 GiB of heap for a 523 MiB file.
// So the restore of one GraphML file writes each node and edge, as the engine
// yields it, to a spill file beside the target, keeps in memory only a hash of
// its key and where it lies, and reads it back when the layout writes it.

// collectAny gathers the records of a restore into target, which may be of a
// graph alone. The graph's nodes and edges of a snapshot of one GraphML file
// go to a spill file in target's folder; those of any other snapshot are held
// in memory. The caller closes the result.
func collectAny(ctx context.Context, meta graph.Meta, nodes iter.Seq2[graph.Node, error], edges iter.Seq2[graph.Edge, error], target string) (_ *collected, err error) {
	c := newCollected()
	c.directed = meta.Directed
	c.target = target
	var s *spill
	defer func() {
		if err != nil && s != nil {
			err = errors.Join(err, s.close())
		}
	}()
	for n, err := range nodes {
		if err != nil {
			return nil, err
		}
		// The engine yields records in the order of their keys' hashes, so the
		// root record may come after graph nodes: they are spilled until it
		// says the snapshot is of a folder.
		if isReserved(n.ID) || (c.root != "" && c.root != "file") {
			if err := c.addNode(n); err != nil {
				return nil, err
			}
			continue
		}
		if s == nil {
			if s, err = newSpill(target, meta); err != nil {
				return nil, err
			}
		}
		if err := s.addNode(n); err != nil {
			return nil, err
		}
	}
	spilling := c.singleGraphML()
	if s != nil && !spilling {
		if err := s.load(c); err != nil {
			return nil, err
		}
		err := s.close()
		s = nil
		if err != nil {
			return nil, err
		}
	}
	for e, err := range edges {
		if err != nil {
			return nil, err
		}
		if !spilling {
			c.edges[graph.EdgeKey(e.Source, e.Target, e.Type, c.directed)] = e
			continue
		}
		if s == nil {
			if s, err = newSpill(target, meta); err != nil {
				return nil, err
			}
		}
		if err := s.addEdge(e); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s != nil {
		if err := s.finish(); err != nil {
			return nil, err
		}
	}
	c.spill = s
	return c, nil
}

// singleGraphML says whether the records are of a snapshot of one GraphML file.
func (c *collected) singleGraphML() bool {
	if c.root != "file" || len(c.files) != 1 {
		return false
	}
	for _, f := range c.files {
		return f.Kind == kindGraphML
	}
	return false
}

// graph returns where the graph's records are and how many nodes and edges
// there are.
func (c *collected) graph() (g graph.Getter, nodes, edges int) {
	if c.spill != nil {
		return c.spill, len(c.spill.nodes), len(c.spill.edges)
	}
	return c, len(c.nodes), len(c.edges)
}

// close removes the spill file, if any.
func (c *collected) close() error {
	var err error
	if c.pieces != nil {
		err = c.pieces.close()
		c.pieces = nil
	}
	if c.spill != nil {
		err = errors.Join(err, c.spill.close())
		c.spill = nil
	}
	return err
}

// spill is a file of graph records with an index of them in memory, 16 bytes a
// record. A record is the CRC-32C of its body (4 bytes, little endian), the
// body's length (uvarint) and the body: for a node its id and its wire
// encoding (labels and properties), for an edge its source, target and type
// and its wire encoding (properties); strings are a uvarint length and the
// bytes. The index holds a 64-bit hash of the record's key and the record's
// offset: keys whose hashes are equal are told apart by reading them. A spill
// is not safe for concurrent use.
type spill struct {
	f        *os.File
	name     string // the file's path while it still has one
	w        *bufio.Writer
	off      int64
	data     []byte // the file mapped into memory once written, if the system would
	directed bool
	checked  bool // encode with the UTF-8 checks: the records were not normalized
	seed     maphash.Seed
	nodes    []spillRef // sorted by hash once finished
	edges    []spillRef
	// nodeStarts and edgeStarts index the sorted refs by the top bits of
	// the hash: a binary search over all of them took 0.7 s of a 9.5 s
	// restore, most of it in cache misses.
	nodeStarts []int
	edgeStarts []int
	buf        []byte
	key        []byte
}

// spillRef is where a record lies in the spill file.
type spillRef struct {
	hash uint64
	off  int64
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// newSpill creates the spill file of a restore into target in target's folder
// (the restore writes there anyway, so there is room, and no other file system
// is asked for space).
func newSpill(target string, meta graph.Meta) (*spill, error) {
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(target)+".spill-*")
	if err != nil {
		return nil, err
	}
	s := &spill{f: f, name: f.Name(), w: bufio.NewWriterSize(f, 256<<10), directed: meta.Directed,
		checked: !meta.Normalized, seed: maphash.MakeSeed()}
	// Unlinked at once where the system allows it: the open file stays
	// readable, and its space is freed when it is closed, even by a crash.
	if os.Remove(f.Name()) == nil {
		s.name = ""
	}
	return s, nil
}

func (s *spill) addNode(n graph.Node) error {
	b := appendString(s.buf[:0], n.ID)
	var err error
	if s.checked {
		b, err = wire.AppendNode(b, n.Labels, n.Props)
	} else {
		b, err = wire.AppendNodeValid(b, n.Labels, n.Props)
	}
	if err != nil {
		return fmt.Errorf("lightrag: node %q: %w", n.ID, err)
	}
	ref, err := s.write(b, maphash.String(s.seed, n.ID))
	s.nodes = append(s.nodes, ref)
	return err
}

func (s *spill) addEdge(e graph.Edge) error {
	b := appendString(appendString(appendString(s.buf[:0], e.Source), e.Target), e.Type)
	var err error
	if s.checked {
		b, err = wire.AppendEdge(b, e.Props)
	} else {
		b, err = wire.AppendEdgeValid(b, e.Props)
	}
	if err != nil {
		return fmt.Errorf("lightrag: edge %q-%q: %w", e.Source, e.Target, err)
	}
	s.key = graph.AppendEdgeKey(s.key[:0], e.Source, e.Target, e.Type, s.directed)
	ref, err := s.write(b, maphash.Bytes(s.seed, s.key))
	s.edges = append(s.edges, ref)
	return err
}

func appendString(b []byte, str string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(str))), str...)
}

// write appends the record b after its checksum and length.
func (s *spill) write(b []byte, hash uint64) (spillRef, error) {
	s.buf = b
	var hdr [4 + binary.MaxVarintLen64]byte
	binary.LittleEndian.PutUint32(hdr[:], crc32.Checksum(b, castagnoli))
	h := binary.AppendUvarint(hdr[:4], uint64(len(b)))
	ref := spillRef{hash: hash, off: s.off}
	s.off += int64(len(h) + len(b))
	if _, err := s.w.Write(h); err != nil {
		return ref, fmt.Errorf("lightrag: spill file: %w", err)
	}
	if _, err := s.w.Write(b); err != nil {
		return ref, fmt.Errorf("lightrag: spill file: %w", err)
	}
	return ref, nil
}

// finish writes out what is buffered and sorts the index. A key given twice
// keeps its last record, as a map would.
func (s *spill) finish() error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("lightrag: spill file: %w", err)
	}
	s.w = nil
	// Reads through a mapping cost no system call: 800,000 preads took 1.8 s
	// of a 9.5 s restore. Where the file cannot be mapped, ReadAt reads it.
	if s.off > 0 && s.off <= math.MaxInt {
		if data, err := unix.Mmap(int(s.f.Fd()), 0, int(s.off), unix.PROT_READ, unix.MAP_SHARED); err == nil {
			s.data = data
		}
	}
	var err error
	if s.nodes, err = s.sorted(s.nodes, true); err != nil {
		return err
	}
	if s.edges, err = s.sorted(s.edges, false); err != nil {
		return err
	}
	s.nodeStarts, s.edgeStarts = starts(s.nodes), starts(s.edges)
	return nil
}

// startBits is how many top bits of a hash the starts tables index by.
const startBits = 16

// starts returns, for each value b of a hash's top bits, the index of the first
// ref whose hash has top bits b or more; one more entry ends the table.
func starts(refs []spillRef) []int {
	t := make([]int, 1<<startBits+1)
	i := 0
	for b := range t {
		for i < len(refs) && refs[i].hash>>(64-startBits) < uint64(b) {
			i++
		}
		t[b] = i
	}
	return t
}

func (s *spill) sorted(refs []spillRef, node bool) ([]spillRef, error) {
	slices.SortFunc(refs, func(a, b spillRef) int {
		return cmp.Or(cmp.Compare(a.hash, b.hash), cmp.Compare(a.off, b.off))
	})
	out := refs[:0]
	for i := 0; i < len(refs); {
		j := i + 1
		for j < len(refs) && refs[j].hash == refs[i].hash {
			j++
		}
		if j == i+1 {
			out = append(out, refs[i])
			i = j
			continue
		}
		// Equal hashes: keys that collide, or a key given twice.
		keys := make([]string, j-i)
		for k := i; k < j; k++ {
			rec, err := s.read(refs[k])
			if err != nil {
				return nil, err
			}
			if keys[k-i], err = s.recordKey(rec, node); err != nil {
				return nil, err
			}
		}
		for k := i; k < j; k++ {
			if !slices.Contains(keys[k-i+1:], keys[k-i]) {
				out = append(out, refs[k])
			}
		}
		i = j
	}
	return slices.Clip(out), nil
}

// read reads a record and checks it; the bytes after the checksum are valid
// until the next read, and must not be written.
func (s *spill) read(ref spillRef) ([]byte, error) {
	if s.data != nil {
		if ref.off < 0 || ref.off >= int64(len(s.data)) {
			return nil, errSpillRecord
		}
		b := s.data[ref.off:]
		sum, n, k, ok := s.head(b, ref.off)
		if !ok {
			return nil, errSpillRecord
		}
		return s.check(b[k:k+int(n)], sum, ref.off)
	}
	var hdr [4 + binary.MaxVarintLen64]byte
	m, err := s.f.ReadAt(hdr[:], ref.off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("lightrag: spill file: %w", err)
	}
	sum, n, k, ok := s.head(hdr[:m], ref.off)
	if !ok {
		return nil, errSpillRecord
	}
	s.buf = slices.Grow(s.buf[:0], int(n))[:n]
	if _, err := s.f.ReadAt(s.buf, ref.off+int64(k)); err != nil {
		return nil, fmt.Errorf("lightrag: spill file: %w", err)
	}
	return s.check(s.buf, sum, ref.off)
}

// head reads the checksum and length of the record at off from its first
// bytes b, and how many bytes they take.
func (s *spill) head(b []byte, off int64) (sum uint32, n uint64, k int, ok bool) {
	if len(b) < 5 {
		return 0, 0, 0, false
	}
	n, k = binary.Uvarint(b[4:])
	if k <= 0 || n > uint64(s.off-off)-uint64(4+k) {
		return 0, 0, 0, false
	}
	return binary.LittleEndian.Uint32(b), n, 4 + k, true
}

func (s *spill) check(b []byte, sum uint32, off int64) ([]byte, error) {
	if crc32.Checksum(b, castagnoli) != sum {
		return nil, fmt.Errorf("%w: the spill file's record at %d is damaged", ErrCorrupt, off)
	}
	return b, nil
}

// cut splits off a string that appendString wrote.
func cut(b []byte) (str, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, false
	}
	return b[k : k+int(n)], b[k+int(n):], true
}

// recordKey is the key of a node or edge record, as graph.NodeKey or
// graph.EdgeKey makes it.
func (s *spill) recordKey(rec []byte, node bool) (string, error) {
	if node {
		id, _, ok := cut(rec)
		if !ok {
			return "", errSpillRecord
		}
		return graph.NodeKey(string(id)), nil
	}
	src, rest, ok1 := cut(rec)
	dst, rest, ok2 := cut(rest)
	typ, _, ok3 := cut(rest)
	if !ok1 || !ok2 || !ok3 {
		return "", errSpillRecord
	}
	return graph.EdgeKey(string(src), string(dst), string(typ), s.directed), nil
}

var errSpillRecord = fmt.Errorf("%w: a record of the spill file is malformed", ErrCorrupt)

// candidates yields the records whose key has the hash.
func (s *spill) candidates(refs []spillRef, starts []int, hash uint64) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		b := hash >> (64 - startBits)
		refs := refs[:starts[b+1]]
		lo := starts[b]
		i, _ := slices.BinarySearchFunc(refs[lo:], hash, func(r spillRef, h uint64) int { return cmp.Compare(r.hash, h) })
		i += lo
		for ; i < len(refs) && refs[i].hash == hash; i++ {
			rec, err := s.read(refs[i])
			if !yield(rec, err) || err != nil {
				return
			}
		}
	}
}

// Node and Edge make a spill the graph.Getter graphml.WriteLayout reads.
func (s *spill) Node(ctx context.Context, id string) (graph.Node, bool, error) {
	for rec, err := range s.candidates(s.nodes, s.nodeStarts, maphash.String(s.seed, id)) {
		if err != nil {
			return graph.Node{}, false, err
		}
		got, rest, ok := cut(rec)
		if !ok {
			return graph.Node{}, false, errSpillRecord
		}
		if string(got) != id {
			continue
		}
		labels, props, err := wire.DecodeNode(rest)
		if err != nil {
			return graph.Node{}, false, fmt.Errorf("%w: node %q of the spill file: %v", ErrCorrupt, id, err)
		}
		return graph.Node{ID: id, Labels: labels, Props: props}, true, nil
	}
	return graph.Node{}, false, nil
}

func (s *spill) Edge(ctx context.Context, source, target, typ string) (graph.Edge, bool, error) {
	s.key = graph.AppendEdgeKey(s.key[:0], source, target, typ, s.directed)
	for rec, err := range s.candidates(s.edges, s.edgeStarts, maphash.Bytes(s.seed, s.key)) {
		if err != nil {
			return graph.Edge{}, false, err
		}
		src, rest, ok1 := cut(rec)
		dst, rest, ok2 := cut(rest)
		t, rest, ok3 := cut(rest)
		if !ok1 || !ok2 || !ok3 {
			return graph.Edge{}, false, errSpillRecord
		}
		e := graph.Edge{Source: source, Target: target, Type: typ}
		switch {
		case string(t) != typ:
			continue
		case string(src) == source && string(dst) == target:
		case !s.directed && string(src) == target && string(dst) == source:
			e.Source, e.Target = target, source // as the record has it
		default:
			continue
		}
		props, err := wire.DecodeEdge(rest)
		if err != nil {
			return graph.Edge{}, false, fmt.Errorf("%w: edge %q-%q of the spill file: %v", ErrCorrupt, source, target, err)
		}
		e.Props = props
		return e, true, nil
	}
	return graph.Edge{}, false, nil
}

// load reads the nodes spilled so far into c, for a restore that holds the
// graph in memory after all; edges are not spilled before it is known.
func (s *spill) load(c *collected) error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("lightrag: spill file: %w", err)
	}
	r := bufio.NewReaderSize(io.NewSectionReader(s.f, 0, s.off), 256<<10)
	for _, ref := range s.nodes {
		var sum [4]byte
		if _, err := io.ReadFull(r, sum[:]); err != nil {
			return fmt.Errorf("lightrag: spill file: %w", err)
		}
		n, err := binary.ReadUvarint(r)
		if err != nil || n > uint64(s.off-ref.off) {
			return errSpillRecord
		}
		s.buf = slices.Grow(s.buf[:0], int(n))[:n]
		if _, err := io.ReadFull(r, s.buf); err != nil {
			return fmt.Errorf("lightrag: spill file: %w", err)
		}
		rec, err := s.check(s.buf, binary.LittleEndian.Uint32(sum[:]), ref.off)
		if err != nil {
			return err
		}
		id, rest, ok := cut(rec)
		if !ok {
			return errSpillRecord
		}
		labels, props, err := wire.DecodeNode(rest)
		if err != nil {
			return fmt.Errorf("%w: node %q of the spill file: %v", ErrCorrupt, id, err)
		}
		c.nodes[string(id)] = graph.Node{ID: string(id), Labels: labels, Props: props}
	}
	return nil
}

// close closes the spill file and removes it if it still has a name.
func (s *spill) close() error {
	var err error
	if s.data != nil {
		err = unix.Munmap(s.data)
		s.data = nil
	}
	err = errors.Join(err, s.f.Close())
	if s.name != "" {
		err = errors.Join(err, os.Remove(s.name))
	}
	return err
}
