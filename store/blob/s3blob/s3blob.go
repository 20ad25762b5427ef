// Package s3blob is a [blob.Driver] for Amazon S3 and S3-compatible servers (MinIO,
// Ceph, Garage, R2, ...), built on minio-go.
//
// Objects live in one bucket, optionally below a prefix, so that several stores can
// share a bucket: the key "a/b" with the prefix "graphvault/prod" is the object
// "graphvault/prod/a/b". S3 writes are atomic, so Put is a single PutObject.
//
// PutIfAbsent first asks whether the key exists (saving the upload when it does),
// then uploads with the conditional header If-None-Match: "*", which AWS S3, MinIO and
// most current servers evaluate atomically: of several racers exactly one succeeds. A
// server that ignores the header overwrites instead; there, two writers that both pass
// the existence check within the same moment both succeed and the last one wins. Use
// such a server only where one writer per key is guaranteed otherwise.
//
// [Config] holds the credentials; its String, GoString and LogValue methods never
// show the secret key or session token. Linking the package registers the scheme
// "s3" with [blob.OpenURL]: s3://BUCKET/PREFIX?endpoint=HOST:PORT&region=R&secure=false,
// with the credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (see
// [ConfigFromURL]).
//
// # Errors
//
// Get and Stat of a missing key return [blob.ErrNotFound]; PutIfAbsent of a taken key
// [blob.ErrExists]; Open of a missing bucket an error wrapping blob.ErrNotFound; a
// call with a done context an error wrapping ctx.Err(); other server errors are
// minio.ErrorResponse values.
package s3blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/graphvault/graphvault/store/blob"
)

// Config says where the objects are and how to authenticate.
type Config struct {
	// Endpoint is the server: "host[:port]", or a URL "https://host[:port]" whose
	// scheme sets Secure. Amazon S3 is "s3.amazonaws.com".
	Endpoint string
	// Bucket must exist already.
	Bucket string
	// Prefix, optional, is prepended with a slash to every key: a folder of the
	// bucket that belongs to this store.
	Prefix string
	// AccessKey and SecretKey are static credentials; both empty means anonymous.
	AccessKey string
	SecretKey string
	// SessionToken goes with temporary credentials.
	SessionToken string
	// Region is the bucket's region; empty asks the server.
	Region string
	// Secure selects HTTPS.
	Secure bool
	// Transport, optional, carries the HTTP requests (proxies, custom TLS, tests).
	Transport http.RoundTripper
}

const redacted = "[REDACTED]"

func redact(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// String describes the configuration without its secrets.
func (c Config) String() string {
	return fmt.Sprintf("s3blob.Config{Endpoint:%q Bucket:%q Prefix:%q Region:%q Secure:%t AccessKey:%q SecretKey:%q SessionToken:%q}",
		c.Endpoint, c.Bucket, c.Prefix, c.Region, c.Secure, c.AccessKey, redact(c.SecretKey), redact(c.SessionToken))
}

// GoString is String, so that %#v does not show the secrets either.
func (c Config) GoString() string { return c.String() }

// LogValue describes the configuration for log/slog without its secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("endpoint", c.Endpoint),
		slog.String("bucket", c.Bucket),
		slog.String("prefix", c.Prefix),
		slog.String("region", c.Region),
		slog.Bool("secure", c.Secure),
		slog.String("access_key", c.AccessKey),
		slog.String("secret_key", redact(c.SecretKey)),
		slog.String("session_token", redact(c.SessionToken)),
	)
}

// Driver stores objects in an S3 bucket. It is safe for concurrent use.
type Driver struct {
	client *minio.Client
	bucket string
	prefix string // "" or ending with "/"
	closed atomic.Bool
}

var _ blob.Driver = (*Driver)(nil)

// Open connects to the server and checks that the bucket exists.
func Open(ctx context.Context, cfg Config) (*Driver, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3blob: no bucket")
	}
	host, secure, err := parseEndpoint(cfg.Endpoint, cfg.Secure)
	if err != nil {
		return nil, err
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		if err := blob.ValidateKey(prefix); err != nil {
			return nil, fmt.Errorf("s3blob: prefix %q: %w", cfg.Prefix, err)
		}
		prefix += "/"
	}
	client, err := minio.New(host, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken),
		Secure:    secure,
		Region:    cfg.Region,
		Transport: cfg.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("s3blob: %w", err)
	}
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3blob: bucket %q: %w", cfg.Bucket, contextError(ctx, err))
	}
	if !ok {
		return nil, fmt.Errorf("s3blob: bucket %q: %w", cfg.Bucket, blob.ErrNotFound)
	}
	return &Driver{client: client, bucket: cfg.Bucket, prefix: prefix}, nil
}

