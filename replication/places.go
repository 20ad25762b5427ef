package replication

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// WithTargetRoots allows file targets only under the given folders. A target's
// path and the roots are resolved (symbolic links, "..") before they are compared,
// when the target is registered or changed and again each time it is opened, so a
// link placed later cannot lead a target out. Without this option any absolute
// path is allowed; with it and no root, no file target is.
func WithTargetRoots(roots ...string) Option {
	return func(c *config) {
		c.roots = append([]string(nil), roots...)
		c.rootsSet = true
	}
}

// WithTargetHosts allows http and s3 targets only at the given hosts, each
// "host" (any port) or "host:port" ("[v6]:port" for IPv6). Host names are compared
// without case. Without this option, or with no host, any host is allowed.
func WithTargetHosts(hosts ...string) Option {
	return func(c *config) { c.hostSpecs = append([]string(nil), hosts...) }
}

// WithProtectedPaths names paths no file target may be at, inside or above: the
// folder of the service's own bucket and its metadata database, say. A target
// there is refused even when it lies under an allowed root.
func WithProtectedPaths(paths ...string) Option {
	return func(c *config) { c.protected = append([]string(nil), paths...) }
}

// hostRule is one allowed host; port "" allows every port.
type hostRule struct{ host, port string }

func parseHostRules(specs []string) ([]hostRule, error) {
	var out []hostRule
	for _, s := range specs {
		s = strings.TrimSpace(s)
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			h, p = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), ""
		} else if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%w: allowed host %q: bad port", ErrInvalid, s)
		}
		h = normHost(h)
		if h == "" || strings.ContainsAny(h, "/@?#[] ") {
			return nil, fmt.Errorf("%w: allowed host %q is not host or host:port", ErrInvalid, s)
		}
		out = append(out, hostRule{host: h, port: p})
	}
	return out, nil
}

func normHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

// checkPlace refuses a target outside the allowed roots and hosts. It wraps
// ErrNotAllowed.
func (s *Service) checkPlace(kind string, cfg map[string]string) error {
	switch kind {
	case KindFile:
		return s.checkPath(cfg["path"])
	case KindHTTP:
		u, err := url.Parse(cfg["base_url"])
		if err != nil {
			return fmt.Errorf("%w: base_url", ErrInvalid)
		}
		return s.checkHost(u)
	case KindS3:
		e := cfg["endpoint"]
		if !strings.Contains(e, "://") {
			scheme := "http"
			if b, _ := strconv.ParseBool(cfg["secure"]); b {
				scheme = "https"
			}
			e = scheme + "://" + e
		}
		u, err := url.Parse(e)
		if err != nil {
			return fmt.Errorf("%w: endpoint", ErrInvalid)
		}
		return s.checkHost(u)
	}
	return nil
}

func (s *Service) checkHost(u *url.URL) error {
	if len(s.cfg.hosts) == 0 {
		return nil
	}
	h, p := normHost(u.Hostname()), u.Port()
	if p == "" {
		p = "80"
		if u.Scheme == "https" {
			p = "443"
		}
	}
	for _, r := range s.cfg.hosts {
		if r.host == h && (r.port == "" || r.port == p) {
			return nil
		}
	}
	return fmt.Errorf("%w: host %s is not among the allowed target hosts", ErrNotAllowed, net.JoinHostPort(h, p))
}

// checkPath refuses a file target's path unless, resolved, it lies under an
// allowed root and away from every protected path.
func (s *Service) checkPath(p string) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("%w: a file target's path must be absolute", ErrInvalid)
	}
	real, err := resolvePath(p)
	if err != nil {
		return fmt.Errorf("%w: path %s cannot be resolved", ErrNotAllowed, p)
	}
	for _, pp := range s.cfg.protected {
		rp, err := resolvePath(pp)
		if err != nil {
			rp = filepath.Clean(pp)
		}
		if within(real, rp) || within(rp, real) {
			return fmt.Errorf("%w: path %s is, holds or lies in the service's own data", ErrNotAllowed, p)
		}
	}
	if !s.cfg.rootsSet {
		return nil
	}
	for _, root := range s.cfg.roots {
		rr, err := resolvePath(root)
		if err != nil {
			continue
		}
		if within(real, rr) {
			return nil
		}
	}
	return fmt.Errorf("%w: path %s is not under an allowed target root", ErrNotAllowed, p)
}

// within reports whether p is dir or lies inside it; both are clean and absolute.
func within(p, dir string) bool {
	if p == dir {
		return true
	}
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// resolvePath resolves an absolute path the way the kernel would walk it: each
// component in turn, symbolic links followed, ".." taken from the resolved
// parent. From the first component that does not exist on, the rest is joined
// lexically (nothing there can be a link yet). A dangling link is an error: a
// folder made through it would land wherever it points.
func resolvePath(p string) (string, error) {
	if !filepath.IsAbs(p) {
		return "", errors.New("not absolute")
	}
	parts := strings.Split(filepath.ToSlash(p), "/")
	cur := filepath.VolumeName(p) + string(filepath.Separator)
	for i, part := range parts {
		switch part {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, part)
		fi, err := os.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			return filepath.Join(append([]string{next}, parts[i+1:]...)...), nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if next, err = filepath.EvalSymlinks(next); err != nil {
				return "", err
			}
		}
		cur = next
	}
	return cur, nil
}
