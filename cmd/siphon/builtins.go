package main

// The built-in destinations register themselves with plugins/destinations
// when imported; `siphon plugin serve NAME` finds them there.
import (
	_ "github.com/siphonhq/siphon/plugins/destinations/jsonl"
	_ "github.com/siphonhq/siphon/plugins/destinations/postgres"
	_ "github.com/siphonhq/siphon/plugins/destinations/sqlite"
)
