package replication

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/store/blob"
)

// httpDriver is the blob.Driver of an http target: a client of NewReceiver. The
// token travels only in the Authorization header, never in a URL or an error.
type httpDriver struct {
	base   string // no trailing slash
	token  string
	client *http.Client
}

var _ blob.Driver = (*httpDriver)(nil)

// newHTTPDriver returns a driver for the receive endpoint at base. It never follows
// a redirect: the token would go on to a place nobody registered, so a 3xx answer
// is an error like any other status.
func newHTTPDriver(base, token string, client *http.Client) *httpDriver {
	cl := *client
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &httpDriver{base: strings.TrimSuffix(base, "/"), token: token, client: &cl}
}

func (d *httpDriver) objectURL(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return d.base + "/objects/" + strings.Join(segs, "/")
}

func (d *httpDriver) do(ctx context.Context, method, u string, body []byte, hdr map[string]string) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("http target: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("http target %s %s: %w", method, redactURL(u), ctx.Err())
		}
		return nil, fmt.Errorf("http target %s %s: %w", method, redactURL(u), errors.Unwrap(err))
	}
	return resp, nil
}

// redactURL drops anything but scheme, host and path from a URL for messages.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(url)"
	}
	p.User, p.RawQuery, p.Fragment = nil, "", ""
	return p.String()
}

// statusError is a non-2xx answer of a receive endpoint. Its body is never read:
// the status is all a caller learns, so nothing the remote end sends is repeated.
type statusError struct{ status int }

func (e *statusError) Error() string { return fmt.Sprintf("http target: status %d", e.status) }

// Unwrap gives the sentinel of the status.
func (e *statusError) Unwrap() error { return statusSentinel(e.status, nil) }

// newStatusError turns a non-2xx answer into an error wrapping the matching sentinel.
func newStatusError(resp *http.Response) error { return &statusError{status: resp.StatusCode} }

func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck // only to reuse the connection
	resp.Body.Close()
}

func (d *httpDriver) put(ctx context.Context, key string, data []byte, hdr map[string]string) error {
	resp, err := d.do(ctx, http.MethodPut, d.objectURL(key), data, hdr)
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode/100 != 2 {
		return newStatusError(resp)
	}
	return nil
}

// Put stores an object through the receiver.
func (d *httpDriver) Put(ctx context.Context, key string, data []byte) error {
	return d.put(ctx, key, data, nil)
}

// PutIfAbsent stores an object unless the receiver holds one under key.
func (d *httpDriver) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	return d.put(ctx, key, data, map[string]string{"If-None-Match": "*"})
}

// Get reads an object.
func (d *httpDriver) Get(ctx context.Context, key string) ([]byte, error) {
	resp, err := d.do(ctx, http.MethodGet, d.objectURL(key), nil, nil)
	if err != nil {
		return nil, err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return nil, newStatusError(resp)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("http target: reading %s: %w", key, err)
	}
	if resp.ContentLength >= 0 && int64(len(b)) != resp.ContentLength {
		return nil, fmt.Errorf("http target: %s: got %d of %d bytes", key, len(b), resp.ContentLength)
	}
	return b, nil
}

// Stat asks for an object's size and time with HEAD.
func (d *httpDriver) Stat(ctx context.Context, key string) (blob.Attrs, error) {
	resp, err := d.do(ctx, http.MethodHead, d.objectURL(key), nil, nil)
	if err != nil {
		return blob.Attrs{}, err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return blob.Attrs{}, newStatusError(resp)
	}
	size, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	if err != nil || size < 0 {
		return blob.Attrs{}, fmt.Errorf("http target: %s: no Content-Length", key)
	}
	mod, _ := http.ParseTime(resp.Header.Get("Last-Modified")) // zero when absent
	return blob.Attrs{Key: key, Size: size, ModTime: mod}, nil
}

// List pages through the receiver's list.
func (d *httpDriver) List(ctx context.Context, prefix string) iter.Seq2[blob.Attrs, error] {
	return func(yield func(blob.Attrs, error) bool) {
		cursor := ""
		for {
			q := url.Values{"prefix": {prefix}, "limit": {strconv.Itoa(listPageMax)}}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			page, err := d.listPage(ctx, d.base+"/objects?"+q.Encode())
			if err != nil {
				yield(blob.Attrs{}, err)
				return
			}
			for _, it := range page.Items {
				if !yield(blob.Attrs{Key: it.Key, Size: it.Size, ModTime: it.ModTime}, nil) {
					return
				}
			}
			if page.NextCursor == "" {
				return
			}
			cursor = page.NextCursor
		}
	}
}

func (d *httpDriver) listPage(ctx context.Context, u string) (*api.Page[ObjectInfo], error) {
	resp, err := d.do(ctx, http.MethodGet, u, nil, nil)
	if err != nil {
		return nil, err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return nil, newStatusError(resp)
	}
	var p api.Page[ObjectInfo]
	if err := json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(&p); err != nil {
		return nil, fmt.Errorf("http target: list: %w", errInvalidAnswer)
	}
	return &p, nil
}

// errInvalidAnswer: a 200 answer that is not what a receive endpoint sends.
var errInvalidAnswer = errors.New("http target: invalid answer")

// errNoDelete: a receiver never deletes; retention at the target is its own.
var errNoDelete = errors.New("http target: objects cannot be deleted through a receive endpoint")

// Delete is not offered by a receiver.
func (d *httpDriver) Delete(context.Context, string) error { return errNoDelete }

// Close does nothing: the client is shared.
func (d *httpDriver) Close() error { return nil }
