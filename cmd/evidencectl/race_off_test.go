//go:build !race

package main

// raceDetector is true in a test binary built with -race, where CPU-bound
// tests run several times slower and use smaller inputs.
const raceDetector = false
