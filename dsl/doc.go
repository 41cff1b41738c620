// Package dsl is the Siphon language: it loads a directory of HCL files,
// decodes each block kind, resolves references, reports problems as HCL
// diagnostics with source ranges, and compiles the result into a Plan of
// plain Go values the runtime runs. It also decodes the mapping tests of
// *.test.hcl files against a Plan and runs them through the pipelines'
// compiled Transforms (LoadTests, MappingTest.Run).
package dsl