func parseEndpoint(endpoint string, secure bool) (host string, _ bool, _ error) {
	if endpoint == "" {
		return "", false, errors.New("s3blob: no endpoint")
	}
	if !strings.Contains(endpoint, "://") {
		return endpoint, secure, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", false, fmt.Errorf("s3blob: endpoint: %w", err)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil || u.Host == "" {
		return "", false, fmt.Errorf("s3blob: endpoint %q: want scheme://host[:port] only", endpoint)
	}
	switch u.Scheme {
	case "https":
		return u.Host, true, nil
	case "http":
		return u.Host, false, nil
	}
	return "", false, fmt.Errorf("s3blob: endpoint %q: scheme must be http or https", endpoint)
}

// contextError makes sure an error caused by the end of ctx wraps ctx.Err().
func contextError(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}

// translate maps a minio-go error to the blob sentinels.
func translate(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		switch {
		case resp.Code == "NoSuchKey" || resp.StatusCode == http.StatusNotFound && resp.Code != "NoSuchBucket":
			return blob.ErrNotFound
		case resp.Code == "PreconditionFailed" || resp.StatusCode == http.StatusPreconditionFailed:
			return blob.ErrExists
		}
	}
	return contextError(ctx, err)
}

// start refuses a call after Close or with a done context.
func (d *Driver) start(ctx context.Context) error {
	if d.closed.Load() {
		return blob.ErrClosed
	}
	return ctx.Err()
}

// Put stores data under key, replacing any object there.
func (d *Driver) Put(ctx context.Context, key string, data []byte) error {
	if err := d.start(ctx); err != nil {
		return err
	}
	_, err := d.client.PutObject(ctx, d.bucket, d.prefix+key, bytes.NewReader(data), int64(len(data)),
		putOptions(len(data)))
	return translate(ctx, err)
}

// putOptions returns the options of a single upload of n bytes.
func putOptions(n int) minio.PutObjectOptions {
	return minio.PutObjectOptions{
		ContentType: "application/octet-stream",
		// Over plain HTTP minio-go signs the payload in aws-chunked streaming form,
		// which for an empty body goes out without a Content-Length; some servers
		// refuse that. An empty body has nothing to sign, so send it plainly.
		DisableContentSha256: n == 0,
	}
}

// conflictRetries bounds how often PutIfAbsent retries after HTTP 409, which AWS
// returns when a conditional write races with another write in progress.
const conflictRetries = 4

// PutIfAbsent stores data under key unless the key is taken.
func (d *Driver) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	// The existence check is an optimisation and the guard on servers that ignore
	// If-None-Match; the conditional put below is what makes racers exclusive.
	switch _, err := d.Stat(ctx, key); {
	case err == nil:
		return blob.ErrExists
	case !errors.Is(err, blob.ErrNotFound):
		return err
	}
	opts := putOptions(len(data))
	opts.DisableMultipart = true // one request, so the condition covers the whole upload
	opts.SetMatchETagExcept("*") // If-None-Match: "*"
	for attempt := 0; ; attempt++ {
		_, err := d.client.PutObject(ctx, d.bucket, d.prefix+key, bytes.NewReader(data), int64(len(data)), opts)
		var resp minio.ErrorResponse
		if attempt < conflictRetries && errors.As(err, &resp) && resp.StatusCode == http.StatusConflict {
			if werr := wait(ctx, time.Duration(50<<attempt)*time.Millisecond); werr != nil {
				return werr
			}
			continue
		}
		return translate(ctx, err)
	}
}

func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Get returns the object stored under key.
func (d *Driver) Get(ctx context.Context, key string) ([]byte, error) {
	return d.GetInto(ctx, key, nil)
}

// GetInto returns the object stored under key, read into buf when it has room.
func (d *Driver) GetInto(ctx context.Context, key string, buf []byte) ([]byte, error) {
	if err := d.start(ctx); err != nil {
		return nil, err
	}
	obj, err := d.client.GetObject(ctx, d.bucket, d.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, translate(ctx, err)
	}
	defer obj.Close()
	// Read to the end without asking for the size first, which would cost a
	// request of its own; the buffer grows as io.ReadAll's does.
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := obj.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, translate(ctx, err)
		}
	}
}

