//go:build !linux

package main

import "io"

// isTerminal reports false: the terminal check is written for Linux, and
// elsewhere the progress display is simply not drawn.
func isTerminal(io.Writer) bool { return false }
