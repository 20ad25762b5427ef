package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"sync"
	"sync/atomic"

	"github.com/graphvault/graphvault/store/blob"
)

// pack turns raw bytes into a stored object: zstd, then AES-256-GCM when dataKey is
// set. The key is the SHA-256 of the stored bytes, so identical unencrypted content
// is stored once and any change to stored bytes is detected on read.
//
// dst, when not nil, is reused for the compressed bytes; the result may alias it.
func (e *Engine) pack(prefix string, raw, dataKey, dst []byte) (string, []byte, error) {
	if dst == nil {
		dst = make([]byte, 0, len(raw)/3+1024)
	}
	stored := e.enc.EncodeAll(raw, dst[:0])
	if dataKey != nil {
		var err error
		if stored, err = seal(dataKey, stored); err != nil {
			return "", nil, err
		}
	}
	return contentKey(prefix, sha256.Sum256(stored)), stored, nil
}

// put stores a content-addressed object unless an intact copy is already there. A
// present object of the wrong size, or one a read has found damaged, is written
// again, so the next snapshot repairs what verification found. The object is
// durable once the bucket is synced, which commit does before the manifest.
func (e *Engine) put(ctx context.Context, key string, stored []byte) (bool, error) {
	a, err := e.bucket.Stat(ctx, key)
	switch {
	case err == nil && a.Size == int64(len(stored)) && !e.isDamaged(key):
	case err == nil || errors.Is(err, blob.ErrNotFound):
		if err := e.bucket.PutUnsynced(ctx, key, stored); err != nil {
			return false, err
		}
		e.damaged.Delete(key)
		return true, nil
	default:
		return false, err
	}
	return false, nil
}

// markDamaged remembers an object that failed its hash or decoding on read.
func (e *Engine) markDamaged(key string) { e.damaged.Store(key, struct{}{}) }

// markIfMalformed marks an object damaged when err says its bytes are malformed.
func (e *Engine) markIfMalformed(key string, err error) {
	var fe formatError
	if errors.As(err, &fe) {
		e.markDamaged(key)
	}
}

func (e *Engine) isDamaged(key string) bool {
	_, ok := e.damaged.Load(key)
	return ok
}

// load reads an object back and checks it: present, the recorded size, the hash its
// key names, decryptable and decompressable. Any failure is a *CorruptError naming
// the object, except a cancelled context and ErrWrongKey.
func (e *Engine) load(ctx context.Context, obj Object, dataKey []byte) ([]byte, error) {
	return e.loadInto(ctx, obj, dataKey, nil)
}

// loadInto is load decompressing into dst when it has room for the object.
func (e *Engine) loadInto(ctx context.Context, obj Object, dataKey, dst []byte) ([]byte, error) {
	// The stored bytes are read into a pooled buffer: they are done with once
	// decompressed, and fresh buffers for every object of a large restore cost
	// page faults and collections.
	sp := storedBufs.Get().(*[]byte)
	defer storedBufs.Put(sp)
	compressed, stored, err := e.readCheckedInto(ctx, obj, dataKey, *sp)
	*sp = stored[:0]
	if err != nil {
		return nil, err
	}
	if int64(cap(dst)) < obj.Raw {
		dst = make([]byte, 0, sizeHint(obj.Raw, 64<<20))
	}
	raw, err := e.dec.DecodeAll(compressed, dst[:0])
	if err != nil {
		return nil, &CorruptError{Key: obj.Key, Err: fmt.Errorf("decompress: %v", err)}
	}
	if obj.Raw > 0 && int64(len(raw)) != obj.Raw {
		return nil, &CorruptError{Key: obj.Key, Err: fmt.Errorf("raw size %d, manifest says %d", len(raw), obj.Raw)}
	}
	return raw, nil
}

// loadSegment is loadInto for a segment: it returns the raw segment, its rows
// rebuilt from the columns it is stored in (see columnar.go). A segment stored as
// rows, as format 1 wrote them, is returned as it is.
func (e *Engine) loadSegment(ctx context.Context, obj Object, dataKey, dst []byte) ([]byte, error) {
	sp := columnScratch.Get().(*[]byte)
	defer columnScratch.Put(sp)
	stored, err := e.loadInto(ctx, obj, dataKey, *sp)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(stored, []byte(columnMagic)) {
		*sp = nil // the caller keeps stored
		return stored, nil
	}
	*sp = stored
	// Rows repeat the property names the columns hold once.
	if need := len(stored) + len(stored)/4; cap(dst) < need {
		dst = make([]byte, 0, need)
	}
	raw, err := decolumnize(dst[:0], stored)
	if err != nil {
		e.markDamaged(obj.Key)
		return nil, &CorruptError{Key: obj.Key, Err: err}
	}
	return raw, nil
}

// columnScratch holds buffers for columnar segments on their way back to rows.
var columnScratch = sync.Pool{New: func() any { return new([]byte) }}

// storedBufs holds buffers for stored bytes on their way to decompression.
var storedBufs = sync.Pool{New: func() any { return new([]byte) }}

