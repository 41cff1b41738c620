package dsl

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Mode says what the configuration is loaded for. It decides how values
// that cannot be known yet are treated: `plan` may show them as unknown,
// `run` must have them.
type Mode int

const (
	// ModePlan loads for `siphon plan`: env() of an unset variable with no
	// default is unknown, reported as a warning.
	ModePlan Mode = iota
	// ModeRun loads for `siphon run`: every value must be known.
	ModeRun
)

// Options are the inputs to Load beyond the files themselves.
type Options struct {
	// Vars are -var name=value flags, raw text: a string variable takes the
	// text literally, other types parse it as an HCL expression.
	Vars map[string]string
	// VarFiles are -var-file paths, applied in order after *.auto.vars.hcl.
	VarFiles []string
	// Now fixes the clock (plan --now); zero means time.Now().
	Now time.Time
	// Mode decides how unknown values are reported.
	Mode Mode
	// LookupEnv reads the environment for env(); nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// ReadFile reads files for file() and -var-file; nil means os.ReadFile.
	ReadFile func(string) ([]byte, error)
}

// Result is what Load returns: the plan when the configuration is valid,
// every diagnostic, and the parsed files so a caller can render snippets.
type Result struct {
	// Plan is nil when Diagnostics has errors.
	Plan        *Plan
	Diagnostics hcl.Diagnostics
	Files       map[string]*hcl.File
}
