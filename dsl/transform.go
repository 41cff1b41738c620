package dsl

// Transform is a pipeline's compiled filter and field mapping: the value
// the runtime calls for every record, without knowing about HCL.
type Transform struct{}

// KeyFunc computes a child resource's parent ids from a parent record.
type KeyFunc struct{}