// readChecked reads an object and checks its size and hash, and decrypts it: what
// it returns is the zstd frame.
func (e *Engine) readChecked(ctx context.Context, obj Object, dataKey []byte) ([]byte, error) {
	frame, _, err := e.readCheckedInto(ctx, obj, dataKey, nil)
	return frame, err
}

// readCheckedInto is readChecked reading into buf when it has room. It also
// returns the buffer the stored bytes were read into (nil if none was), for reuse
// once the frame, which may alias it, is no longer needed.
func (e *Engine) readCheckedInto(ctx context.Context, obj Object, dataKey, buf []byte) (frame, stored []byte, err error) {
	stored, err = e.bucket.GetInto(ctx, obj.Key, buf)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if errors.Is(err, blob.ErrNotFound) {
			return nil, nil, &CorruptError{Key: obj.Key, Err: errors.New("missing")}
		}
		return nil, nil, fmt.Errorf("backup: read %q: %w", obj.Key, err)
	}
	if obj.Size > 0 && int64(len(stored)) != obj.Size {
		return nil, stored, &CorruptError{Key: obj.Key, Err: fmt.Errorf("size %d, manifest says %d", len(stored), obj.Size)}
	}
	sum := sha256.Sum256(stored)
	if want := path.Base(obj.Key); hex.EncodeToString(sum[:]) != want {
		e.markDamaged(obj.Key)
		return nil, stored, &CorruptError{Key: obj.Key, Err: errors.New("SHA-256 does not match the key")}
	}
	if dataKey != nil {
		if frame, err = open(dataKey, stored); err != nil {
			return nil, stored, &CorruptError{Key: obj.Key, Err: fmt.Errorf("decrypt: %v", err)}
		}
		return frame, stored, nil
	}
	return stored, stored, nil
}

// layerKeys resolves the data key of each encrypted layer of a manifest.
func (e *Engine) layerKeys(ctx context.Context, m *Manifest) ([][]byte, error) {
	keys := make([][]byte, len(m.Layers))
	for i, l := range m.Layers {
		if l.Key == "" {
			continue
		}
		stored, err := e.bucket.Get(ctx, l.Key)
		if err != nil {
			if errors.Is(err, blob.ErrNotFound) {
				return nil, &CorruptError{Key: l.Key, Err: errors.New("missing")}
			}
			return nil, fmt.Errorf("backup: read %q: %w", l.Key, err)
		}
		if l.KeySize > 0 && int64(len(stored)) != l.KeySize {
			e.markDamaged(l.Key)
			return nil, &CorruptError{Key: l.Key, Err: fmt.Errorf("size %d, manifest says %d", len(stored), l.KeySize)}
		}
		if keys[i], err = unwrapKey(e.key(), stored, l.Key); err != nil {
			if errors.Is(err, errKeyMismatch) || e.key() == nil {
				return nil, err // the key given is not the one the data was sealed for
			}
			// The key object names the right master key but does not open or parse:
			// the object is damaged.
			return nil, &CorruptError{Key: l.Key, Err: err}
		}
	}
	return keys, nil
}

// segmentJob is one raw segment waiting to be packed and stored.
type segmentJob struct {
	seq  int
	kind byte
	raw  []byte
	n    int64
}

// layerWriter cuts records into segments at content-defined boundaries and stores
// them with bounded concurrency. Segments keep the order records arrived in.
type layerWriter struct {
	e       *Engine
	ctx     context.Context
	dataKey []byte

	kind    byte
	buf     []byte
	n       int64
	seq     int
	jobs    chan segmentJob
	free    chan []byte
	wg      sync.WaitGroup
	errMu   sync.Mutex
	err     error // the first failure; read with failure()
	closeMu sync.Once
	cancel  context.CancelFunc

	mu       sync.Mutex
	segments map[int]Segment

	bytesRaw, bytesStored, bytesNew atomic.Int64
	progress                        func(Progress)
	records                         atomic.Int64
}

func (e *Engine) newLayerWriter(ctx context.Context, dataKey []byte, progress func(Progress)) *layerWriter {
	ctx, cancel := context.WithCancel(ctx)
	w := &layerWriter{
		e: e, ctx: ctx, cancel: cancel, dataKey: dataKey, progress: progress,
		jobs: make(chan segmentJob, e.cfg.workers), segments: map[int]Segment{},
		free: make(chan []byte, 2*e.cfg.workers+2),
	}
	for range e.cfg.workers {
		w.wg.Add(1)
		go w.work()
	}
	return w
}

func (w *layerWriter) fail(err error) {
	w.errMu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.errMu.Unlock()
	w.cancel()
}

// failure returns the first failure of a worker, or nil. The caller may learn of
// one from the cancelled context while the worker is still recording it, or may
// see its own context cancelled while a worker fails: hence the lock.
func (w *layerWriter) failure() error {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.err
}

