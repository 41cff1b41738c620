package dsl

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// blockKinds are the roots that name another block; they are references
// the compiler resolves, never values.
var blockKinds = []string{"source", "resource", "destination", "pipeline", "flag"}

// checkRefs reports every traversal in a plain value expression that is
// not var.x or local.x of a declared name. HCL resolves nothing by itself
// beyond the evaluation context, so checking first gives a diagnostic that
// names what the author may write instead of HCL's generic "unknown
// variable". Mapping expressions are checked where they compile, against
// the record's schema.
func (d *decoder) checkRefs(expr hcl.Expression) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, tr := range expr.Variables() {
		diags = append(diags, d.checkTraversal(tr)...)
	}
	return diags
}

func (d *decoder) checkTraversal(tr hcl.Traversal) hcl.Diagnostics {
	root := tr.RootName()
	rng := tr.SourceRange()
	switch root {
	case "var":
		return checkDeclared(tr, "variable", "var", sortedKeys(d.cfg.variables))
	case "local":
		return checkDeclared(tr, "local value", "local", sortedKeys(d.cfg.locals))
	case "record", "tenant":
		return hcl.Diagnostics{errorAt(rng, "Invalid use of "+root,
			root+" is only available in a pipeline's fields and filter (and tenant in reverse).")}
	case "row":
		return hcl.Diagnostics{errorAt(rng, "Invalid use of row",
			"row (the destination record) is only available in a pipeline's reverse mapping.")}
	}
	for _, k := range blockKinds {
		if root == k {
			return hcl.Diagnostics{errorAt(rng, "Invalid reference here",
				fmt.Sprintf("%s names a %s block; only attributes that take a %s (like resource = resource.users) may refer to one. Here write a value, or use var or local.", traversalText(tr), k, k))}
		}
	}
	return hcl.Diagnostics{errorAt(rng, "Unknown name "+root,
		fmt.Sprintf("There is nothing named %q here; expressions can use var.<name> and local.<name>.%s", root, didYouMean(root, []string{"var", "local"})))}
}

// checkDeclared reports var.x or local.x when x is not declared.
func checkDeclared(tr hcl.Traversal, what, root string, names []string) hcl.Diagnostics {
	if len(tr) < 2 {
		return hcl.Diagnostics{errorAt(tr.SourceRange(), "Invalid reference to "+root,
			fmt.Sprintf("%s needs a name after it, like %s.example.", root, root))}
	}
	step, ok := tr[1].(hcl.TraverseAttr)
	if !ok {
		return hcl.Diagnostics{errorAt(tr.SourceRange(), "Invalid reference to "+root,
			fmt.Sprintf("Write %s.<name>, like %s.example.", root, root))}
	}
	for _, n := range names {
		if n == step.Name {
			return nil
		}
	}
	return hcl.Diagnostics{errorAt(tr.SourceRange(), "Reference to undeclared "+what,
		fmt.Sprintf("No %s named %q is declared.%s", what, step.Name, didYouMean(step.Name, names)))}
}

// traversalText prints a traversal the way it was written, as far as plain
// attribute steps go.
func traversalText(tr hcl.Traversal) string {
	var b strings.Builder
	b.WriteString(tr.RootName())
	for _, step := range tr[1:] {
		if a, ok := step.(hcl.TraverseAttr); ok {
			b.WriteString("." + a.Name)
		}
	}
	return b.String()
}

// localOrder returns the locals in an order where each comes after the
// locals it uses, the names on a reference cycle, and a diagnostic per cycle.
func localOrder(locals map[string]*localDecl) ([]*localDecl, map[string]bool, hcl.Diagnostics) {
	deps := make(map[string][]string, len(locals))
	for name, l := range locals {
		for _, tr := range l.Expr.Variables() {
			if tr.RootName() != "local" || len(tr) < 2 {
				continue
			}
			if a, ok := tr[1].(hcl.TraverseAttr); ok {
				if _, exists := locals[a.Name]; exists {
					deps[name] = append(deps[name], a.Name)
				}
			}
		}
	}
	order, cycles := topoSort(sortedKeys(locals), deps)
	var diags hcl.Diagnostics
	onCycle := map[string]bool{}
	for _, c := range cycles {
		for _, n := range c {
			onCycle[n] = true
		}
		diags = append(diags, errorAt(locals[c[0]].DeclRange, "Cycle in locals",
			fmt.Sprintf("These locals refer to each other in a loop: %s. Break the loop by computing one of them without the others.", cycleText("local.", c))))
	}
	out := make([]*localDecl, 0, len(order))
	for _, name := range order {
		out = append(out, locals[name])
	}
	return out, onCycle, diags
}

// topoSort orders names so that each comes after its dependencies (names
// missing from deps have none). It returns each cycle found once, as the
// names along it.
func topoSort(names []string, deps map[string][]string) ([]string, [][]string) {
	const (
		unseen = iota
		visiting
		done
	)
	state := make(map[string]int, len(names))
	var order []string
	var cycles [][]string
	var stack []string
	var visit func(n string)
	visit = func(n string) {
		switch state[n] {
		case done:
			return
		case visiting:
			for i := len(stack) - 1; i >= 0; i-- {
				if stack[i] == n {
					cycles = append(cycles, append(append([]string{}, stack[i:]...), n))
					break
				}
			}
			return
		}
		state[n] = visiting
		stack = append(stack, n)
		for _, dep := range deps[n] {
			visit(dep)
		}
		stack = stack[:len(stack)-1]
		state[n] = done
		order = append(order, n)
	}
	for _, n := range names {
		visit(n)
	}
	return order, cycles
}

func cycleText(prefix string, names []string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = prefix + n
	}
	return strings.Join(parts, " → ")
}
