package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"regexp"
	"slices"
	"time"
	"unsafe"

	"github.com/zeebo/xxh3"

	"github.com/graphvault/graphvault/store/meta"
)

// FormatVersion is the snapshot format this package writes and the newest it reads.
const FormatVersion = 3

// Object key layout in a bucket. See FORMAT.md.
const (
	dataPrefix     = "data/"
	indexPrefix    = "index/"
	keysPrefix     = "keys/"
	manifestPrefix = "manifests/"
)

const (
	segmentMagic = "GVS1"
	indexMagic   = "GVI1"

	opPut       byte = 1
	opTombstone byte = 2

	kindNode byte = 'n'
	kindEdge byte = 'e'
)

var graphIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidGraphID reports whether id may name a graph: 1 to 128 letters, digits, dots,
// underscores and hyphens, starting with a letter or digit. Graph ids appear in
// object keys, so nothing else is accepted.
func ValidGraphID(id string) bool { return graphIDPattern.MatchString(id) }

func manifestKey(graphID, snapshotID string) string {
	return manifestPrefix + graphID + "/" + snapshotID + ".json"
}

func contentKey(prefix string, sum [32]byte) string {
	h := hex.EncodeToString(sum[:])
	return prefix + h[:2] + "/" + h
}

// keyHash fingerprints a record key: xxh3-128 of the key with the top bit of the
// first byte replaced by the record kind (0 node, 1 edge), so that sorted hashes put
// every node before every edge.
type keyHash [16]byte

func hashKey(key string) keyHash {
	return kindBit(xxh3.HashString128(key).Bytes(), len(key) > 0 && key[0] == kindEdge)
}

func hashKeyBytes(key []byte) keyHash {
	return kindBit(xxh3.Hash128(key).Bytes(), len(key) > 0 && key[0] == kindEdge)
}

func kindBit(h [16]byte, edge bool) keyHash {
	h[0] &= 0x7f
	if edge {
		h[0] |= 0x80
	}
	return keyHash(h)
}

func (k keyHash) isEdge() bool { return k[0]&0x80 != 0 }

func (k keyHash) compare(o keyHash) int { return bytes.Compare(k[:], o[:]) }

// hashValue fingerprints a record's value, to tell a changed record from an
// unchanged one when a snapshot compares the graph with its parent chain. The
// fingerprints are never stored (format 3 keeps no index: they are computed from
// the segments as a chain is read), so each process keys them with a seed of its
// own. A graph's content then cannot be chosen so that a new value fingerprints
// like the one it replaces and the change goes unsaved, as it could with a hash
// anybody can compute.
func hashValue(v []byte) uint64 { return maphash.Bytes(valueSeed, v) }

var valueSeed = maphash.MakeSeed()

// appendRecord appends one segment record. A put carries its key and value; a
// tombstone carries only its key hash.
func appendPut(b []byte, key []byte, value []byte) []byte {
	b = append(b, opPut)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = binary.AppendUvarint(b, uint64(len(value)))
	return append(b, value...)
}

func appendTombstone(b []byte, kh keyHash) []byte {
	b = append(b, opTombstone)
	return append(b, kh[:]...)
}

// segmentRecord is one decoded record; key and value alias the segment buffer and
// are valid only during the callback unless cloned.
type segmentRecord struct {
	op    byte
	key   string
	value []byte
	kh    keyHash
	// checked says the value passed wire.ValidateNode, with labels that are
	// valid ids, or wire.ValidateEdge (see eachSegmentRecord).
	checked bool
}

// forEachRecord decodes a raw segment of the given kind.
func forEachRecord(raw []byte, kind byte, fn func(r segmentRecord) error) (int, error) {
	return forEachRecordAt(raw, kind, func(op byte, key, value [2]int) error {
		r := segmentRecord{op: op}
		if op == opTombstone {
			copy(r.kh[:], raw[key[0]:key[1]])
		} else {
			// The key aliases the segment buffer; whoever keeps it must clone it.
			r.key = unsafe.String(unsafe.SliceData(raw[key[0]:]), key[1]-key[0])
			r.value = raw[value[0]:value[1]]
			r.kh = hashKey(r.key)
		}
		return fn(r)
	})
}

