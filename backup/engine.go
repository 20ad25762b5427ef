package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/meta"
)

// Sentinel errors. Test them with errors.Is.
var (
	// ErrNotFound: the snapshot or graph is unknown.
	ErrNotFound = errors.New("backup: not found")
	// ErrCorrupt: an object is missing, has the wrong size or hash, or does not
	// decode. The error names the object.
	ErrCorrupt = errors.New("backup: corrupt")
	// ErrWrongKey: an encrypted snapshot cannot be opened with the key given.
	ErrWrongKey = errors.New("backup: wrong encryption key")
	// ErrInvalid: an argument is malformed (graph id, snapshot id, options).
	ErrInvalid = errors.New("backup: invalid argument")
	// ErrBusy: the operation conflicts with one in progress.
	ErrBusy = errors.New("backup: busy")
	// ErrEmptySelection: a partial restore's selection matches no node of the
	// snapshot. Nothing is written.
	ErrEmptySelection = errors.New("backup: the selection matches no node")
)

// CorruptError names the object that failed a check. It unwraps to ErrCorrupt.
type CorruptError struct {
	Key string
	Err error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("backup: corrupt object %q: %v", e.Key, e.Err)
}

func (e *CorruptError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }

// ChainPolicy bounds incremental chains. When a new incremental snapshot would make
// the chain longer than MaxLayers, or its delta layers hold more than MaxDeltaRatio
// of the base layer's records and of its bytes (before compression), the snapshot is written as a synthetic full: the
// chain merged into one layer, without reading the graph again.
type ChainPolicy struct {
	MaxLayers     int     // default 16
	MaxDeltaRatio float64 // default 0.5
}

type config struct {
	meter        metric.MeterProvider
	logger       *slog.Logger
	masterKey    []byte
	chain        ChainPolicy
	workers      int
	segmentSplit uint64
	maxSegment   int
	minSegment   int
	compression  Compression
	liveCache    bool
	pinners      []Pinner
	holds        []Pinner // WithRetentionHold: kept from retention, not from Delete
	tempMaxAge   time.Duration
	instance     string
}

// Option configures an Engine.
type Option func(*config)

// WithMeterProvider records metrics through mp. Nil means otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) Option { return func(c *config) { c.meter = mp } }

// WithLogger logs through l. Nil means slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithEncryptionKey encrypts new snapshots at rest with a 32-byte master key and
// opens encrypted ones with it.
func WithEncryptionKey(key []byte) Option { return func(c *config) { c.masterKey = key } }

// WithChainPolicy sets when incremental chains are compacted.
func WithChainPolicy(p ChainPolicy) Option { return func(c *config) { c.chain = p } }

// Compression says how hard new objects are compressed. Objects of every level
// read alike; the level trades snapshot time for stored bytes. Identical content
// compressed at two levels is two objects, so changing the level makes the next
// snapshots store anew what they would otherwise share.
type Compression int

const (
	// CompressionFast, the default, is zstd's fastest level.
	CompressionFast Compression = iota
	// CompressionSmall is zstd's default level. On a LightRAG-shaped graph of
	// 800,000 records (examples/bench) a full snapshot stored 5% fewer bytes than
	// with CompressionFast, for 1.25 times the CPU.
	CompressionSmall
	// CompressionSmallest is zstd's better-compression level: on the same graph,
	// 9% fewer bytes than CompressionFast for 1.7 times the CPU.
	CompressionSmallest
)

// WithCompression sets how hard new objects are compressed. Default: CompressionFast.
func WithCompression(level Compression) Option { return func(c *config) { c.compression = level } }

// WithLiveCache keeps, for each graph, the live records of the newest snapshot
// the engine took of it in memory: a key hash and a value hash per record, 24
// bytes each (96 MiB for a graph of 4 million nodes and edges). An incremental
// snapshot that has to compare the whole graph with its parent (the reader keeps
// no journal, the journal lost the parent's position or holds a reset or a node
// deletion) then starts from memory instead of reading and decompressing the
// parent's chain from the bucket. Off by default.
func WithLiveCache() Option { return func(c *config) { c.liveCache = true } }