func (w *layerWriter) work() {
	defer w.wg.Done()
	// out is this worker's compressed-bytes buffer, reused from segment to segment:
	// a bucket does not keep the data it is given after Put returns.
	// cols is its buffer for the columnar form of a segment.
	var out, cols []byte
	for j := range w.jobs {
		if w.ctx.Err() != nil {
			w.release(j.raw)
			continue
		}
		var err error
		cols, err = columnize(cols[:0], j.raw)
		w.release(j.raw)
		if err != nil {
			w.fail(err)
			continue
		}
		if need := len(cols) + len(cols)/32 + 1024; cap(out) < need {
			// Room for an incompressible segment of the largest usual size.
			size := max(len(cols), w.e.cfg.maxSegment+64<<10)
			out = make([]byte, 0, size+size/32+1024)
		}
		key, stored, err := w.e.pack(dataPrefix, cols, w.dataKey, out)
		if w.dataKey == nil {
			out = stored
		}
		rawLen := len(cols)
		if err != nil {
			w.fail(err)
			continue
		}
		wrote, err := w.e.put(w.ctx, key, stored)
		if err != nil {
			w.fail(err)
			continue
		}
		w.bytesRaw.Add(int64(rawLen))
		w.bytesStored.Add(int64(len(stored)))
		if wrote {
			w.bytesNew.Add(int64(len(stored)))
		}
		kind := "node"
		if j.kind == kindEdge {
			kind = "edge"
		}
		w.mu.Lock()
		w.segments[j.seq] = Segment{
			Object: Object{Key: key, Size: int64(len(stored)), Raw: int64(rawLen)},
			Kind:   kind, Records: j.n,
		}
		w.mu.Unlock()
		recs := w.records.Add(j.n)
		report(w.progress, Progress{Phase: "store", Records: recs, Bytes: w.bytesRaw.Load()})
	}
}

// begin starts records of a kind; all nodes come before all edges.
func (w *layerWriter) begin(kind byte) error {
	if err := w.flush(); err != nil {
		return err
	}
	w.kind = kind
	return nil
}

func (w *layerWriter) startBuf() {
	if w.buf == nil {
		w.buf = w.acquire()
		w.buf = append(w.buf, segmentMagic...)
		w.buf = append(w.buf, w.kind)
	}
}

// add appends a put record and cuts the segment after it when the key hash says so
// (content-defined: the same keys give the same cuts) or the segment is full.
func (w *layerWriter) add(key []byte, kh keyHash, value []byte) error {
	w.startBuf()
	w.buf = appendPut(w.buf, key, value)
	return w.recordAdded(kh)
}

func (w *layerWriter) addTombstone(kh keyHash) error {
	w.startBuf()
	w.buf = appendTombstone(w.buf, kh)
	return w.recordAdded(kh)
}

func (w *layerWriter) recordAdded(kh keyHash) error {
	w.n++
	cut := uint64(kh[15]) | uint64(kh[14])<<8 | uint64(kh[13])<<16 // low bits of the hash
	if (len(w.buf) >= w.e.cfg.minSegment && cut%w.e.cfg.segmentSplit == 0) || len(w.buf) >= w.e.cfg.maxSegment {
		return w.flush()
	}
	return nil
}

func (w *layerWriter) flush() error {
	if w.n == 0 {
		return w.ctx.Err()
	}
	j := segmentJob{seq: w.seq, kind: w.kind, raw: w.buf, n: w.n}
	w.seq++
	w.buf, w.n = nil, 0
	select {
	case w.jobs <- j:
		return nil
	case <-w.ctx.Done():
		if err := w.failure(); err != nil {
			return err
		}
		return w.ctx.Err()
	}
}

// finish flushes, waits for every segment to be stored and returns them in order.
func (w *layerWriter) finish() ([]Segment, error) {
	err := w.flush()
	w.stop()
	w.cancel()
	if err := w.failure(); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	out := make([]Segment, w.seq)
	for i := range out {
		out[i] = w.segments[i]
	}
	return out, nil
}

// stop closes the job queue once and waits for the workers.
func (w *layerWriter) stop() {
	w.closeMu.Do(func() { close(w.jobs) })
	w.wg.Wait()
}

// abort stops the workers after an error elsewhere.
func (w *layerWriter) abort() {
	w.fail(context.Canceled)
	w.stop()
}

// Segment buffers are recycled within a layer: a snapshot fills hundreds of them,
// and every fresh allocation brings the next garbage collection nearer, which marks
// the host's whole graph again. At most workers+2 buffers exist at once (one being
// filled, the queued ones and the ones being packed), so the free list never blocks.

// acquire returns an empty segment buffer.
func (w *layerWriter) acquire() []byte {
	select {
	case b := <-w.free:
		return b[:0]
	default:
		// Room for a whole segment, which ends at the first record that takes it
		// to maxSegment: a buffer grows only for a record larger than the margin.
		return make([]byte, 0, w.e.cfg.maxSegment+64<<10)
	}
}

// release gives a segment buffer back for the next segment.
func (w *layerWriter) release(b []byte) {
	select {
	case w.free <- b:
	default:
	}
}
