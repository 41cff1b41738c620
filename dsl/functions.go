package dsl

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// functionTable is every function the language offers: the cty standard
// library functions HCL users know from Terraform, plus env() and file(),
// which read the world through the given hooks so that tests and fuzz
// targets can stub them. mode decides what env() does with a variable that
// is not set. The table is built once per load and is safe for concurrent
// use by many evaluations.
func functionTable(env func(string) (string, bool), readFile func(string) ([]byte, error), baseDir string, mode Mode) map[string]function.Function {
	if env == nil {
		env = os.LookupEnv
	}
	if readFile == nil {
		readFile = os.ReadFile
	}
	return map[string]function.Function{
		// strings
		"lower":      stdlib.LowerFunc,
		"upper":      stdlib.UpperFunc,
		"title":      stdlib.TitleFunc,
		"trimspace":  stdlib.TrimSpaceFunc,
		"trim":       stdlib.TrimFunc,
		"trimprefix": stdlib.TrimPrefixFunc,
		"trimsuffix": stdlib.TrimSuffixFunc,
		"chomp":      stdlib.ChompFunc,
		"replace":    replaceFunc,
		"format":     stdlib.FormatFunc,
		"split":      stdlib.SplitFunc,
		"join":       stdlib.JoinFunc,
		"substr":     stdlib.SubstrFunc,
		"regex":      stdlib.RegexFunc,
		"regexall":   stdlib.RegexAllFunc,
		"startswith": startsWithFunc,
		"endswith":   endsWithFunc,
		"sha256":     sha256Func,
		// collections
		"length":   lengthFunc,
		"contains": stdlib.ContainsFunc,
		"concat":   stdlib.ConcatFunc,
		"merge":    stdlib.MergeFunc,
		"keys":     stdlib.KeysFunc,
		"values":   stdlib.ValuesFunc,
		"lookup":   stdlib.LookupFunc,
		"element":  stdlib.ElementFunc,
		"slice":    stdlib.SliceFunc,
		"distinct": stdlib.DistinctFunc,
		"flatten":  stdlib.FlattenFunc,
		"coalesce": stdlib.CoalesceFunc,
		// numbers
		"abs":      stdlib.AbsoluteFunc,
		"min":      stdlib.MinFunc,
		"max":      stdlib.MaxFunc,
		"floor":    stdlib.FloorFunc,
		"ceil":     stdlib.CeilFunc,
		"parseint": stdlib.ParseIntFunc,
		// conversions
		"tostring": stdlib.MakeToFunc(cty.String),
		"tonumber": stdlib.MakeToFunc(cty.Number),
		"tobool":   stdlib.MakeToFunc(cty.Bool),
		"tolist":   stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap":    stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		// encodings and time
		"jsonencode": stdlib.JSONEncodeFunc,
		"jsondecode": stdlib.JSONDecodeFunc,
		"formatdate": stdlib.FormatDateFunc,
		"timeadd":    stdlib.TimeAddFunc,
		// error handling
		"try": tryfunc.TryFunc,
		"can": tryfunc.CanFunc,
		// the outside world
		"env":          makeEnvFunc(env, mode),
		"file":         makeFileFunc(readFile, baseDir),
		"nonsensitive": nonsensitiveFunc,
	}
}

// nonsensitiveFunc is nonsensitive(value): value without its secret marks,
// for the rare mapping that must write a configured secret to the
// destination and says so (plan warns about any other).
var nonsensitiveFunc = function.New(&function.Spec{
	Description: "Returns the value no longer marked as a secret.",
	Params: []function.Parameter{{
		Name: "value", Type: cty.DynamicPseudoType,
		AllowMarked: true, AllowNull: true, AllowUnknown: true, AllowDynamicType: true,
	}},
	Type: func(args []cty.Value) (cty.Type, error) { return args[0].Type(), nil },
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v, _ := args[0].UnmarkDeep()
		return v, nil
	},
})

// makeEnvFunc builds env(name[, default]). Every value it returns is a
// secret marked with the variable's name: configuration read from the
// environment is usually a credential, and plan must be able to say where
// a value it cannot know will come from.
func makeEnvFunc(lookup func(string) (string, bool), mode Mode) function.Function {
	return function.New(&function.Spec{
		Description: "Reads an environment variable, or the default when it is not set.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		VarParam:    &function.Parameter{Name: "default", Type: cty.String},
		Type: func(args []cty.Value) (cty.Type, error) {
			if len(args) > 2 {
				return cty.NilType, function.NewArgErrorf(2, "env takes a name and at most one default, like env(\"X\", \"fallback\")")
			}
			return cty.String, nil
		},
		RefineResult: func(b *cty.RefinementBuilder) *cty.RefinementBuilder { return b.NotNull() },
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			name := args[0].AsString()
			if name == "" {
				return cty.NilVal, function.NewArgErrorf(0, "the variable name is empty; write env(\"NAME\")")
			}
			if v, ok := lookup(name); ok {
				return markFromEnv(cty.StringVal(v), name), nil
			}
			if len(args) == 2 {
				return markFromEnv(args[1], name), nil
			}
			if mode == ModeRun {
				return cty.NilVal, fmt.Errorf("environment variable %s is not set; set it, or give a default: env(%q, \"…\")", name, name)
			}
			return markFromEnv(cty.UnknownVal(cty.String).RefineNotNull(), name), nil
		},
	})
}

