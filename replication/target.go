package replication

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/fileblob"
	"github.com/graphvault/graphvault/store/blob/s3blob"
	"github.com/graphvault/graphvault/store/meta"
)

// Target kinds, as in the meta.
const (
	KindFile = meta.TargetFile
	KindS3   = meta.TargetS3
	KindHTTP = meta.TargetHTTP
)

// Health values of a target.
const (
	HealthUnknown     = ""
	HealthHealthy     = "healthy"
	HealthDegraded    = "degraded"
	HealthUnreachable = "unreachable"
)

// Config keys of each kind. The secret (the S3 secret key, the http token) is never
// a config key: it goes in TargetSpec.Secret.
var configKeys = map[string][]string{
	KindFile: {"path"},
	KindS3:   {"endpoint", "bucket", "prefix", "access_key", "region", "secure"},
	KindHTTP: {"base_url"},
}

// ConfigKeys returns the config keys a kind accepts, or nil for an unknown kind.
//
//	file  path (absolute directory)
//	s3    endpoint, bucket (required), prefix, access_key, region, secure ("true"/"false")
//	http  base_url (the receive endpoint of another server: http or https, no credentials)
func ConfigKeys(kind string) []string { return slices.Clone(configKeys[kind]) }

const maxNameLen = 128

// TargetSpec describes a target to register.
type TargetSpec struct {
	Name     string
	Kind     string            // KindFile, KindS3 or KindHTTP
	Config   map[string]string // see ConfigKeys
	Secret   string            // s3: the secret key; http: the bearer token
	Disabled bool              // registered but not replicated to
	Verify   bool              // open and probe the target before storing it
}

// TargetPatch changes a target. Nil fields are left as they are. Config entries
// replace those of the target; an empty value removes one.
type TargetPatch struct {
	Name    *string
	Enabled *bool
	Config  map[string]string
	Secret  *string
	Verify  bool // probe the changed target before storing it
}

func validName(name string) error {
	if name == "" || len(name) > maxNameLen || !utf8.ValidString(name) || strings.TrimSpace(name) != name {
		return fmt.Errorf("%w: a target name is 1 to %d bytes of UTF-8 without leading or trailing space", ErrInvalid, maxNameLen)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w: a target name must hold printable characters only", ErrInvalid)
		}
	}
	return nil
}

// checkConfig validates a kind's configuration and returns it normalized.
func checkConfig(kind string, cfg map[string]string, secret string) (map[string]string, error) {
	keys, ok := configKeys[kind]
	if !ok {
		return nil, fmt.Errorf("%w: unknown target kind %q (want file, s3 or http)", ErrInvalid, kind)
	}
	out := map[string]string{}
	for k, v := range cfg {
		if !slices.Contains(keys, k) {
			return nil, fmt.Errorf("%w: a %s target has no config key %q (keys: %s)", ErrInvalid, kind, k, strings.Join(keys, ", "))
		}
		if v = strings.TrimSpace(v); v != "" {
			out[k] = v
		}
	}
	switch kind {
	case KindFile:
		p := out["path"]
		if p == "" {
			return nil, fmt.Errorf("%w: a file target needs a path", ErrInvalid)
		}
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("%w: a file target's path must be absolute, not %q", ErrInvalid, p)
		}
		out["path"] = filepath.Clean(p)
		if secret != "" {
			return nil, fmt.Errorf("%w: a file target takes no secret", ErrInvalid)
		}
	case KindS3:
		if out["endpoint"] == "" {
			return nil, fmt.Errorf("%w: an s3 target needs an endpoint", ErrInvalid)
		}
		if out["bucket"] == "" {
			return nil, fmt.Errorf("%w: an s3 target needs a bucket", ErrInvalid)
		}
		if e := out["endpoint"]; strings.Contains(e, "://") {
			u, err := url.Parse(e)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
				(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
				return nil, fmt.Errorf("%w: an s3 endpoint is host[:port] or http(s)://host[:port], without credentials or path", ErrInvalid)
			}
		} else if strings.ContainsAny(e, "/@?# ") {
			return nil, fmt.Errorf("%w: an s3 endpoint is host[:port] or http(s)://host[:port], without credentials or path", ErrInvalid)
		}
		if p := strings.Trim(out["prefix"], "/"); p != "" {
			if err := blob.ValidateKey(p); err != nil {
				return nil, fmt.Errorf("%w: s3 prefix: %v", ErrInvalid, err)
			}
			out["prefix"] = p
		} else {
			delete(out, "prefix")
		}
		if s, ok := out["secure"]; ok {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return nil, fmt.Errorf("%w: s3 secure must be true or false", ErrInvalid)
			}
			out["secure"] = strconv.FormatBool(b)
		}
		if (out["access_key"] == "") != (secret == "") {
			return nil, fmt.Errorf("%w: an s3 target needs both access key and secret key, or neither", ErrInvalid)
		}
	case KindHTTP:
		u, err := url.Parse(out["base_url"])
		if out["base_url"] == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%w: an http target needs a base_url starting with http:// or https://", ErrInvalid)
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("%w: an http target's base_url must hold no credentials, query or fragment; give the token as the secret", ErrInvalid)
		}
		out["base_url"] = strings.TrimSuffix(u.String(), "/")
		if secret == "" {
			return nil, fmt.Errorf("%w: an http target needs a token", ErrInvalid)
		}
	}
	return out, nil
}

