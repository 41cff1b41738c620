// Package planview shows the result of loading a configuration: what
// `siphon plan` prints for people (Human) and for programs (JSON). It only
// renders; loading, validating and compiling are package dsl's, so the CLI
// stays a thin layer that hands a *dsl.Result to one of the two views.
//
// Both views are built from sections in a fixed order (the plan, then the
// diagnostics, then the summary) so that the diff against the store's last
// configuration that `plan --store` will show slots in as one more section,
// and one more member of the JSON document, without changing the others.
package planview
