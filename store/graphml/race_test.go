//go:build race

package graphml

const raceEnabled = true
