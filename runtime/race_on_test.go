//go:build race

package runtime_test

// raceEnabled: the race detector slows everything several times, so the
// end-to-end tests shrink under it (the full size runs without -race).
const raceEnabled = true
