package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/graph"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestHostileInputFromSchema generates its cases from the GraphQL schema,
// so a field added later is covered without anyone remembering to: for
// every root query and mutation field,
//
//   - asked anonymously, it is UNAUTHENTICATED and nothing runs (but the
//     public signUp and plans; the public win-back link fields, given a
//     token that is no link, are FORBIDDEN);
//   - asked 1,001 times under aliases, it is refused;
//   - every list in its arguments (input objects walked three levels deep)
//     given 20,000 items, every string given a NUL, every scalar a malformed
//     value, every enum an unknown value and every recursive input object
//     nested 20 deep is INVALID_INPUT — never INTERNAL, never a 5xx — and
//     each refusal comes within maxRatio of sending as many bytes.
func TestHostileInputFromSchema(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, storetest.SQLite)
	schema := graph.NewSchema(&graph.Resolver{}).Schema()
	public := graph.NewGuard(0).Public
	links := []string{"winBackOffer", "reactivateFromWinBack", "unsubscribeWinBack", "restoreLink", "restoreFromLink"}
	cases := 0
	for _, root := range []*ast.Definition{schema.Query, schema.Mutation} {
		for _, f := range root.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			g := &gen{schema: schema}
			op := g.operation(root, f)
			t.Run(root.Name+"."+f.Name, func(t *testing.T) {
				switch {
				case slices.Contains(links, f.Name):
					r := srv.Do(t, "", op.query, g.minimalVars(f))
					require.Equal(t, tenantd.EFORBIDDEN, r.Code(), "anonymous %s with no link: %+v", f.Name, r.Errors)
				case !slices.Contains(public, f.Name):
					r := srv.Do(t, "", op.query, g.minimalVars(f))
					require.Equal(t, tenantd.EUNAUTHENTICATED, r.Code(), "anonymous %s: %+v", f.Name, r.Errors)
					require.Nil(t, r.Data, "anonymous %s: nothing ran", f.Name)
				}
				if root == schema.Query {
					r := srv.Do(t, admin, op.body(1001), g.minimalVars(f))
					require.Equal(t, tenantd.EINVALID, r.Code(), "1,001 aliases of %s", f.Name)
				}
				for _, c := range g.hostile(f) {
					cases++
					vars := g.minimalVars(f)
					c.apply(vars)
					raw, err := json.Marshal(map[string]any{"query": op.query, "variables": vars})
					require.NoError(t, err)
					var r *servertest.Response
					send := func() { r = srv.Raw(t, admin, "application/json", raw) }
					took := timed(send)
					require.Less(t, r.Status, 500, "%s %s", f.Name, c.name)
					if r.Status != http.StatusRequestEntityTooLarge {
						require.Equal(t, tenantd.EINVALID, r.Code(), "%s %s: %+v", f.Name, c.name, r.Errors)
					}
					requireCheap(t, baselineOf(t, srv, len(raw)), took, f.Name+" "+c.name, send)
				}
			})
		}
	}
	t.Logf("%d hostile cases generated from the schema", cases)
	require.Zero(t, errorCount(t, srv, tenantd.EINTERNAL), "no generated case was an internal error")
}

// gen builds requests for the fields of a schema.
type gen struct {
	schema *ast.Schema
}

type genOp struct {
	query string
	head  string // "query($a: T!) {"
	call  string // "f(a: $a) { __typename }"
}

func (o genOp) body(aliases int) string {
	var b strings.Builder
	b.WriteString(o.head)
	for i := range aliases {
		fmt.Fprintf(&b, " a%d: %s", i, o.call)
	}
	return b.String() + " }"
}

// operation is a request for f with every argument as a variable and
// __typename as the selection of an object result.
func (g *gen) operation(root *ast.Definition, f *ast.FieldDefinition) genOp {
	var decls, args []string
	for _, a := range f.Arguments {
		decls = append(decls, fmt.Sprintf("$%s: %s", a.Name, a.Type.String()))
		args = append(args, fmt.Sprintf("%s: $%s", a.Name, a.Name))
	}
	kind := strings.ToLower(root.Name)
	head := kind + " {"
	if len(decls) > 0 {
		head = fmt.Sprintf("%s(%s) {", kind, strings.Join(decls, ", "))
	}
	call := f.Name
	if len(args) > 0 {
		call += "(" + strings.Join(args, ", ") + ")"
	}
	if def := g.schema.Types[f.Type.Name()]; def != nil && (def.Kind == ast.Object || def.Kind == ast.Interface || def.Kind == ast.Union) {
		call += " { __typename }"
	}
	return genOp{query: head + " " + call + " }", head: head, call: call}
}

// minimalVars are valid values for f's required arguments.
func (g *gen) minimalVars(f *ast.FieldDefinition) map[string]any {
	vars := map[string]any{}
	for _, a := range f.Arguments {
		if a.Type.NonNull && a.DefaultValue == nil {
			vars[a.Name] = g.value(a.Type)
		}
	}
	return vars
}

