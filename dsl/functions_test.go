package dsl

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// testEnv is the environment the function tests see.
func testEnv(name string) (string, bool) {
	v, ok := map[string]string{"DSN": "postgres://u:p@db/x", "EMPTY": ""}[name]
	return v, ok
}

// testFiles is the file system file() reads in the tests, by full path.
func testFiles(path string) ([]byte, error) {
	switch path {
	case "/conf/certs/ca.pem":
		return []byte("PEM"), nil
	case "/abs/note.txt":
		return []byte("note"), nil
	case "/conf/bin.dat":
		return []byte{0xff, 0xfe}, nil
	}
	return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
}

// evalTest evaluates one expression with the function table.
func evalTest(t *testing.T, funcs map[string]function.Function, src string) (cty.Value, hcl.Diagnostics) {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %s", src, diags)
	}
	return expr.Value(&hcl.EvalContext{Functions: funcs})
}

func TestFunctions(t *testing.T) {
	funcs := functionTable(testEnv, testFiles, "/conf", ModeRun)
	cases := []struct{ expr, want string }{
		{`lower("AbC")`, `"abc"`},
		{`upper("abc")`, `"ABC"`},
		{`title("ada lovelace")`, `"Ada Lovelace"`},
		{`trimspace("  a  ")`, `"a"`},
		{`trim("xxaxx", "x")`, `"a"`},
		{`trimprefix("+1555", "+")`, `"1555"`},
		{`trimsuffix("a.json", ".json")`, `"a"`},
		{`chomp("a\n")`, `"a"`},
		{`replace("a-b-c", "-", "_")`, `"a_b_c"`},
		{`replace("+1 (555) 010", "/[^0-9]/", "")`, `"1555010"`},
		{`format("%s-%03d", "a", 7)`, `"a-007"`},
		{`split(",", "a,b")`, `["a","b"]`},
		{`join("-", ["a", "b"])`, `"a-b"`},
		{`substr("hello", 1, 3)`, `"ell"`},
		{`regex("[0-9]+", "ab123")`, `"123"`},
		{`regexall("[0-9]", "a1b2")`, `["1","2"]`},
		{`startswith("https://x", "https://")`, `true`},
		{`endswith("a.csv", ".json")`, `false`},
		{`sha256("abc")`, `"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"`},
		{`length("héllo")`, `5`},
		{`length(["a", "b"])`, `2`},
		{`length({a = 1})`, `1`},
		{`contains(["a", "b"], "b")`, `true`},
		{`concat(["a"], ["b"])`, `["a","b"]`},
		{`merge({a = 1}, {b = 2})`, `{"a":1,"b":2}`},
		{`keys({b = 1, a = 2})`, `["a","b"]`},
		{`values({a = "x"})`, `["x"]`},
		{`lookup({a = "x"}, "b", "d")`, `"d"`},
		{`element(["a", "b"], 3)`, `"b"`},
		{`slice(["a", "b", "c"], 1, 3)`, `["b","c"]`},
		{`distinct(["a", "a", "b"])`, `["a","b"]`},
		{`flatten([["a"], ["b", ["c"]]])`, `["a","b","c"]`},
		{`coalesce(null, "x")`, `"x"`},
		{`abs(-2)`, `2`},
		{`min(3, 1, 2)`, `1`},
		{`max(3, 1, 2)`, `3`},
		{`floor(1.7)`, `1`},
		{`ceil(1.2)`, `2`},
		{`parseint("ff", 16)`, `255`},
		{`tostring(12)`, `"12"`},
		{`tonumber("1.5")`, `1.5`},
		{`tobool("true")`, `true`},
		{`tolist(["a", "b"])`, `["a","b"]`},
		{`tomap({a = "x"})`, `{"a":"x"}`},
		{`jsonencode({a = [1, true]})`, `"{\"a\":[1,true]}"`},
		{`jsondecode("{\"a\":1}").a`, `1`},
		{`formatdate("YYYY-MM-DD", "2026-03-04T15:22:10Z")`, `"2026-03-04"`},
		{`timeadd("2026-03-04T15:22:10Z", "1h")`, `"2026-03-04T16:22:10Z"`},
		{`try(jsondecode("{"), "fallback")`, `"fallback"`},
		{`can(jsondecode("{"))`, `false`},
		{`file("certs/ca.pem")`, `"PEM"`},
		{`file("/abs/note.txt")`, `"note"`},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			v, diags := evalTest(t, funcs, tc.expr)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			got, err := fromCty(v)
			if err != nil {
				t.Fatal(err)
			}
			if s := jsonText(t, got); s != tc.want {
				t.Fatalf("= %s, want %s", s, tc.want)
			}
		})
	}
}

