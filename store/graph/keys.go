package graph

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxIDLen is the longest node ID, edge type or graph ID accepted, in bytes.
const MaxIDLen = 4096

// Record key prefixes. A node's key is "n:" + ID; an edge's key is "e:" + Source +
// NUL + Target + NUL + Type. IDs never hold NUL, so keys are unambiguous, and all
// node keys sort before all edge keys.
const (
	NodePrefix = "n:"
	EdgePrefix = "e:"
	keySep     = "\x00"
)

// ValidateID reports whether s may be a node ID: non-empty, valid UTF-8, no NUL
// byte, at most MaxIDLen bytes.
func ValidateID(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty", ErrInvalidID)
	case len(s) > MaxIDLen:
		return fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidID, len(s), MaxIDLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidID)
	case strings.Contains(s, keySep):
		return fmt.Errorf("%w: holds a NUL byte", ErrInvalidID)
	}
	return nil
}

// validateType is ValidateID for edge types, which may be empty.
func validateType(s string) error {
	if s == "" {
		return nil
	}
	return ValidateID(s)
}

// NodeKey is the record key of the node with the given ID.
func NodeKey(id string) string { return NodePrefix + id }

// Key is the node's record key.
func (n Node) Key() string { return NodeKey(n.ID) }

// EdgeKey is the record key of an edge. In an undirected graph the two ends are put
// in order first, so (a, b, t) and (b, a, t) have one key.
func EdgeKey(source, target, typ string, directed bool) string {
	if !directed && target < source {
		source, target = target, source
	}
	return EdgePrefix + source + keySep + target + keySep + typ
}

// AppendNodeKey appends NodeKey(id) to dst, for callers that reuse a buffer.
func AppendNodeKey(dst []byte, id string) []byte { return append(append(dst, NodePrefix...), id...) }

// AppendEdgeKey appends EdgeKey(source, target, typ, directed) to dst, for callers
// that reuse a buffer.
func AppendEdgeKey(dst []byte, source, target, typ string, directed bool) []byte {
	if !directed && target < source {
		source, target = target, source
	}
	dst = append(append(dst, EdgePrefix...), source...)
	dst = append(append(dst, keySep...), target...)
	return append(append(dst, keySep...), typ...)
}

// Key is the edge's record key in a graph that is directed or not.
func (e Edge) Key(directed bool) string { return EdgeKey(e.Source, e.Target, e.Type, directed) }

// ParseKey splits a record key. For a node key it returns kind 'n' and the ID in
// parts[0]; for an edge key kind 'e' and source, target, type.
func ParseKey(key string) (kind byte, parts [3]string, err error) {
	switch {
	case strings.HasPrefix(key, NodePrefix):
		id := key[len(NodePrefix):]
		if err := ValidateID(id); err != nil {
			return 0, parts, fmt.Errorf("key %q: %w", key, err)
		}
		parts[0] = id
		return 'n', parts, nil
	case strings.HasPrefix(key, EdgePrefix):
		var f [3]string
		var rest string
		var ok1, ok2 bool
		f[0], rest, ok1 = strings.Cut(key[len(EdgePrefix):], keySep)
		f[1], f[2], ok2 = strings.Cut(rest, keySep)
		if !ok1 || !ok2 || strings.Contains(f[2], keySep) {
			return 0, parts, fmt.Errorf("%w: edge key %q does not have three fields", ErrInvalidID, key)
		}
		if err := ValidateID(f[0]); err != nil {
			return 0, parts, fmt.Errorf("edge key source: %w", err)
		}
		if err := ValidateID(f[1]); err != nil {
			return 0, parts, fmt.Errorf("edge key target: %w", err)
		}
		if err := validateType(f[2]); err != nil {
			return 0, parts, fmt.Errorf("edge key type: %w", err)
		}
		return 'e', f, nil
	}
	return 0, parts, fmt.Errorf("%w: key %q has no n: or e: prefix", ErrInvalidID, key)
}

// Validate checks the node's ID, labels and property values.
func (n Node) Validate() error {
	if err := ValidateID(n.ID); err != nil {
		return err
	}
	for _, l := range n.Labels {
		if err := ValidateID(l); err != nil {
			return fmt.Errorf("node %q label: %w", n.ID, err)
		}
	}
	if err := validateProps(n.Props); err != nil {
		return fmt.Errorf("node %q: %w", n.ID, err)
	}
	return nil
}

// Validate checks the edge's ends, type and property values.
func (e Edge) Validate() error {
	if err := ValidateID(e.Source); err != nil {
		return fmt.Errorf("edge source: %w", err)
	}
	if err := ValidateID(e.Target); err != nil {
		return fmt.Errorf("edge target: %w", err)
	}
	if err := validateType(e.Type); err != nil {
		return fmt.Errorf("edge type: %w", err)
	}
	if err := validateProps(e.Props); err != nil {
		return fmt.Errorf("edge %q-%q: %w", e.Source, e.Target, err)
	}
	return nil
}

func validateProps(props map[string]any) error {
	for k, v := range props {
		if !utf8.ValidString(k) {
			return fmt.Errorf("%w: property name is not valid UTF-8", ErrInvalidValue)
		}
		if _, err := NormalizeValue(v); err != nil {
			return fmt.Errorf("property %q: %w", k, err)
		}
	}
	return nil
}

