package replication

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/graph"
	"github.com/graphvault/graphvault/store/graph/wire"
)

// Journal layout at a target (and in any bucket a follower reads):
//
//	journal/<graph id>/<first seq, 20 digits>-<last seq, 20 digits>-<journal tag>-<sha256>.gvj.zst
//	journal/<graph id>/<first seq, 20 digits>-<last seq, 20 digits>-<sha256>.gvj.zst
//	journal/<graph id>/HEAD
//
// A segment holds the consecutive batches first..last of one journal of one graph.
// Positions count within a journal ([graph.Meta].Journal): a graph that restarts
// (memgraph names a new journal, and continues from its snapshot's position) counts
// in a new one, whose batches are not those an older journal holds at the same
// positions. The journal tag is [JournalTag] of the journal's name, 16 hex digits,
// so that a reader picks the segments of one journal by their keys alone; a
// journal without a name has no tag, and segments written before segments named
// their journal have none either (both are read as belonging to the journal
// without a name). Its stored bytes are zstd(raw), and <sha256> is the hex SHA-256
// of the stored bytes, so a damaged segment is detected before it is decoded.
// Zero-padded positions make key order the order of positions. The raw encoding
// reuses the record values of backup/FORMAT.md, so property values keep their
// exact types:
//
//	raw     = "GVJ2" str(graph id) str(journal name) uvarint(batch count) batch*
//	        | "GVJ1" str(graph id) uvarint(batch count) batch*   (no name, no tag)
//	batch   = uvarint(seq) varint(unix nanoseconds) uvarint(op count) op*
//	op      = kind(1 byte, graph.OpKind) body
//	body    = upsert_node: str(id) bytes(node value)
//	        | delete_node: str(id)
//	        | upsert_edge: str(source) str(target) str(type) bytes(edge value)
//	        | delete_edge: str(source) str(target) str(type)
//	        | reset:       nothing
//	str, bytes = uvarint(length) content
//
// A segment's name must match its key's tag: decoding checks it.
//
// HEAD is JSON (see [JournalHead]): the journal and position shipped so far, written
// after the segment that reaches it, so a restarted shipper resumes from it and a
// follower finds the tail without listing. Format 2 names the journal; format 1
// (written for a journal without a name, and before HEAD named its journal) does
// not. Batches are never skipped: a segment starts right after the previous one of
// its journal ends, except after a gap in the primary's journal or when the graph's
// journal is not HEAD's (the graph restarted), where the shipper first replicates
// a snapshot of the graph's journal (the baseline) whose position is where the next
// segment starts, and records it in HEAD. A reader continues a snapshot only with
// the segments of the snapshot's own journal (the manifest's journal field), so
// batches of another journal are never replayed onto it.

// JournalPrefix is the key prefix of a graph's journal objects.
func JournalPrefix(graphID string) string { return "journal/" + graphID + "/" }

// JournalHeadKey is the key of a graph's journal HEAD.
func JournalHeadKey(graphID string) string { return JournalPrefix(graphID) + "HEAD" }

// Segment magics: journalMagic starts the segments of a journal without a name
// (and every segment written before segments named their journal), namedMagic
// those of a named journal.
const (
	journalMagic = "GVJ1"
	namedMagic   = "GVJ2"
)

// HEAD formats: headNamed names the journal; headFormat does not.
const (
	headFormat = 1
	headNamed  = 2
)

var (
	journalSegmentPattern = regexp.MustCompile(`^journal/([A-Za-z0-9][A-Za-z0-9._-]{0,127})/([0-9]{20})-([0-9]{20})-(?:([0-9a-f]{16})-)?([0-9a-f]{64})\.gvj\.zst$`)
	journalHeadPattern    = regexp.MustCompile(`^journal/([A-Za-z0-9][A-Za-z0-9._-]{0,127})/HEAD$`)
)

