//go:build !race

// Package race tells the commands' tests whether they run under the race
// detector, where CPU-bound tests run several times slower and use
// smaller inputs.
package race

// Enabled is true in a binary built with -race.
const Enabled = false