// checkRecordKind checks that record n of a segment of kind belongs there: a
// put's key starts with "n:" or "e:" as kind says, a tombstone's key hash has the
// kind's bit.
func checkRecordKind(n int, kind, op byte, key []byte) error {
	switch op {
	case opPut:
		if len(key) < 2 || key[0] != kind || key[1] != ':' {
			return formatErr("segment: record %d: key of the wrong kind", n)
		}
	case opTombstone:
		if len(key) != 16 {
			return formatErr("segment: record %d: truncated tombstone", n)
		}
		if keyHash(key).isEdge() != (kind == kindEdge) {
			return formatErr("segment: record %d: tombstone of the wrong kind", n)
		}
	}
	return nil
}

// eachSegmentRecord is forEachRecord for a segment as it is stored, decompressed:
// a columnar one is walked in its columns (see walkColumns), without rebuilding
// its rows; with check, it checks the values as it goes and says so in each
// record's checked. A put's value is valid only until fn returns.
func eachSegmentRecord(seg []byte, kind byte, check bool, fn func(r segmentRecord) error) error {
	if !bytes.HasPrefix(seg, []byte(columnMagic)) {
		_, err := forEachRecord(seg, kind, fn)
		return err
	}
	if k, err := columnKind(seg); err != nil {
		return err
	} else if k != kind {
		return formatErr("segment: kind %q, want %q", k, kind)
	}
	n := 0
	return walkColumns(seg, check, func(op byte, key, value []byte) error {
		if err := checkRecordKind(n, kind, op, key); err != nil {
			return err
		}
		n++
		r := segmentRecord{op: op}
		if op == opTombstone {
			r.kh = keyHash(key)
		} else {
			r.key = unsafe.String(unsafe.SliceData(key), len(key))
			r.value = value
			r.kh = hashKey(r.key)
			r.checked = check
		}
		return fn(r)
	})
}

