//go:build !race

package graphml

const raceEnabled = false