// JournalHead is the content of journal/<graph>/HEAD.
type JournalHead struct {
	// Format is 2 when Journal is set, else 1.
	Format  int    `json:"format"`
	GraphID string `json:"graph_id"`
	// Journal names the journal Position counts in ([graph.Meta].Journal): the
	// segments after Position carry its tag. It is empty for a journal without a
	// name, and in a HEAD written before HEAD named its journal.
	Journal string `json:"journal,omitempty"`
	// Position is the newest batch shipped: every batch up to it is in a segment, or
	// in the baseline snapshot.
	Position uint64 `json:"position"`
	// BatchTime is the time of the batch at Position (zero when none was shipped).
	BatchTime time.Time `json:"batch_time,omitzero"`
	// Segment is the key of the segment ending at Position ("" after a baseline).
	Segment string `json:"segment,omitempty"`
	// BaselineSnapshot and BaselinePosition name the snapshot shipping restarted from
	// after a gap (or on the first ship to this target); segments start after it.
	BaselineSnapshot string    `json:"baseline_snapshot,omitempty"`
	BaselinePosition uint64    `json:"baseline_position,omitempty"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// SegmentInfo names one journal segment.
type SegmentInfo struct {
	Key     string
	GraphID string
	First   uint64
	Last    uint64
	// JournalTag is the [JournalTag] of the journal the batches belong to; "" for
	// a journal without a name, and for segments written before segments named
	// their journal.
	JournalTag string
	SHA256     string
}

// InJournal reports whether the segment belongs to the journal named journal
// ([graph.Meta].Journal, as a snapshot's manifest records it). A segment without
// a tag belongs only to the journal without a name.
func (s SegmentInfo) InJournal(journal string) bool { return s.JournalTag == JournalTag(journal) }

// JournalTag is the tag segment keys carry for the journal named journal: the
// first 16 hex digits of the SHA-256 of the name, or "" for the empty name.
func JournalTag(journal string) string {
	if journal == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(journal))
	return hex.EncodeToString(sum[:8])
}

// ParseSegmentKey parses a segment key; ok is false for any other key.
func ParseSegmentKey(key string) (SegmentInfo, bool) {
	m := journalSegmentPattern.FindStringSubmatch(key)
	if m == nil {
		return SegmentInfo{}, false
	}
	first, err1 := strconv.ParseUint(m[2], 10, 64)
	last, err2 := strconv.ParseUint(m[3], 10, 64)
	if err1 != nil || err2 != nil || first == 0 || last < first {
		return SegmentInfo{}, false
	}
	return SegmentInfo{Key: key, GraphID: m[1], First: first, Last: last, JournalTag: m[4], SHA256: m[5]}, true
}

func segmentKey(graphID, journal string, first, last uint64, stored []byte) string {
	sum := sha256.Sum256(stored)
	tag := JournalTag(journal)
	if tag != "" {
		tag += "-"
	}
	return fmt.Sprintf("%s%020d-%020d-%s%s.gvj.zst", JournalPrefix(graphID), first, last, tag, hex.EncodeToString(sum[:]))
}

var (
	segEnc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	segDec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(1<<30))
)

// encodeSegment encodes consecutive batches of a graph's journal and returns the
// segment's key and stored bytes. A journal without a name is written as before
// segments named their journal.
func encodeSegment(graphID, journal string, batches []graph.Batch) (string, []byte, error) {
	if len(batches) == 0 {
		return "", nil, fmt.Errorf("%w: empty segment", ErrInvalid)
	}
	var b []byte
	if journal == "" {
		b = appendStr([]byte(journalMagic), graphID)
	} else {
		b = appendStr(appendStr([]byte(namedMagic), graphID), journal)
	}
	b = binary.AppendUvarint(b, uint64(len(batches)))
	var err error
	for i, bt := range batches {
		if i > 0 && bt.Seq != batches[i-1].Seq+1 {
			return "", nil, fmt.Errorf("%w: batches %d and %d are not consecutive", ErrInvalid, batches[i-1].Seq, bt.Seq)
		}
		b = binary.AppendUvarint(b, bt.Seq)
		b = binary.AppendVarint(b, bt.Time.UnixNano())
		b = binary.AppendUvarint(b, uint64(len(bt.Ops)))
		for _, op := range bt.Ops {
			b = append(b, byte(op.Kind))
			switch op.Kind {
			case graph.OpUpsertNode:
				b = appendStr(b, op.Node.ID)
				v, err := wire.AppendNode(nil, op.Node.Labels, op.Node.Props)
				if err != nil {
					return "", nil, fmt.Errorf("replication: journal: node %q: %w", op.Node.ID, err)
				}
				b = appendStr(b, string(v))
			case graph.OpDeleteNode:
				b = appendStr(b, op.Node.ID)
			case graph.OpUpsertEdge, graph.OpDeleteEdge:
				b = appendStr(b, op.Edge.Source)
				b = appendStr(b, op.Edge.Target)
				b = appendStr(b, op.Edge.Type)
				if op.Kind == graph.OpUpsertEdge {
					var v []byte
					if v, err = wire.AppendEdge(nil, op.Edge.Props); err != nil {
						return "", nil, fmt.Errorf("replication: journal: edge %s-%s: %w", op.Edge.Source, op.Edge.Target, err)
					}
					b = appendStr(b, string(v))
				}
			case graph.OpReset:
			default:
				return "", nil, fmt.Errorf("%w: batch %d: unknown op kind %d", ErrInvalid, bt.Seq, op.Kind)
			}
		}
	}
	stored := segEnc.EncodeAll(b, nil)
	return segmentKey(graphID, journal, batches[0].Seq, batches[len(batches)-1].Seq, stored), stored, nil
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// DecodeSegment checks a stored segment against its key (hash, graph, journal
// tag, positions) and decodes its batches. It reads both segment formats. Errors
// wrap ErrCorrupt.
func DecodeSegment(info SegmentInfo, stored []byte) ([]graph.Batch, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: journal segment %s: %s", ErrCorrupt, info.Key, fmt.Sprintf(format, args...))
	}
	sum := sha256.Sum256(stored)
	if hex.EncodeToString(sum[:]) != info.SHA256 {
		return nil, bad("SHA-256 does not match the key")
	}
	raw, err := segDec.DecodeAll(stored, nil)
	if err != nil {
		return nil, bad("zstd: %v", err)
	}
	d := segReader{b: raw}
	named := bytes.HasPrefix(raw, []byte(namedMagic))
	if !named && !bytes.HasPrefix(raw, []byte(journalMagic)) {
		return nil, bad("not a journal segment")
	}
	d.b = raw[len(journalMagic):]
	if g := d.str(); g != info.GraphID {
		return nil, bad("holds graph %q", g)
	}
	journal := ""
	if named {
		if journal = d.str(); journal == "" || d.err != nil {
			return nil, bad("names no journal")
		}
	}
	if JournalTag(journal) != info.JournalTag {
		return nil, bad("holds journal %q, not the one its key names", journal)
	}
	n := d.uvarint()
	if d.err != nil || n != info.Last-info.First+1 {
		return nil, bad("holds %d batches, its key says %d", n, info.Last-info.First+1)
	}
	out := make([]graph.Batch, 0, n)
	for i := range n {
		bt := graph.Batch{Seq: d.uvarint()}
		bt.Time = time.Unix(0, d.varint()).UTC()
		nops := d.uvarint()
		if d.err != nil || bt.Seq != info.First+i || nops > uint64(len(d.b)) {
			return nil, bad("batch %d: bad header", i)
		}
		bt.Ops = make([]graph.Op, 0, nops)
		for range nops {
			op := graph.Op{Kind: graph.OpKind(d.byte())}
			switch op.Kind {
			case graph.OpUpsertNode:
				op.Node.ID = d.str()
				if d.err == nil {
					op.Node.Labels, op.Node.Props, d.err = wire.DecodeNode([]byte(d.str()))
				}
			case graph.OpDeleteNode:
				op.Node.ID = d.str()
			case graph.OpUpsertEdge, graph.OpDeleteEdge:
				op.Edge.Source, op.Edge.Target, op.Edge.Type = d.str(), d.str(), d.str()
				if op.Kind == graph.OpUpsertEdge && d.err == nil {
					op.Edge.Props, d.err = wire.DecodeEdge([]byte(d.str()))
				}
			case graph.OpReset:
			default:
				d.fail()
			}
			if d.err != nil {
				return nil, bad("batch %d: %v", bt.Seq, d.err)
			}
			bt.Ops = append(bt.Ops, op)
		}
		out = append(out, bt)
	}
	if len(d.b) != 0 {
		return nil, bad("trailing bytes")
	}
	return out, nil
}

type segReader struct {
	b   []byte
	err error
}

var errSegment = errors.New("truncated or malformed")

func (d *segReader) fail() { d.err, d.b = errSegment, nil }

func (d *segReader) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *segReader) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *segReader) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *segReader) str() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// ReadJournalHead reads a graph's journal HEAD from b. A graph without one is an
// error wrapping ErrNotFound.
func ReadJournalHead(ctx context.Context, b *blob.Bucket, graphID string) (*JournalHead, error) {
	raw, err := b.Get(ctx, JournalHeadKey(graphID))
	if errors.Is(err, blob.ErrNotFound) {
		return nil, fmt.Errorf("%w: no journal for graph %q: %w", ErrNotFound, graphID, err)
	}
	if err != nil {
		return nil, err
	}
	return decodeHead(graphID, raw)
}

// decodeHead decodes a HEAD of either format: 1 names no journal, 2 names one.
func decodeHead(graphID string, raw []byte) (*JournalHead, error) {
	var h JournalHead
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil || h.GraphID != graphID ||
		!(h.Format == headFormat && h.Journal == "" || h.Format == headNamed && h.Journal != "") {
		return nil, fmt.Errorf("%w: journal HEAD of graph %q does not decode", ErrCorrupt, graphID)
	}
	return &h, nil
}

// newHead returns a HEAD of the format its journal needs.
func newHead(graphID, journal string) JournalHead {
	if journal == "" {
		return JournalHead{Format: headFormat, GraphID: graphID}
	}
	return JournalHead{Format: headNamed, GraphID: graphID, Journal: journal}
}

// ListSegments lists the journal segments of a graph in b that hold batches after
// position after, in position order. Objects under the prefix that are not segments
// (HEAD, temporary files) are left out.
func ListSegments(ctx context.Context, b *blob.Bucket, graphID string, after uint64) ([]SegmentInfo, error) {
	if !backup.ValidGraphID(graphID) {
		return nil, fmt.Errorf("%w: graph id %q", ErrInvalid, graphID)
	}
	var out []SegmentInfo
	for a, err := range b.List(ctx, JournalPrefix(graphID)) {
		if err != nil {
			return nil, err
		}
		if info, ok := ParseSegmentKey(a.Key); ok && info.GraphID == graphID && info.Last > after {
			out = append(out, info)
		}
	}
	return out, nil
}

// ReadSegment reads and decodes one segment from b.
func ReadSegment(ctx context.Context, b *blob.Bucket, info SegmentInfo) ([]graph.Batch, error) {
	stored, err := b.Get(ctx, info.Key)
	if err != nil {
		return nil, err
	}
	return DecodeSegment(info, stored)
}

// isJournalObjectKey reports whether key is in the journal layout, for the receiver.
func isJournalObjectKey(key string) bool {
	return journalSegmentPattern.MatchString(key) || journalHeadPattern.MatchString(key)
}

// checkJournalObject checks a journal object a receiver is given: a segment must
// hash to its key, a HEAD must decode.
func checkJournalObject(key string, body []byte) error {
	if info, ok := ParseSegmentKey(key); ok {
		sum := sha256.Sum256(body)
		if hex.EncodeToString(sum[:]) != info.SHA256 {
			return fmt.Errorf("%w: the body's SHA-256 does not match the key", ErrCorrupt)
		}
		return nil
	}
	if m := journalHeadPattern.FindStringSubmatch(key); m != nil {
		_, err := decodeHead(m[1], body)
		return err
	}
	return fmt.Errorf("%w: not a journal key", ErrInvalid)
}

// NewReceiverDriver returns a blob driver for the receive endpoint of another
// server (see [NewReceiver]) at baseURL, authorized with token; a nil client means
// http.DefaultClient. Followers read an http target's snapshots and journal with
// it. It cannot delete.
func NewReceiverDriver(baseURL, token string, client *http.Client) blob.Driver {
	if client == nil {
		client = http.DefaultClient
	}
	return newHTTPDriver(baseURL, token, client)
}