// NormalizeValue returns v in the canonical form of a property value: nil, bool,
// int64, float64 (finite), string, []any or map[string]any, recursively. Other Go
// integer and float types are converted; anything else is ErrInvalidValue.
func NormalizeValue(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, int64:
		return x, nil
	case string:
		if !utf8.ValidString(x) {
			return nil, fmt.Errorf("%w: string is not valid UTF-8", ErrInvalidValue)
		}
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%w: %v is not a finite number", ErrInvalidValue, x)
		}
		return x, nil
	case float32:
		return NormalizeValue(float64(x))
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return nil, fmt.Errorf("%w: %d overflows int64", ErrInvalidValue, x)
		}
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return nil, fmt.Errorf("%w: %d overflows int64", ErrInvalidValue, x)
		}
		return int64(x), nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := NormalizeValue(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return NormalizeValue(out)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if !utf8.ValidString(k) {
				return nil, fmt.Errorf("%w: map key is not valid UTF-8", ErrInvalidValue)
			}
			n, err := NormalizeValue(e)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: type %T", ErrInvalidValue, v)
}

// NormalizeProps returns a normalized deep copy of props (nil for an empty map).
func NormalizeProps(props map[string]any) (map[string]any, error) {
	if len(props) == 0 {
		return nil, nil
	}
	v, err := NormalizeValue(props)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

// Normalize returns a copy of n with sorted, deduplicated labels and normalized
// properties, after validating it.
func (n Node) Normalize() (Node, error) {
	if err := n.Validate(); err != nil {
		return Node{}, err
	}
	props, _ := NormalizeProps(n.Props)
	var labels []string
	if len(n.Labels) > 0 {
		labels = slices.Compact(slices.Sorted(slices.Values(n.Labels)))
	}
	return Node{ID: n.ID, Labels: labels, Props: props}, nil
}

// Normalize returns a copy of e with normalized properties, after validating it.
func (e Edge) Normalize() (Edge, error) {
	if err := e.Validate(); err != nil {
		return Edge{}, err
	}
	props, _ := NormalizeProps(e.Props)
	return Edge{Source: e.Source, Target: e.Target, Type: e.Type, Props: props}, nil
}

// EqualValues reports whether two normalized property values are equal.
func EqualValues(a, b any) bool {
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		return ok && slices.EqualFunc(x, y, EqualValues)
	case map[string]any:
		y, ok := b.(map[string]any)
		return ok && maps.EqualFunc(x, y, EqualValues)
	}
	return a == b
}

// EqualProps reports whether two normalized property maps are equal; nil and empty
// are equal.
func EqualProps(a, b map[string]any) bool { return maps.EqualFunc(a, b, EqualValues) }

// EqualNodes reports whether two normalized nodes are equal.
func EqualNodes(a, b Node) bool {
	return a.ID == b.ID && slices.Equal(a.Labels, b.Labels) && EqualProps(a.Props, b.Props)
}

// EqualEdges reports whether two normalized edges are equal in a graph that is
// directed or not.
func EqualEdges(a, b Edge, directed bool) bool {
	return a.Key(directed) == b.Key(directed) && EqualProps(a.Props, b.Props)
}

// isNormal reports whether v is already in the form NormalizeValue returns.
func isNormal(v any, depth int) bool {
	if depth > 64 {
		return false
	}
	switch x := v.(type) {
	case nil, bool, int64:
		return true
	case string:
		return utf8.ValidString(x)
	case float64:
		return !math.IsNaN(x) && !math.IsInf(x, 0)
	case []any:
		for _, e := range x {
			if !isNormal(e, depth+1) {
				return false
			}
		}
		return true
	case map[string]any:
		for k, e := range x {
			if !utf8.ValidString(k) || !isNormal(e, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

func sortedUnique(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}

// Adopt validates n and returns it normalized like Normalize, but without copying
// when n is already in normal form: the result then shares its labels and property
// maps with n. Bulk loads use it for values nobody else holds.
func (n Node) Adopt() (Node, error) {
	if err := ValidateID(n.ID); err != nil {
		return Node{}, err
	}
	for _, l := range n.Labels {
		if err := ValidateID(l); err != nil {
			return Node{}, fmt.Errorf("node %q label: %w", n.ID, err)
		}
	}
	if !sortedUnique(n.Labels) || !isNormal(n.Props, 0) {
		return n.Normalize()
	}
	if len(n.Props) == 0 {
		n.Props = nil
	}
	if len(n.Labels) == 0 {
		n.Labels = nil
	}
	return n, nil
}

// Adopt is Node.Adopt for edges.
func (e Edge) Adopt() (Edge, error) {
	if err := ValidateID(e.Source); err != nil {
		return Edge{}, fmt.Errorf("edge source: %w", err)
	}
	if err := ValidateID(e.Target); err != nil {
		return Edge{}, fmt.Errorf("edge target: %w", err)
	}
	if err := validateType(e.Type); err != nil {
		return Edge{}, fmt.Errorf("edge type: %w", err)
	}
	if !isNormal(e.Props, 0) {
		return e.Normalize()
	}
	if len(e.Props) == 0 {
		e.Props = nil
	}
	return e, nil
}