func TestFunctionErrors(t *testing.T) {
	funcs := functionTable(testEnv, testFiles, "/conf", ModeRun)
	cases := []struct{ expr, want string }{
		{`env("UNSET")`, `environment variable UNSET is not set; set it, or give a default: env("UNSET", "…")`},
		{`env("")`, "the variable name is empty"},
		{`env("A", "b", "c")`, "at most one default"},
		{`file("missing.txt")`, "reading /conf/missing.txt"},
		{`file("bin.dat")`, "is not UTF-8 text"},
		{`file("")`, "the path is empty"},
		{`length(null)`, "argument must not be null"},
		{`length(1)`, "length needs a string"},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			_, diags := evalTest(t, funcs, tc.expr)
			if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
				t.Fatalf("diagnostics %v, want %q", diags, tc.want)
			}
		})
	}
}

func TestEnvValues(t *testing.T) {
	plan := functionTable(testEnv, testFiles, "/conf", ModePlan)
	cases := []struct {
		expr string
		want Value
		text string
	}{
		{`env("DSN")`, Value{Text: "postgres://u:p@db/x", Known: true, Sensitive: true, FromEnv: "DSN"}, "(sensitive)"},
		{`env("EMPTY")`, Value{Known: true, Sensitive: true, FromEnv: "EMPTY"}, "(sensitive)"},
		{`env("UNSET", "fallback")`, Value{Text: "fallback", Known: true, Sensitive: true, FromEnv: "UNSET"}, "(sensitive)"},
		{`env("UNSET")`, Value{Sensitive: true, FromEnv: "UNSET"}, "(from env UNSET)"},
		{`"redis://${env("UNSET")}/0"`, Value{Sensitive: true, FromEnv: "UNSET"}, "(from env UNSET)"},
		{`lower(env("DSN"))`, Value{Text: "postgres://u:p@db/x", Known: true, Sensitive: true, FromEnv: "DSN"}, "(sensitive)"},
		{`"plain"`, Value{Text: "plain", Known: true}, "plain"},
		{`42`, Value{Text: "42", Known: true}, "42"},
		{`["a"]`, Value{Text: `["a"]`, Known: true}, `["a"]`},
		{`null`, Value{Known: true}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			v, diags := evalTest(t, plan, tc.expr)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			got := toValue(v)
			if got != tc.want {
				t.Fatalf("toValue = %+v, want %+v", got, tc.want)
			}
			if got.String() != tc.text {
				t.Fatalf("String() = %q, want %q", got.String(), tc.text)
			}
			if isSensitive(v) != tc.want.Sensitive {
				t.Fatalf("isSensitive = %v", isSensitive(v))
			}
		})
	}
}

func TestFunctionDefaults(t *testing.T) {
	t.Setenv("SIPHON_FUNCTIONS_TEST", "yes")
	funcs := functionTable(nil, nil, t.TempDir(), ModeRun)
	v, diags := evalTest(t, funcs, `env("SIPHON_FUNCTIONS_TEST")`)
	if diags.HasErrors() || toValue(v).Text != "yes" {
		t.Fatalf("env with the process environment: %v %v", v, diags)
	}
	_, diags = evalTest(t, funcs, `file("none.txt")`)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "no such file") {
		t.Fatalf("file with the real file system: %v", diags)
	}
}

func TestNonsensitive(t *testing.T) {
	funcs := functionTable(testEnv, testFiles, "/conf", ModePlan)
	v, diags := evalTest(t, funcs, `nonsensitive(upper(env("DSN")))`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if isSensitive(v) || toValue(v).String() != "POSTGRES://U:P@DB/X" {
		t.Fatalf("nonsensitive kept the mark: %+v", toValue(v))
	}
	v, diags = evalTest(t, funcs, `nonsensitive(env("UNSET"))`)
	if diags.HasErrors() || v.IsKnown() || isSensitive(v) {
		t.Fatalf("nonsensitive of an unknown: %#v %s", v, diags)
	}
}

func TestMarkSensitive(t *testing.T) {
	v := cty.ObjectVal(map[string]cty.Value{"a": markSensitive(cty.StringVal("x"))})
	if !isSensitive(v) || toValue(v).String() != "(sensitive)" {
		t.Fatalf("nested secret not found: %+v", toValue(v))
	}
	if envName(markFromEnv(cty.StringVal("x"), "X")) != "X" {
		t.Fatal("envName lost the variable")
	}
}
