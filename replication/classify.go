package replication

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"

	"github.com/minio/minio-go/v7"

	"github.com/graphvault/graphvault/store/blob"
)

// Network error classes of a [TargetError].
const (
	NetTimeout = "timeout"
	NetRefused = "refused"
	NetDNS     = "dns"
	NetTLS     = "tls"
	NetReset   = "reset"
	NetOther   = "network"
)

// TargetError is an error from a target in classified form: the operation, the
// HTTP status of the answer, a short S3 error code when the answer parsed as a
// known one, a network error class, or the class of a local file system error.
// It never holds text the target sent: whatever a remote service answers, the
// error, the target's last_error, the events, the log and every HTTP answer say
// only this much. Unwrap gives the sentinel the class stands for (blob.ErrNotFound,
// blob.ErrExists, ErrUnauthorized, context.DeadlineExceeded, an fs error, ...), so
// errors.Is keeps working.
type TargetError struct {
	Op     string // "open", "put", "get", "stat", "list", "delete"
	Status int    // HTTP status of the answer, 0 if none
	Code   string // S3 error code, when the answer parsed as a known one
	Net    string // NetTimeout, NetRefused, NetDNS, NetTLS, NetReset or NetOther
	Local  string // a local file system error class, such as "permission denied"
	Reason string // another class: "redirect refused", "invalid answer", "failed"
	err    error
}

func (e *TargetError) Error() string {
	var b strings.Builder
	b.WriteString("target " + e.Op + ":")
	if e.Status != 0 {
		fmt.Fprintf(&b, " status %d", e.Status)
		if t := http.StatusText(e.Status); t != "" {
			b.WriteString(" " + t)
		}
	}
	if e.Code != "" {
		b.WriteString(" (" + e.Code + ")")
	}
	if e.Net != "" {
		b.WriteString(" network error: " + e.Net)
	}
	if e.Local != "" {
		b.WriteString(" " + e.Local)
	}
	if e.Reason != "" {
		b.WriteString(" " + e.Reason)
	}
	if e.Status == 0 && e.Code == "" && e.Net == "" && e.Local == "" && e.Reason == "" && e.err != nil {
		b.WriteString(" " + e.err.Error()) // a sentinel of this module: fixed text
	}
	return b.String()
}

// Unwrap returns the sentinel of the class, never the target's own error.
func (e *TargetError) Unwrap() error { return e.err }

// s3Codes are the S3 error codes kept in a TargetError; any other code a server
// sends is dropped, so that no text of its choosing is repeated.
var s3Codes = []string{
	"AccessDenied", "AccountProblem", "AllAccessDisabled", "AuthorizationHeaderMalformed",
	"BadDigest", "BucketAlreadyExists", "BucketAlreadyOwnedByYou", "BucketNotEmpty",
	"EntityTooLarge", "EntityTooSmall", "ExpiredToken", "IncompleteBody", "InternalError",
	"InvalidAccessKeyId", "InvalidArgument", "InvalidBucketName", "InvalidDigest",
	"InvalidObjectState", "InvalidRange", "InvalidRegion", "InvalidRequest",
	"InvalidSecurity", "InvalidToken", "KeyTooLongError", "MalformedXML",
	"MethodNotAllowed", "MissingContentLength", "NoSuchBucket", "NoSuchKey",
	"NoSuchUpload", "NotImplemented", "OperationAborted", "PermanentRedirect",
	"PreconditionFailed", "QuotaExceeded", "RequestTimeTooSkewed", "RequestTimeout",
	"ServiceUnavailable", "SignatureDoesNotMatch", "SlowDown", "TemporaryRedirect",
	"TokenRefreshRequired", "XMinioStorageFull", "XMinioServerNotInitialized",
	"XAmzContentSHA256Mismatch",
}

