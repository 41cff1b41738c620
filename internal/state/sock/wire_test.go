package sock

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/siphonhq/siphon/internal/state"
)

// TestEverySentinelCrosses: each error the state package declares is in
// the table, so a new one cannot silently lose its identity on the socket.
func TestEverySentinelCrosses(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "../errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	declared := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				declared++
				// Each is errors.New("text"); the text identifies it.
				call, ok := vs.Values[i].(*ast.CallExpr)
				if !ok || len(call.Args) != 1 {
					t.Fatalf("state.%s is not errors.New(text)", name.Name)
				}
				text, err := strconv.Unquote(call.Args[0].(*ast.BasicLit).Value)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.ContainsFunc(sentinels, func(s sentinel) bool { return s.err.Error() == text }) {
					t.Errorf("state.%s is not in sock's sentinels", name.Name)
				}
			}
		}
	}
	if declared == 0 {
		t.Fatal("no errors found in errors.go")
	}
}

// TestWireErrorKeepsTextAndSentinels: a wrapped sentinel (or two) survives
// the trip, with its message.
func TestWireErrorKeepsTextAndSentinels(t *testing.T) {
	for _, s := range sentinels {
		orig := fmt.Errorf("work acme/users: %w", s.err)
		got := toWire(orig).err()
		if !errors.Is(got, s.err) || got.Error() != orig.Error() {
			t.Errorf("%s: %v", s.name, got)
		}
	}
	two := toWire(fmt.Errorf("%w: %w", sentinels[0].err, context.Canceled)).err()
	if !errors.Is(two, sentinels[0].err) || !errors.Is(two, context.Canceled) || errors.Is(two, sentinels[1].err) {
		t.Fatalf("two sentinels: %v", two)
	}
	if plain := toWire(errors.New("disk full")).err(); plain.Error() != "disk full" || errors.Unwrap(plain) != nil {
		t.Fatalf("plain error: %v", plain)
	}
}

type infoStore struct{ state.Store }

func (infoStore) Info(context.Context) (state.Info, error) { return state.Info{Backend: "test"}, nil }

// TestUnknownMethodSaysWhy: a call the serving process has no route for
// (an older siphon serving) says so instead of failing to decode.
func TestUnknownMethodSaysWhy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	srv, err := Serve(path, infoStore{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := Dial(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = do(context.Background(), c, "NoSuchMethod", none{})
	if err == nil || !strings.Contains(err.Error(), "does not know NoSuchMethod") {
		t.Fatalf("unknown method: %v", err)
	}
}