// makeFileFunc builds file(path): the file's contents as a string, the path
// relative to the configuration directory so a configuration reads the same
// files wherever it is planned from.
func makeFileFunc(readFile func(string) ([]byte, error), baseDir string) function.Function {
	return function.New(&function.Spec{
		Description: "Reads a UTF-8 text file, its path relative to the configuration directory.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if p == "" {
				return cty.NilVal, function.NewArgErrorf(0, "the path is empty; write a path relative to the configuration directory, like file(\"certs/ca.pem\")")
			}
			if !filepath.IsAbs(p) {
				p = filepath.Join(baseDir, p)
			}
			b, err := readFile(p)
			if err != nil {
				return cty.NilVal, fmt.Errorf("reading %s: %w", p, err)
			}
			if !utf8.Valid(b) {
				return cty.NilVal, fmt.Errorf("%s is not UTF-8 text; file() reads text files only", p)
			}
			return cty.StringVal(string(b)), nil
		},
	})
}

// replaceFunc is replace(str, substr, replacement) as Terraform has it: a
// substring wrapped in slashes ("/[0-9]+/") is a regular expression.
var replaceFunc = function.New(&function.Spec{
	Description: "Replaces each occurrence of substr (a regular expression when wrapped in slashes) with replacement.",
	Params: []function.Parameter{
		{Name: "str", Type: cty.String},
		{Name: "substr", Type: cty.String},
		{Name: "replace", Type: cty.String},
	},
	Type:         function.StaticReturnType(cty.String),
	RefineResult: func(b *cty.RefinementBuilder) *cty.RefinementBuilder { return b.NotNull() },
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		sub := args[1].AsString()
		if len(sub) > 1 && sub[0] == '/' && sub[len(sub)-1] == '/' {
			return stdlib.RegexReplace(args[0], cty.StringVal(sub[1:len(sub)-1]), args[2])
		}
		return stdlib.Replace(args[0], args[1], args[2])
	},
})

// lengthFunc is length() over strings (in characters) as well as lists,
// maps and objects, as Terraform users expect.
var lengthFunc = function.New(&function.Spec{
	Description: "The number of characters of a string, or of elements of a collection.",
	Params: []function.Parameter{{
		Name: "value", Type: cty.DynamicPseudoType, AllowDynamicType: true, AllowUnknown: true,
	}},
	Type: func(args []cty.Value) (cty.Type, error) {
		ty := args[0].Type()
		if ty == cty.String || ty == cty.DynamicPseudoType || ty.IsCollectionType() || ty.IsTupleType() || ty.IsObjectType() {
			return cty.Number, nil
		}
		return cty.NilType, function.NewArgErrorf(0, "length needs a string, list, map or object, not %s", ty.FriendlyName())
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v := args[0]
		switch {
		case !v.IsKnown():
			return cty.UnknownVal(cty.Number), nil
		case v.Type() == cty.String:
			return stdlib.Strlen(v)
		case v.Type().IsObjectType():
			return cty.NumberIntVal(int64(len(v.Type().AttributeTypes()))), nil
		}
		return v.Length(), nil
	},
})

// sha256Func is sha256(str): the hex SHA-256 of the string's UTF-8 bytes,
// for stable pseudonymous ids.
var sha256Func = function.New(&function.Spec{
	Description: "The hexadecimal SHA-256 digest of a string.",
	Params:      []function.Parameter{{Name: "str", Type: cty.String}},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		sum := sha256.Sum256([]byte(args[0].AsString()))
		return cty.StringVal(hex.EncodeToString(sum[:])), nil
	},
})

var startsWithFunc = makeAffixFunc("Whether str starts with prefix.", strings.HasPrefix)

var endsWithFunc = makeAffixFunc("Whether str ends with suffix.", strings.HasSuffix)

func makeAffixFunc(doc string, test func(s, affix string) bool) function.Function {
	return function.New(&function.Spec{
		Description: doc,
		Params: []function.Parameter{
			{Name: "str", Type: cty.String},
			{Name: "affix", Type: cty.String},
		},
		Type: function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(test(args[0].AsString(), args[1].AsString())), nil
		},
	})
}