// classify turns an error from a target's driver into a *TargetError. Errors
// that are already classified, and this package's own, pass unchanged.
func classify(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var te *TargetError
	if errors.As(err, &te) {
		return err
	}
	if errors.Is(err, ErrNotAllowed) {
		return err
	}
	e := &TargetError{Op: op}
	e.err = sentinelOf(err)
	var resp minio.ErrorResponse
	var se *statusError
	switch {
	case errors.As(err, &se):
		e.Status, e.err = se.status, statusSentinel(se.status, e.err)
	case errors.As(err, &resp):
		e.Status = resp.StatusCode
		if slices.Contains(s3Codes, resp.Code) {
			e.Code = resp.Code
		}
		e.err = statusSentinel(resp.StatusCode, e.err)
	}
	if e.Status != 0 {
		return e
	}
	if cerr := ctx.Err(); cerr != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if cerr == nil {
			cerr = context.DeadlineExceeded
			if errors.Is(err, context.Canceled) {
				cerr = context.Canceled
			}
		}
		e.err, e.Net = cerr, NetTimeout
		if errors.Is(cerr, context.Canceled) {
			e.Net, e.Reason = "", "canceled"
		}
		return e
	}
	if e.err != nil {
		return e // a blob sentinel says it all
	}
	switch {
	case errors.Is(err, errNoDelete):
		e.Reason = "delete not offered by a receive endpoint"
		return e
	case errors.Is(err, errInvalidAnswer):
		e.Reason = "invalid answer"
		return e
	}
	if e.Net = netClass(err); e.Net != "" {
		e.err = ErrUnreachable
		return e
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		e.Local, e.err = errno.Error(), errno
		return e
	}
	var perr *fs.PathError
	if errors.As(err, &perr) {
		e.Local = "file system error"
		return e
	}
	e.Reason = "failed"
	return e
}

// sentinelOf is the blob sentinel err wraps, or nil.
func sentinelOf(err error) error {
	for _, s := range []error{blob.ErrNotFound, blob.ErrExists, blob.ErrInvalidKey, blob.ErrClosed, ErrUnauthorized, ErrInvalid, ErrCorrupt} {
		if errors.Is(err, s) {
			return s
		}
	}
	return nil
}

// statusSentinel is the sentinel of an HTTP status; def when it has none.
func statusSentinel(status int, def error) error {
	switch status {
	case http.StatusNotFound:
		return blob.ErrNotFound
	case http.StatusConflict, http.StatusPreconditionFailed:
		return blob.ErrExists
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrUnauthorized
	case http.StatusBadRequest:
		if def == nil {
			return ErrInvalid
		}
	case http.StatusUnprocessableEntity:
		return ErrCorrupt
	}
	return def
}

// netClass names the class of a network error, or "".
func netClass(err error) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var alert tls.AlertError
	var recErr tls.RecordHeaderError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var nerr net.Error
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr):
		return NetDNS
	case errors.As(err, &certErr), errors.As(err, &alert), errors.As(err, &recErr),
		errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &invalid):
		return NetTLS
	case errors.Is(err, syscall.ECONNREFUSED):
		return NetRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return NetReset
	case errors.As(err, &nerr) && nerr.Timeout():
		return NetTimeout
	case errors.As(err, &opErr), errors.As(err, &nerr):
		return NetOther
	}
	return ""
}

// classified wraps a target's driver so that every error it returns is a
// *TargetError: nothing a target answers reaches a caller as text.
type classified struct {
	d blob.Driver
}

var _ blob.Driver = classified{}

func (c classified) Put(ctx context.Context, key string, data []byte) error {
	return classify(ctx, "put", c.d.Put(ctx, key, data))
}

func (c classified) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	return classify(ctx, "put", c.d.PutIfAbsent(ctx, key, data))
}

func (c classified) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := c.d.Get(ctx, key)
	return b, classify(ctx, "get", err)
}

func (c classified) Stat(ctx context.Context, key string) (blob.Attrs, error) {
	a, err := c.d.Stat(ctx, key)
	return a, classify(ctx, "stat", err)
}

func (c classified) List(ctx context.Context, prefix string) iter.Seq2[blob.Attrs, error] {
	return func(yield func(blob.Attrs, error) bool) {
		for a, err := range c.d.List(ctx, prefix) {
			if !yield(a, classify(ctx, "list", err)) {
				return
			}
		}
	}
}

func (c classified) Delete(ctx context.Context, key string) error {
	return classify(ctx, "delete", c.d.Delete(ctx, key))
}

func (c classified) Close() error { return classify(context.Background(), "close", c.d.Close()) }
