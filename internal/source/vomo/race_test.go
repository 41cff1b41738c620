//go:build race

package vomo

func init() { raceEnabled = true }
