// Package dsl is the Siphon language: it loads a directory of HCL files,
// decodes each block kind, resolves references, reports problems as HCL
// diagnostics with source ranges, and compiles the result into a Plan of
// plain Go values the runtime runs.
package dsl