// forEachRecordAt walks a raw segment of the given kind and gives fn where each
// record's parts lie in it: the key (a tombstone's key hash) and the value.
func forEachRecordAt(raw []byte, kind byte, fn func(op byte, key, value [2]int) error) (int, error) {
	if len(raw) < len(segmentMagic)+1 || string(raw[:len(segmentMagic)]) != segmentMagic {
		return 0, formatErr("segment: bad magic")
	}
	if raw[len(segmentMagic)] != kind {
		return 0, formatErr("segment: kind %q, want %q", raw[len(segmentMagic)], kind)
	}
	off := len(segmentMagic) + 1
	n := 0
	for off < len(raw) {
		op := raw[off]
		off++
		var key, value [2]int
		switch op {
		case opPut:
			kl, k := binary.Uvarint(raw[off:])
			if k <= 0 || kl > uint64(len(raw)-off-k) {
				return n, formatErr("segment: record %d: bad key length", n)
			}
			key = [2]int{off + k, off + k + int(kl)}
			off = key[1]
			vl, k := binary.Uvarint(raw[off:])
			if k <= 0 || vl > uint64(len(raw)-off-k) {
				return n, formatErr("segment: record %d: bad value length", n)
			}
			value = [2]int{off + k, off + k + int(vl)}
			off = value[1]
		case opTombstone:
			if len(raw)-off < 16 {
				return n, formatErr("segment: record %d: truncated tombstone", n)
			}
			key = [2]int{off, off + 16}
			off += 16
		default:
			return n, formatErr("segment: record %d: unknown op %d", n, op)
		}
		if err := checkRecordKind(n, kind, op, raw[key[0]:key[1]]); err != nil {
			return n, err
		}
		if err := fn(op, key, value); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Object is a stored object a manifest refers to.
type Object struct {
	Key  string `json:"key"`
	Size int64  `json:"size"`          // stored bytes
	Raw  int64  `json:"raw,omitempty"` // bytes before compression and encryption
}

// Segment is a stored run of records of one kind.
type Segment struct {
	Object
	Kind    string `json:"kind"` // "node" or "edge"
	Records int64  `json:"records"`
}

// Layer is the set of records one snapshot wrote: all of them for a full or
// synthetic snapshot, the changed ones and tombstones for an incremental one.
type Layer struct {
	Snapshot   string    `json:"snapshot"`
	Kind       string    `json:"kind"`
	Key        string    `json:"key,omitempty"`      // wrapped data key object, when encrypted
	KeySize    int64     `json:"key_size,omitempty"` // its size in bytes
	Index      Object    `json:"index,omitzero"`     // format 2 and before only
	Segments   []Segment `json:"segments"`
	Records    int64     `json:"records"`
	Tombstones int64     `json:"tombstones"`
}

// Manifest is the commit record of a snapshot: everything needed to restore it. It
// is written last, with put-if-absent, once every object it lists is durable.
type Manifest struct {
	Format      int               `json:"format"`
	ID          string            `json:"id"`
	GraphID     string            `json:"graph_id"`
	ParentID    string            `json:"parent_id,omitempty"`
	Kind        string            `json:"kind"`
	CreatedAt   time.Time         `json:"created_at"`
	StartedAt   time.Time         `json:"started_at"`
	Directed    bool              `json:"directed"`
	Position    uint64            `json:"position"`
	Journal     string            `json:"journal,omitempty"`
	Nodes       int64             `json:"nodes"`
	Edges       int64             `json:"edges"`
	LabelCounts map[string]int64  `json:"label_counts,omitempty"`
	BytesRaw    int64             `json:"bytes_raw"`
	BytesStored int64             `json:"bytes_stored"`
	BytesNew    int64             `json:"bytes_new"`
	Encrypted   bool              `json:"encrypted,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Layers      []Layer           `json:"layers"` // base first
	Root        string            `json:"root"`
}

// rootHash is the SHA-256 of the manifest's JSON with Root empty. It fingerprints
// the whole snapshot: every object key is itself a content hash.
func (m *Manifest) rootHash() (string, error) {
	c := *m
	c.Root = ""
	b, err := json.Marshal(&c)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// objects lists every object the manifest needs.
func (m *Manifest) objects() []Object {
	var out []Object
	for _, l := range m.Layers {
		for _, s := range l.Segments {
			out = append(out, s.Object)
		}
		if l.Index.Key != "" {
			out = append(out, l.Index)
		}
		if l.Key != "" {
			out = append(out, Object{Key: l.Key, Size: l.KeySize})
		}
	}
	return out
}

// DecodeManifest decodes a stored manifest strictly (unknown fields and trailing
// data refused) and checks its format version, ids and root hash. Errors wrap
// ErrCorrupt.
func DecodeManifest(b []byte) (*Manifest, error) {
	m, err := decodeManifest(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return m, nil
}

// Objects lists every object the manifest needs to restore, data first: segments,
// indexes (format 2 and before) and data keys of every layer. The manifest itself is not listed.
func (m *Manifest) Objects() []Object { return m.objects() }

func decodeManifest(b []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("manifest: trailing data")
	}
	if m.Format < 1 || m.Format > FormatVersion {
		return nil, fmt.Errorf("manifest: format %d not supported (newest %d)", m.Format, FormatVersion)
	}
	root, err := m.rootHash()
	if err != nil {
		return nil, err
	}
	if root != m.Root {
		return nil, fmt.Errorf("manifest: root hash %s does not match content %s", m.Root, root)
	}
	if !ValidGraphID(m.GraphID) || !meta.ValidID(m.ID) || len(m.Layers) == 0 {
		return nil, fmt.Errorf("manifest: bad graph id, snapshot id or no layers")
	}
	// Counts and sizes size what readers allocate: none may be negative.
	counts := []int64{m.Nodes, m.Edges, m.BytesRaw, m.BytesStored, m.BytesNew}
	for i, l := range m.Layers {
		// A format 3 snapshot may extend a chain whose older layers have indexes,
		// but the layers it writes itself have none.
		if l.Index.Key == "" && m.Format < 3 || l.Index.Key != "" && l.Snapshot == m.ID && m.Format >= 3 {
			return nil, fmt.Errorf("manifest: layer %d: index %q does not fit format %d", i, l.Index.Key, m.Format)
		}
		counts = append(counts, l.Records, l.Tombstones, l.KeySize, l.Index.Size, l.Index.Raw)
		for _, s := range l.Segments {
			counts = append(counts, s.Records, s.Size, s.Raw)
		}
	}
	for _, l := range m.LabelCounts {
		counts = append(counts, l)
	}
	if slices.ContainsFunc(counts, func(n int64) bool { return n < 0 }) {
		return nil, fmt.Errorf("manifest: a count or size is negative")
	}
	return &m, nil
}

// sizeHint bounds a preallocation taken from a manifest's count: a manifest is
// decoded only when hashed right, but one written elsewhere may claim anything,
// and what is preallocated grows past the hint when the data is that large.
func sizeHint(n int64, limit int) int { return int(min(max(n, 0), int64(limit))) }

// formatError is a structural problem found while decoding a stored object.
type formatError struct{ msg string }

func (e formatError) Error() string { return e.msg }

func formatErr(format string, args ...any) error { return formatError{fmt.Sprintf(format, args...)} }