// DefaultTempMaxAge is how old a temporary object must be before start-up or GC
// removes it ([Engine.RemoveTemp]).
const DefaultTempMaxAge = time.Hour

// WithTempMaxAge sets how old a temporary object left in the bucket by an
// interrupted write must be before [Engine.RemoveTemp] and GC remove it. Younger
// ones are left alone: another instance sharing the bucket may be writing them.
// Default [DefaultTempMaxAge]; it must be positive.
func WithTempMaxAge(d time.Duration) Option { return func(c *config) { c.tempMaxAge = d } }

// InstanceLabel is the snapshot label naming the instance that took the snapshot
// (see [WithInstance]).
const InstanceLabel = "instance"

// WithInstance names the instance this engine runs in. Every snapshot it takes
// carries the name as its [InstanceLabel] label, in its row and its manifest
// (replacing a label of that name the caller gave), so that instances sharing a
// store know whose running snapshot a row is ([Engine.ResolveAbandoned]).
func WithInstance(name string) Option { return func(c *config) { c.instance = name } }

// WithConcurrency sets how many segments are compressed and stored at once.
// Default: GOMAXPROCS, at least 2.
func WithConcurrency(n int) Option { return func(c *config) { c.workers = n } }

// WithSegmentSize sets the raw segment size bounds in bytes and the average number
// of records between content-defined cuts. Defaults: 64 KiB, 4 MiB, 4096.
func WithSegmentSize(minBytes, maxBytes, avgRecords int) Option {
	return func(c *config) {
		c.minSegment, c.maxSegment, c.segmentSplit = minBytes, maxBytes, uint64(avgRecords)
	}
}

// Engine takes, restores, verifies and prunes snapshots. It is safe for concurrent
// use; snapshots of one graph are serialized.
type Engine struct {
	store  *meta.Store
	bucket *blob.Bucket
	cfg    config
	log    *slog.Logger
	m      *metrics

	enc *zstd.Encoder // EncodeAll is safe for concurrent use
	dec *zstd.Decoder // DecodeAll is safe for concurrent use

	masterKey atomic.Pointer[[]byte] // nil when not encrypting
	damaged   sync.Map               // object keys a read found damaged; put rewrites them

	live liveCache // with WithLiveCache

	mu      sync.Mutex
	graphMu map[string]*sync.Mutex
	gcMu    sync.RWMutex // snapshots hold it shared, GC exclusively

	subMu sync.Mutex
	subs  []*subscriber // replaced, never changed in place, so a copy of the slice may be read unlocked
}

type subscriber struct {
	fn func(ctx context.Context, row *meta.Snapshot)
}