// Stat returns the size and modification time of the object stored under key.
func (d *Driver) Stat(ctx context.Context, key string) (blob.Attrs, error) {
	if err := d.start(ctx); err != nil {
		return blob.Attrs{}, err
	}
	info, err := d.client.StatObject(ctx, d.bucket, d.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return blob.Attrs{}, translate(ctx, err)
	}
	return blob.Attrs{Key: key, Size: info.Size, ModTime: info.LastModified}, nil
}

// List yields the objects whose key starts with prefix, in key order (S3 lists in
// byte order of UTF-8 keys). Objects below the store's prefix whose names are not
// valid keys, such as folder markers ending in a slash, are skipped.
func (d *Driver) List(ctx context.Context, prefix string) iter.Seq2[blob.Attrs, error] {
	return func(yield func(blob.Attrs, error) bool) {
		if err := d.start(ctx); err != nil {
			yield(blob.Attrs{}, err)
			return
		}
		// Cancelling stops minio-go's listing when the caller stops early.
		lctx, cancel := context.WithCancel(ctx)
		defer cancel()
		opts := minio.ListObjectsOptions{Prefix: d.prefix + prefix, Recursive: true}
		for obj := range d.client.ListObjectsIter(lctx, d.bucket, opts) {
			if obj.Err != nil {
				yield(blob.Attrs{}, translate(ctx, obj.Err))
				return
			}
			key, ok := strings.CutPrefix(obj.Key, d.prefix)
			if !ok || blob.ValidateKey(key) != nil {
				continue
			}
			if !yield(blob.Attrs{Key: key, Size: obj.Size, ModTime: obj.LastModified}, nil) {
				return
			}
		}
	}
}

// Delete removes the object under key, if any.
func (d *Driver) Delete(ctx context.Context, key string) error {
	if err := d.start(ctx); err != nil {
		return err
	}
	err := translate(ctx, d.client.RemoveObject(ctx, d.bucket, d.prefix+key, minio.RemoveObjectOptions{}))
	if errors.Is(err, blob.ErrNotFound) {
		return nil
	}
	return err
}

// Close marks the driver closed; later calls fail with blob.ErrClosed. The HTTP
// transport's idle connections close on their own.
func (d *Driver) Close() error {
	d.closed.Store(true)
	return nil
}

func init() {
	blob.Register("s3", func(ctx context.Context, u *url.URL) (blob.Driver, error) {
		cfg, err := ConfigFromURL(u, os.Getenv)
		if err != nil {
			return nil, err
		}
		return Open(ctx, cfg)
	})
}

// ConfigFromURL reads a Config from a bucket URL
//
//	s3://BUCKET/PREFIX?endpoint=HOST:PORT&region=REGION&secure=false
//
// with the credentials from the environment as every S3 client reads them:
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for temporary credentials,
// AWS_SESSION_TOKEN (getenv is os.Getenv, or a stand-in in tests). The endpoint
// defaults to Amazon S3 (s3.amazonaws.com) and secure to true. Credentials in the
// URL itself, unknown parameters and a secure that is not a boolean are refused
// with an error wrapping [blob.ErrInvalidURL].
func ConfigFromURL(u *url.URL, getenv func(string) string) (Config, error) {
	bad := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("%w: s3 URL: %s", blob.ErrInvalidURL, fmt.Sprintf(format, args...))
	}
	if u.Scheme != "s3" {
		return bad("scheme %q is not s3", u.Scheme)
	}
	if u.User != nil {
		return bad("credentials go in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, not in the URL")
	}
	if u.Host == "" {
		return bad("names no bucket (s3://BUCKET/PREFIX)")
	}
	cfg := Config{
		Bucket: u.Host, Prefix: strings.Trim(u.Path, "/"), Endpoint: "s3.amazonaws.com", Secure: true,
		AccessKey: getenv("AWS_ACCESS_KEY_ID"), SecretKey: getenv("AWS_SECRET_ACCESS_KEY"), SessionToken: getenv("AWS_SESSION_TOKEN"),
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("query: %v", err)
	}
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "endpoint":
			if v == "" || strings.Contains(v, "/") {
				return bad("endpoint %q: want HOST or HOST:PORT", v)
			}
			cfg.Endpoint = v
		case "region":
			cfg.Region = v
		case "secure":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return bad("secure %q: want true or false", v)
			}
			cfg.Secure = b
		default:
			return bad("unknown parameter %q (known: endpoint, region, secure)", k)
		}
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return bad("set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither")
	}
	return cfg, nil
}
