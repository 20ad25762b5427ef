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
//	journal/<graph id>/<first seq, 20 digits>-<last seq, 20 digits>-<sha256>.gvj.zst
//	journal/<graph id>/HEAD
//
// A segment holds the consecutive batches first..last of one graph. Its stored bytes
// are zstd(raw), and <sha256> is the hex SHA-256 of the stored bytes, so a damaged
// segment is detected before it is decoded. Zero-padded positions make key order
// the order of positions. The raw encoding reuses the record values of
// backup/FORMAT.md, so property values keep their exact types:
//
//	raw     = "GVJ1" str(graph id) uvarint(batch count) batch*
//	batch   = uvarint(seq) varint(unix nanoseconds) uvarint(op count) op*
//	op      = kind(1 byte, graph.OpKind) body
//	body    = upsert_node: str(id) bytes(node value)
//	        | delete_node: str(id)
//	        | upsert_edge: str(source) str(target) str(type) bytes(edge value)
//	        | delete_edge: str(source) str(target) str(type)
//	        | reset:       nothing
//	str, bytes = uvarint(length) content
//
// HEAD is JSON (see [JournalHead]): the position shipped so far, written after the
// segment that reaches it, so a restarted shipper resumes from it and a follower
// finds the tail without listing. Batches are never skipped: a segment starts right
// after the previous one ends, except after a gap in the primary's journal, where
// the shipper first replicates a snapshot (the baseline) whose position is where
// the next segment starts, and records it in HEAD.

// JournalPrefix is the key prefix of a graph's journal objects.
func JournalPrefix(graphID string) string { return "journal/" + graphID + "/" }

// JournalHeadKey is the key of a graph's journal HEAD.
func JournalHeadKey(graphID string) string { return JournalPrefix(graphID) + "HEAD" }

const journalMagic = "GVJ1"

var (
	journalSegmentPattern = regexp.MustCompile(`^journal/([A-Za-z0-9][A-Za-z0-9._-]{0,127})/([0-9]{20})-([0-9]{20})-([0-9a-f]{64})\.gvj\.zst$`)
	journalHeadPattern    = regexp.MustCompile(`^journal/([A-Za-z0-9][A-Za-z0-9._-]{0,127})/HEAD$`)
)

// JournalHead is the content of journal/<graph>/HEAD.
type JournalHead struct {
	Format  int    `json:"format"`
	GraphID string `json:"graph_id"`
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
	SHA256  string
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
	return SegmentInfo{Key: key, GraphID: m[1], First: first, Last: last, SHA256: m[4]}, true
}

func segmentKey(graphID string, first, last uint64, stored []byte) string {
	sum := sha256.Sum256(stored)
	return fmt.Sprintf("%s%020d-%020d-%s.gvj.zst", JournalPrefix(graphID), first, last, hex.EncodeToString(sum[:]))
}

var (
	segEnc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	segDec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(1<<30))
)

// encodeSegment encodes consecutive batches of a graph and returns the segment's
// key and stored bytes.
func encodeSegment(graphID string, batches []graph.Batch) (string, []byte, error) {
	if len(batches) == 0 {
		return "", nil, fmt.Errorf("%w: empty segment", ErrInvalid)
	}
	b := []byte(journalMagic)
	b = appendStr(b, graphID)
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
	return segmentKey(graphID, batches[0].Seq, batches[len(batches)-1].Seq, stored), stored, nil
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// DecodeSegment checks a stored segment against its key (hash, graph, positions)
// and decodes its batches. Errors wrap ErrCorrupt.
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
	if !bytes.HasPrefix(raw, []byte(journalMagic)) {
		return nil, bad("not a journal segment")
	}
	d.b = raw[len(journalMagic):]
	if g := d.str(); g != info.GraphID {
		return nil, bad("holds graph %q", g)
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

func decodeHead(graphID string, raw []byte) (*JournalHead, error) {
	var h JournalHead
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil || h.Format != 1 || h.GraphID != graphID {
		return nil, fmt.Errorf("%w: journal HEAD of graph %q does not decode", ErrCorrupt, graphID)
	}
	return &h, nil
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