// New returns an Engine keeping metadata in st and data in bucket.
func New(st *meta.Store, bucket *blob.Bucket, opts ...Option) (*Engine, error) {
	if st == nil || bucket == nil {
		return nil, fmt.Errorf("%w: store and bucket are required", ErrInvalid)
	}
	c := config{
		chain:        ChainPolicy{MaxLayers: 16, MaxDeltaRatio: 0.5},
		workers:      max(2, runtime.GOMAXPROCS(0)),
		segmentSplit: 4096,
		minSegment:   64 << 10,
		maxSegment:   4 << 20,
		tempMaxAge:   DefaultTempMaxAge,
	}
	for _, o := range opts {
		o(&c)
	}
	switch {
	case c.masterKey != nil && len(c.masterKey) != 32:
		return nil, fmt.Errorf("%w: encryption key must be 32 bytes, got %d", ErrInvalid, len(c.masterKey))
	case c.chain.MaxLayers < 1 || c.chain.MaxDeltaRatio <= 0:
		return nil, fmt.Errorf("%w: chain policy needs MaxLayers >= 1 and MaxDeltaRatio > 0", ErrInvalid)
	case c.workers < 1:
		return nil, fmt.Errorf("%w: concurrency must be at least 1", ErrInvalid)
	case c.minSegment < 1 || c.maxSegment < c.minSegment || c.segmentSplit < 1:
		return nil, fmt.Errorf("%w: bad segment size bounds", ErrInvalid)
	case c.compression < CompressionFast || c.compression > CompressionSmallest:
		return nil, fmt.Errorf("%w: unknown compression level %d", ErrInvalid, c.compression)
	case c.tempMaxAge <= 0:
		return nil, fmt.Errorf("%w: temporary object age must be positive, got %v", ErrInvalid, c.tempMaxAge)
	}
	if c.meter == nil {
		c.meter = otel.GetMeterProvider()
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	m, err := newMetrics(c.meter)
	if err != nil {
		return nil, err
	}
	level := [...]zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression}[c.compression]
	// No frame checksum: the SHA-256 that names every object covers its bytes;
	// a checksum would hash every raw byte again on write and on read.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(c.workers), zstd.WithEncoderCRC(false), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(1<<30))
	if err != nil {
		return nil, err
	}
	e := &Engine{
		store: st, bucket: bucket, cfg: c, log: c.logger, m: m,
		enc: enc, dec: dec, graphMu: map[string]*sync.Mutex{},
	}
	if c.masterKey != nil {
		k := c.masterKey
		e.masterKey.Store(&k)
	}
	return e, nil
}

// Subscribe calls fn after each snapshot is committed and recorded, in the
// goroutine that took it, with the completed row; subscribers are called in the
// order they subscribed. Replication subscribes to ship every new snapshot. fn must
// not block for long (the graph's next snapshot waits for it) and must not change
// row; it may start work of its own.
//
// cancel ends the subscription: snapshots committed after it returns do not reach
// fn, though a call already under way may still be running. cancel may be called
// more than once. Subscribe and cancel are safe for concurrent use, also with
// snapshots in progress. A nil fn subscribes nothing.
func (e *Engine) Subscribe(fn func(ctx context.Context, row *meta.Snapshot)) (cancel func()) {
	if fn == nil {
		return func() {}
	}
	sub := &subscriber{fn: fn}
	e.subMu.Lock()
	e.subs = append(slices.Clip(e.subs), sub)
	e.subMu.Unlock()
	return func() {
		e.subMu.Lock()
		defer e.subMu.Unlock()
		if i := slices.Index(e.subs, sub); i >= 0 {
			e.subs = slices.Delete(slices.Clone(e.subs), i, i+1)
		}
	}
}

// committed passes a committed and recorded row to every subscriber.
func (e *Engine) committed(ctx context.Context, row *meta.Snapshot) {
	e.subMu.Lock()
	subs := e.subs
	e.subMu.Unlock()
	for _, sub := range subs {
		sub.fn(ctx, row)
	}
}

// Store returns the metadata store the engine uses.
func (e *Engine) Store() *meta.Store { return e.store }

// Bucket returns the bucket the engine keeps data in.
func (e *Engine) Bucket() *blob.Bucket { return e.bucket }

func (e *Engine) lockGraph(graphID string) func() {
	e.mu.Lock()
	mu, ok := e.graphMu[graphID]
	if !ok {
		mu = &sync.Mutex{}
		e.graphMu[graphID] = mu
	}
	e.mu.Unlock()
	mu.Lock()
	return mu.Unlock
}

// Progress reports how far a long operation has come.
type Progress struct {
	Phase   string `json:"phase"` // "journal", "store", "compact", "manifest"; restore: "nodes", "edges", "done"; "verify"
	Records int64  `json:"records"`
	Bytes   int64  `json:"bytes"`
}

func report(fn func(Progress), p Progress) {
	if fn != nil {
		fn(p)
	}
}

// key returns the current master key, or nil.
func (e *Engine) key() []byte {
	if k := e.masterKey.Load(); k != nil {
		return *k
	}
	return nil
}