// value is a valid value of type t, with only the required input fields.
func (g *gen) value(t *ast.Type) any {
	if t.Elem != nil {
		return []any{g.value(t.Elem)}
	}
	def := g.schema.Types[t.NamedType]
	switch def.Kind {
	case ast.Enum:
		return def.EnumValues[0].Name
	case ast.InputObject:
		obj := map[string]any{}
		for _, f := range def.Fields {
			if f.Type.NonNull && f.DefaultValue == nil {
				obj[f.Name] = g.value(f.Type)
			}
		}
		if _, ok := obj["idempotencyKey"]; ok {
			obj["idempotencyKey"] = uuid.NewString()
		}
		return obj
	}
	switch t.NamedType {
	case "ID":
		return uuid.NewString()
	case "Int":
		return 1
	case "Float":
		return 1.5
	case "Boolean":
		return true
	case "Time":
		return "2026-01-01T00:00:00Z"
	case "Map":
		return map[string]any{}
	}
	return "x"
}

// hostileCase replaces the value at one position of the variables.
type hostileCase struct {
	name  string
	apply func(vars map[string]any)
}

// position is a place in an argument's value: the argument, then input
// field names.
type position struct {
	arg  string
	path []string
	typ  *ast.Type
}

func (p position) String() string { return strings.Join(append([]string{"$" + p.arg}, p.path...), ".") }

// set puts v at p in vars, creating the input objects on the way (with
// their required fields).
func (g *gen) set(vars map[string]any, p position, f *ast.FieldDefinition, v any) {
	if len(p.path) == 0 {
		vars[p.arg] = v
		return
	}
	argType := f.Arguments.ForName(p.arg).Type
	cur, ok := vars[p.arg].(map[string]any)
	if !ok {
		cur = g.value(&ast.Type{NamedType: argType.Name()}).(map[string]any)
		vars[p.arg] = cur
	}
	typ := g.schema.Types[argType.Name()]
	for i, name := range p.path {
		if i == len(p.path)-1 {
			cur[name] = v
			return
		}
		ft := typ.Fields.ForName(name).Type
		next, ok := cur[name].(map[string]any)
		if !ok {
			next = g.value(&ast.Type{NamedType: ft.Name()}).(map[string]any)
			cur[name] = next
		}
		cur, typ = next, g.schema.Types[ft.Name()]
	}
}

// positions lists every place in f's arguments, input objects walked up to
// three levels deep (where inputs nest without end).
func (g *gen) positions(f *ast.FieldDefinition) []position {
	var out []position
	var walk func(p position, depth int)
	walk = func(p position, depth int) {
		out = append(out, p)
		def := g.schema.Types[p.typ.Name()]
		if p.typ.Elem != nil || def.Kind != ast.InputObject || depth >= 3 {
			return
		}
		for _, fd := range def.Fields {
			walk(position{arg: p.arg, path: append(slices.Clone(p.path), fd.Name), typ: fd.Type}, depth+1)
		}
	}
	for _, a := range f.Arguments {
		walk(position{arg: a.Name, typ: a.Type}, 0)
	}
	return out
}

func (g *gen) hostile(f *ast.FieldDefinition) []hostileCase {
	var out []hostileCase
	add := func(p position, what string, v any) {
		out = append(out, hostileCase{name: p.String() + " " + what, apply: func(vars map[string]any) { g.set(vars, p, f, v) }})
	}
	for _, p := range g.positions(f) {
		if p.typ.Elem != nil {
			items := make([]any, 20_000)
			for i := range items {
				items[i] = g.value(p.typ.Elem)
			}
			add(p, "with 20,000 items", items)
			continue
		}
		def := g.schema.Types[p.typ.NamedType]
		switch {
		case def.Kind == ast.Enum:
			add(p, "an unknown enum value", "NOT_A_VALUE")
		case def.Kind == ast.InputObject:
			if rec := recursiveField(def); rec != nil {
				deep := g.value(&ast.Type{NamedType: def.Name})
				for range 20 {
					wrap := g.value(&ast.Type{NamedType: def.Name}).(map[string]any)
					if rec.Type.Elem != nil {
						wrap[rec.Name] = []any{deep}
					} else {
						wrap[rec.Name] = deep
					}
					deep = wrap
				}
				add(p, "nested 20 deep", deep)
			}
			add(p, "not an object", "x")
		case p.typ.NamedType == "String":
			add(p, "with a NUL", "a\x00b")
		case p.typ.NamedType == "ID":
			add(p, "not a UUID", "not-an-id")
		case p.typ.NamedType == "Time":
			add(p, "not a time", "yesterday")
		case p.typ.NamedType == "Int":
			add(p, "beyond 32 bits", int64(1)<<40)
			// (gqlgen reads "1" as 1: lenient, not hostile.)
		case p.typ.NamedType == "Boolean":
			add(p, "a string", "yes")
		}
	}
	return out
}

// recursiveField is an input field of def whose type is def itself (or a
// list of it), as in the where inputs' not, and, or.
func recursiveField(def *ast.Definition) *ast.FieldDefinition {
	for _, f := range def.Fields {
		if f.Type.Name() == def.Name {
			return f
		}
	}
	return nil
}
