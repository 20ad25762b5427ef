package blob

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// ErrInvalidURL reports a bucket URL that [OpenURL] cannot open: malformed, of a
// scheme no linked driver registered, or with settings its driver refuses.
var ErrInvalidURL = errors.New("blob: invalid bucket URL")

// URLOpener opens a driver for a bucket URL of the scheme it was registered for.
// It returns an error wrapping [ErrInvalidURL] for settings it refuses, before
// any connection is made.
type URLOpener func(ctx context.Context, u *url.URL) (Driver, error)

var openers struct {
	sync.RWMutex
	m map[string]URLOpener
}

// Register makes [OpenURL] open URLs of scheme (lower case, without "://") with
// open. Drivers register themselves when their package is linked: fileblob
// "file", memblob "mem", s3blob "s3". Registering a scheme twice panics.
func Register(scheme string, open URLOpener) {
	openers.Lock()
	defer openers.Unlock()
	if openers.m == nil {
		openers.m = map[string]URLOpener{}
	}
	if _, dup := openers.m[scheme]; dup || scheme == "" || open == nil {
		panic(fmt.Sprintf("blob: Register of scheme %q twice, empty or without an opener", scheme))
	}
	openers.m[scheme] = open
}

// Schemes lists the registered URL schemes, sorted.
func Schemes() []string {
	openers.RLock()
	defer openers.RUnlock()
	out := make([]string, 0, len(openers.m))
	for s := range openers.m {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// OpenDriver opens the driver a bucket URL names, through the opener its scheme
// registered (see [Register]). A string with no "scheme://" is a folder path,
// opened as "file". Typical URLs:
//
//	/var/lib/graphvault/bucket               a folder (fileblob)
//	file:///var/lib/graphvault/bucket        the same
//	s3://BUCKET/PREFIX?endpoint=HOST:PORT&region=R&secure=false   (s3blob)
//	mem://                                   in memory, empty at every open (memblob)
func OpenDriver(ctx context.Context, rawURL string) (Driver, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	openers.RLock()
	open := openers.m[u.Scheme]
	openers.RUnlock()
	if open == nil {
		return nil, fmt.Errorf("%w: scheme %q has no driver linked (registered: %s)", ErrInvalidURL, u.Scheme, strings.Join(Schemes(), ", "))
	}
	return open(ctx, u)
}

// OpenURL is [OpenDriver] wrapped in a [Bucket] made with opts.
func OpenURL(ctx context.Context, rawURL string, opts ...Option) (*Bucket, error) {
	drv, err := OpenDriver(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	return NewBucket(drv, opts...), nil
}

// parseURL parses a bucket URL; a plain path becomes a file URL.
func parseURL(raw string) (*url.URL, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidURL)
	}
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok || strings.ContainsAny(scheme, `/\`) {
		if after, isFile := strings.CutPrefix(raw, "file:"); isFile {
			raw = after
		}
		return &url.URL{Scheme: "file", Path: raw}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidURL, redactURLError(err))
	}
	u.Scheme = strings.ToLower(u.Scheme)
	return u, nil
}

// redactURLError drops the URL, which may hold a password, from a parse error.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
