package graphml

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test them with errors.Is.
var (
	// ErrSyntax means the input is not well-formed XML, for example a truncated file.
	ErrSyntax = errors.New("graphml: xml syntax error")
	// ErrMalformed means the input is XML but not a graph this package can read or
	// write: undeclared keys, bad values, duplicate nodes, dangling edges and the like.
	ErrMalformed = errors.New("graphml: malformed")
)

// ParseError is the error reading returns for bad input. It wraps ErrSyntax or
// ErrMalformed (Kind) and the detail (Err), which may itself wrap
// graph.ErrInvalidID.
type ParseError struct {
	Line   int   // 1-based line of the input where the problem was found
	Column int   // 1-based column, 0 when unknown
	Kind   error // ErrSyntax or ErrMalformed
	Err    error // what is wrong
}

func (e *ParseError) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("%v at line %d, column %d: %v", e.Kind, e.Line, e.Column, e.Err)
	}
	return fmt.Sprintf("%v at line %d: %v", e.Kind, e.Line, e.Err)
}

// Unwrap returns the kind and the detail, so errors.Is finds either.
func (e *ParseError) Unwrap() []error { return []error{e.Kind, e.Err} }