// Register checks spec and stores a new target. With Verify, the target is opened
// and probed first. A bad spec, an unreachable target (with Verify) or a name
// already taken (ErrConflict) stores nothing.
func (s *Service) Register(ctx context.Context, spec TargetSpec) (*meta.Target, error) {
	if err := validName(spec.Name); err != nil {
		return nil, err
	}
	cfg, err := checkConfig(spec.Kind, spec.Config, spec.Secret)
	if err != nil {
		return nil, err
	}
	if err := s.checkPlace(spec.Kind, cfg); err != nil {
		return nil, err
	}
	t := &meta.Target{Name: spec.Name, Kind: spec.Kind, Config: cfg, Secret: spec.Secret, Enabled: !spec.Disabled}
	if _, err := s.store.GetTargetByName(ctx, t.Name); err == nil {
		return nil, fmt.Errorf("%w: a target named %q exists", ErrConflict, t.Name)
	} else if !errors.Is(err, meta.ErrNotFound) {
		return nil, err
	}
	if spec.Verify {
		if err := s.probe(ctx, t); err != nil {
			return nil, err
		}
		t.Health, t.LastCheckAt = HealthHealthy, s.cfg.now().UTC()
	}
	if err := s.store.CreateTarget(ctx, t); err != nil {
		return nil, storeErr(err)
	}
	s.log.Info("replication target registered", "target", *t)
	return t, nil
}

// probe opens t without caching and lists one object.
func (s *Service) probe(ctx context.Context, t *meta.Target) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.attempt)
	defer cancel()
	drv, err := s.openDriver(ctx, t)
	if err != nil {
		return err
	}
	b := blob.NewBucket(drv, blob.WithMeterProvider(s.cfg.meter))
	defer b.Close()
	return probeBucket(ctx, b)
}

// probeBucket lists at most one manifest: it needs the target reachable and, for
// http and s3 targets, the credentials accepted.
func probeBucket(ctx context.Context, b *blob.Bucket) error {
	for _, err := range b.List(ctx, "manifests/") {
		if err != nil {
			return fmt.Errorf("%w: %w", ErrUnreachable, err)
		}
		break
	}
	return nil
}

// List returns every target, ordered by name, without secrets in their JSON.
func (s *Service) List(ctx context.Context) ([]meta.Target, error) {
	ts, err := s.store.ListTargets(ctx)
	return ts, storeErr(err)
}

// Get returns the target with the id.
func (s *Service) Get(ctx context.Context, id string) (*meta.Target, error) {
	if !meta.ValidID(id) {
		return nil, fmt.Errorf("%w: target id %q is not a ULID", ErrInvalid, id)
	}
	t, err := s.store.GetTarget(ctx, id)
	return t, storeErr(err)
}

