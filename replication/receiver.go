package replication

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
)

// Object keys a receiver accepts (see backup/FORMAT.md).
var (
	contentKeyPattern  = regexp.MustCompile(`^(?:data|index)/([0-9a-f]{2})/([0-9a-f]{64})$`)
	manifestKeyPattern = regexp.MustCompile(`^manifests/([A-Za-z0-9][A-Za-z0-9._-]{0,127})/([0-9A-Z]{26})\.json$`)
	dataKeyPattern     = regexp.MustCompile(`^keys/([0-9A-Z]{26})\.json$`)
)

const (
	defaultMaxObject = 64 << 20
	maxKeyObject     = 64 << 10
	listPageMax      = 1000
)

// ReceiverOption configures NewReceiver.
type ReceiverOption func(*receiverConfig)

type receiverConfig struct {
	maxObject int64
	logger    *slog.Logger
}

// WithMaxObjectBytes limits the size of one object a receiver accepts (default
// 64 MiB); larger ones are answered 413.
func WithMaxObjectBytes(n int64) ReceiverOption {
	return func(c *receiverConfig) { c.maxObject = n }
}

// WithReceiverLogger logs server-side failures through l (default slog.Default()).
func WithReceiverLogger(l *slog.Logger) ReceiverOption {
	return func(c *receiverConfig) { c.logger = l }
}

type receiver struct {
	bucket *blob.Bucket
	cfg    receiverConfig
}

// NewReceiver returns the endpoint http targets replicate to: it stores snapshot
// objects in bucket, which another backup engine can then restore from (after its
// Reindex). Every request needs "Authorization: Bearer <token>" (401 otherwise; an
// empty token refuses everything).
//
//	PUT  /objects/{key...}  store an object: 204. A data or index object must hash
//	                        (SHA-256) to the name in its key, a manifest must decode
//	                        with its root hash and match its key, else 422. Manifests
//	                        are put-if-absent: the same bytes again are 204, different
//	                        ones 409, unless the stored one is damaged, which is
//	                        replaced. With If-None-Match: * any taken key is 412.
//	HEAD /objects/{key...}  200 with Content-Length, or 404
//	GET  /objects/{key...}  the object's bytes, or 404
//	GET  /objects?prefix=&limit=&cursor=  one page of {key, size, mod_time}, in key order
//
// Journal segments must hash to the name in their key and a journal HEAD must
// decode (see JournalPrefix), else 422. A JSON object (a manifest, a data key, a
// journal HEAD) that is not valid UTF-8 is 400. Keys failing blob.ValidateKey, and keys
// outside the snapshot and journal layout (data/, index/, keys/, manifests/,
// journal/), are 400; bodies over the limit 413.
func NewReceiver(bucket *blob.Bucket, token string, opts ...ReceiverOption) http.Handler {
	if bucket == nil {
		panic("replication: NewReceiver needs a bucket")
	}
	c := receiverConfig{maxObject: defaultMaxObject}
	for _, o := range opts {
		o(&c)
	}
	if c.maxObject <= 0 {
		c.maxObject = defaultMaxObject
	}
	rc := &receiver{bucket: bucket, cfg: c}
	base := api.Options{Authorizer: receiverAuthorizer(token)}
	m := api.NewMux(base.WithDefaults(c.logger), errorStatuses) // a nil logger: slog.Default()
	m.Handle("PUT /objects/{key...}", api.ScopeWrite, rc.put)
	m.Handle("GET /objects/{key...}", api.ScopeRead, rc.get) // HEAD too
	m.Handle("GET /objects", api.ScopeRead, rc.list)
	return m
}

// receiverAuthorizer is a receiver's own token check, not the host's: every
// request needs the token, whatever its scope, and unknown paths too.
func receiverAuthorizer(token string) api.Authorizer {
	check := api.BearerToken(api.Tokens{Write: token}) // empty: refuses everything
	return func(r *http.Request, _ api.Scope) error { return check(r, api.ScopeWrite) }
}

func objectKey(r *http.Request) (string, error) {
	key := r.PathValue("key")
	if err := blob.ValidateKey(key); err != nil {
		return "", api.FieldErrorf("key", "is not a valid object key: %v", err)
	}
	return key, nil
}