// Update applies p to the target with the id. The resulting configuration is
// checked as at registration; nothing is stored if it fails.
func (s *Service) Update(ctx context.Context, id string, p TargetPatch) (*meta.Target, error) {
	t, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.Name != nil && *p.Name != t.Name {
		if err := validName(*p.Name); err != nil {
			return nil, err
		}
		if _, err := s.store.GetTargetByName(ctx, *p.Name); err == nil {
			return nil, fmt.Errorf("%w: a target named %q exists", ErrConflict, *p.Name)
		} else if !errors.Is(err, meta.ErrNotFound) {
			return nil, err
		}
		t.Name = *p.Name
	}
	if p.Enabled != nil {
		t.Enabled = *p.Enabled
	}
	cfg := maps.Clone(t.Config)
	if cfg == nil {
		cfg = map[string]string{}
	}
	changed := p.Secret != nil
	for k, v := range p.Config {
		changed = true
		if v == "" {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	if p.Secret != nil {
		t.Secret = *p.Secret
	}
	if t.Config, err = checkConfig(t.Kind, cfg, t.Secret); err != nil {
		return nil, err
	}
	if err := s.checkPlace(t.Kind, t.Config); err != nil {
		return nil, err
	}
	if changed {
		t.Health, t.LastError = HealthUnknown, ""
	}
	if p.Verify {
		if err := s.probe(ctx, t); err != nil {
			return nil, err
		}
		t.Health, t.LastCheckAt = HealthHealthy, s.cfg.now().UTC()
	}
	if err := s.store.UpdateTarget(ctx, t); err != nil {
		return nil, storeErr(err)
	}
	s.forget(t.ID)
	return t, nil
}

// Enable makes the target receive replication.
func (s *Service) Enable(ctx context.Context, id string) (*meta.Target, error) {
	on := true
	return s.Update(ctx, id, TargetPatch{Enabled: &on})
}

// Disable stops replication to the target; it stays registered.
func (s *Service) Disable(ctx context.Context, id string) (*meta.Target, error) {
	off := false
	return s.Update(ctx, id, TargetPatch{Enabled: &off})
}

// Remove deletes the target. Its events stay; the data at the target is left alone.
func (s *Service) Remove(ctx context.Context, id string) error {
	if !meta.ValidID(id) {
		return fmt.Errorf("%w: target id %q is not a ULID", ErrInvalid, id)
	}
	if err := s.store.DeleteTarget(ctx, id); err != nil {
		return storeErr(err)
	}
	s.forget(id)
	return nil
}

// openDriver opens the driver of a target. The place is checked again (a link
// may have appeared, the allowed roots or hosts may have changed), and the driver
// is wrapped so that every error it returns is a classified *TargetError.
func (s *Service) openDriver(ctx context.Context, t *meta.Target) (blob.Driver, error) {
	if err := s.checkPlace(t.Kind, t.Config); err != nil {
		return nil, err
	}
	var d blob.Driver
	var err error
	if s.cfg.opener != nil {
		d, err = s.cfg.opener(ctx, t)
	} else {
		d, err = s.builtinDriver(ctx, t)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, t.Name, classify(ctx, "open", err))
	}
	return classified{d: d}, nil
}

// builtinDriver opens a target with the drivers this module has.
func (s *Service) builtinDriver(ctx context.Context, t *meta.Target) (blob.Driver, error) {
	switch t.Kind {
	case KindFile:
		return fileblob.Open(t.Config["path"])
	case KindS3:
		secure, _ := strconv.ParseBool(t.Config["secure"])
		return s3blob.Open(ctx, s3blob.Config{
			Endpoint: t.Config["endpoint"], Bucket: t.Config["bucket"], Prefix: t.Config["prefix"],
			AccessKey: t.Config["access_key"], SecretKey: t.Secret, Region: t.Config["region"], Secure: secure,
		})
	case KindHTTP:
		return newHTTPDriver(t.Config["base_url"], t.Secret, s.cfg.client), nil
	}
	return nil, fmt.Errorf("%w: unknown target kind %q", ErrInvalid, t.Kind)
}

// scrub replaces any occurrence of secret in err's text, for errors from code that
// might echo credentials.
func scrub(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &scrubbed{msg: strings.ReplaceAll(err.Error(), secret, "[REDACTED]"), err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }

// Is keeps sentinels reachable without exposing the wrapped text.
func (e *scrubbed) Is(target error) bool { return errors.Is(e.err, target) }