func (rc *receiver) put(w http.ResponseWriter, r *http.Request) error {
	key, err := objectKey(r)
	if err != nil {
		return err
	}
	limit := rc.cfg.maxObject
	kind := ""
	switch {
	case contentKeyPattern.MatchString(key):
		kind = "content"
	case manifestKeyPattern.MatchString(key):
		kind = "manifest"
	case dataKeyPattern.MatchString(key):
		kind, limit = "key", min(limit, maxKeyObject)
	case isJournalObjectKey(key):
		kind = "journal"
	default:
		return api.FieldErrorf("key", "is not a snapshot object key (data/, index/, keys/ or manifests/)")
	}
	body, err := readObject(w, r, limit)
	if err != nil {
		return err
	}
	if kind == "manifest" || kind == "key" || journalHeadPattern.MatchString(key) {
		// JSON documents: text that is not valid UTF-8 would decode into U+FFFD,
		// so what is indexed would differ from what is stored.
		if err := api.CheckJSONText(body); err != nil {
			return err
		}
	}
	ctx := r.Context()
	switch kind {
	case "content":
		m := contentKeyPattern.FindStringSubmatch(key)
		sum := sha256.Sum256(body)
		if h := hex.EncodeToString(sum[:]); h != m[2] || m[1] != h[:2] {
			return api.Errorf(http.StatusUnprocessableEntity, "the body's SHA-256 does not match the key")
		}
	case "journal":
		if err := checkJournalObject(key, body); err != nil {
			return api.Errorf(http.StatusUnprocessableEntity, "%v", err)
		}
	case "key":
		if !json.Valid(body) || !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
			return api.Errorf(http.StatusUnprocessableEntity, "a data key object must be a JSON object")
		}
	case "manifest":
		if err := rc.putManifest(ctx, key, body); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if r.Header.Get("If-None-Match") == "*" {
		err = rc.bucket.PutIfAbsent(ctx, key, body)
		if errors.Is(err, blob.ErrExists) {
			return api.Errorf(http.StatusPreconditionFailed, "the object exists")
		}
	} else {
		err = rc.bucket.Put(ctx, key, body)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// readObject reads the body of a PUT, at most limit bytes (413 otherwise).
func readObject(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	tooLarge := api.Errorf(http.StatusRequestEntityTooLarge, "an object may hold at most %d bytes", limit)
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		return nil, tooLarge
	}
	if err != nil {
		return nil, &api.Error{Status: http.StatusBadRequest, Detail: "reading the body failed", Err: err}
	}
	return body, nil
}

// putManifest stores a manifest unless an intact one is there: the same bytes are
// accepted again, different ones are a conflict, a damaged one is replaced.
func (rc *receiver) putManifest(ctx context.Context, key string, body []byte) error {
	m, err := DecodeManifest(body)
	if err != nil {
		return api.Errorf(http.StatusUnprocessableEntity, "%v", err)
	}
	km := manifestKeyPattern.FindStringSubmatch(key)
	if m.GraphID != km[1] || m.ID != km[2] {
		return api.Errorf(http.StatusUnprocessableEntity, "the manifest is of snapshot %s/%s, not of its key", m.GraphID, m.ID)
	}
	for range 3 {
		err := rc.bucket.PutIfAbsent(ctx, key, body)
		if !errors.Is(err, blob.ErrExists) {
			return err
		}
		old, err := rc.bucket.Get(ctx, key)
		if errors.Is(err, blob.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		if bytes.Equal(old, body) {
			return nil
		}
		if _, err := DecodeManifest(old); err == nil {
			return api.Errorf(http.StatusConflict, "a different manifest of snapshot %s is stored", m.ID)
		}
		return rc.bucket.Put(ctx, key, body) // the stored one is damaged
	}
	return api.Errorf(http.StatusConflict, "the manifest of snapshot %s keeps changing", m.ID)
}

func (rc *receiver) get(w http.ResponseWriter, r *http.Request) error {
	key, err := objectKey(r)
	if err != nil {
		return err
	}
	// Only what a receiver accepts is served: a key outside the layout names
	// nothing replicated, and may be one the bucket's file system cannot even hold
	// (a segment longer than a file name), which would answer 500.
	if !inLayout(key) {
		return api.FieldErrorf("key", "is not a snapshot or journal object key")
	}
	h := w.Header()
	if r.Method == http.MethodHead {
		a, err := rc.bucket.Stat(r.Context(), key)
		if err != nil {
			w.WriteHeader(api.StatusOf(r.Context(), err)) // a HEAD answer has no body
			return nil
		}
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Length", strconv.FormatInt(a.Size, 10))
		h.Set("Last-Modified", a.ModTime.UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusOK)
		return nil
	}
	data, err := rc.bucket.Get(r.Context(), key)
	if err != nil {
		return err
	}
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	w.Write(data) //nolint:errcheck // the client is gone; nothing to do
	return nil
}

// inLayout reports whether key is one a receiver stores: a data or index object, a
// manifest, a data key object or a journal object.
func inLayout(key string) bool {
	return contentKeyPattern.MatchString(key) || manifestKeyPattern.MatchString(key) ||
		dataKeyPattern.MatchString(key) || isJournalObjectKey(key)
}

// ObjectInfo is one item of a receiver's list.
type ObjectInfo struct {
	Key     string    `json:"key"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
}

func (rc *receiver) list(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	prefix := q.Get("prefix")
	if err := blob.ValidatePrefix(prefix); err != nil {
		return api.FieldErrorf("prefix", "is not a valid prefix: %v", err)
	}
	p, err := api.ParsePage(r)
	if err != nil {
		return err
	}
	p.Limit = min(p.Limit, listPageMax)
	after := ""
	if p.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(p.Cursor)
		if err != nil || blob.ValidateKey(string(b)) != nil {
			return api.FieldErrorf("cursor", "must be a next_cursor value from a previous page")
		}
		after = string(b)
	}
	items := []ObjectInfo{}
	next := ""
	for a, err := range rc.bucket.List(r.Context(), prefix) {
		if err != nil {
			return err
		}
		if after != "" && a.Key <= after {
			continue
		}
		if len(items) == p.Limit {
			next = base64.RawURLEncoding.EncodeToString([]byte(items[len(items)-1].Key))
			break
		}
		items = append(items, ObjectInfo{Key: a.Key, Size: a.Size, ModTime: a.ModTime.UTC()})
	}
	api.WriteJSON(w, http.StatusOK, api.NewPage(items, next))
	return nil
}

// DecodeManifest decodes a stored manifest strictly and checks its root hash (see
// backup.DecodeManifest). Errors wrap ErrCorrupt.
func DecodeManifest(b []byte) (*backup.Manifest, error) {
	m, err := backup.DecodeManifest(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return m, nil
}
