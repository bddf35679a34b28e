package graph

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/tenantd/tenantd"
)

// Guard bounds a request before gqlgen parses, validates or coerces it, so
// that a hostile request costs time linear in its size and is refused before
// any work its size would cause:
//
//   - variables: nesting depth, items per list, values in all, no NUL in a
//     string (PostgreSQL text cannot hold one);
//   - the document: the fields it selects once every fragment is expanded,
//     counted in one pass that visits each fragment once (a fragment that
//     spreads the next one twice, 24 deep, would otherwise expand to 2^24
//     fields before the complexity limit sees it), and the same bounds on
//     literal input values as on variables;
//   - who may ask: an anonymous caller gets the public root fields only
//     (signUp), refused before anything else runs; signUp must be the only
//     root field of its operation, because the rest of its answer resolves as
//     the tenant it creates (tenantd.Assume);
//   - a request body larger than the small limit may only carry
//     uploadDocument (see WithLargeBody).
//
// Guard is a gqlgen OperationParameterMutator: it runs before the executor
// parses the query, so register it after the APQ extension (which fills
// the query in) and before everything else.
type Guard struct {
	// MaxFields bounds the fields of an operation after fragment expansion.
	MaxFields int
	// MaxListItems bounds the items of one list input.
	MaxListItems int
	// MaxInputDepth bounds how deeply input values nest (objects and lists).
	MaxInputDepth int
	// MaxInputValues bounds the input values of a request in all.
	MaxInputValues int
	// TokenLimit is the parser's token limit (the executor's own).
	TokenLimit int
	// Public are the root fields an anonymous caller may select: signing up
	// and what the signup page shows, and what a win-back mail's signed
	// links do (each checks its link's signature before anything else).
	// (Introspection has its own switch: off in production.)
	Public []string

	cache *lru.LRU[*docInfo]
}

// NewGuard returns a Guard with tenantd's limits: 1,000 fields (the
// complexity limit: every field costs at least 1), 100 items per list (the
// largest page), 12 levels of input nesting, 500 input values; signUp,
// plans, the win-back link fields and the restore link fields are public.
func NewGuard(tokenLimit int) *Guard {
	return &Guard{
		MaxFields: 1000, MaxListItems: maxPage, MaxInputDepth: 12, MaxInputValues: 500,
		TokenLimit: tokenLimit, Public: []string{"signUp", "plans", "__typename", "__schema", "__type",
			"winBackOffer", "reactivateFromWinBack", "unsubscribeWinBack", "restoreLink", "restoreFromLink"},
		cache: lru.New[*docInfo](1000),
	}
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = (*Guard)(nil)

// ExtensionName implements graphql.HandlerExtension.
func (*Guard) ExtensionName() string { return "Guard" }

// Validate implements graphql.HandlerExtension.
func (g *Guard) Validate(graphql.ExecutableSchema) error {
	if g.MaxFields < 1 || g.MaxListItems < 1 || g.MaxInputDepth < 1 || g.MaxInputValues < 1 {
		return fmt.Errorf("guard: limits must be positive")
	}
	return nil
}

type largeBodyKey struct{}

// WithLargeBody marks a request whose body is larger than the small body
// limit: the Guard lets it through only if it is a lone uploadDocument.
func WithLargeBody(ctx context.Context, limit int64) context.Context {
	return context.WithValue(ctx, largeBodyKey{}, limit)
}

// MutateOperationParameters implements graphql.OperationParameterMutator.
func (g *Guard) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	budget := g.MaxInputValues
	if err := g.checkVariables(p.Variables, &budget); err != nil {
		return err
	}
	info := g.analyze(p.Query)
	if info.err != nil {
		return info.err
	}
	if info.parseFailed {
		return nil // the executor parses again and reports the syntax error
	}
	if info.values > budget {
		return guardError(tenantd.EINVALID, "", fmt.Sprintf(
			"the request holds more than %d input values (variables and arguments together); split it into smaller requests", g.MaxInputValues))
	}
	op := info.operation(p.OperationName)
	if op == nil {
		return nil // no such operation: the executor says so
	}
	if op.fields > g.MaxFields {
		return guardError(tenantd.EINVALID, "", fmt.Sprintf(
			"the operation selects more than %d fields once its fragments are expanded; ask for less per request", g.MaxFields))
	}
	if _, ok := tenantd.ViewerFrom(ctx); !ok {
		for _, f := range op.roots {
			if !slices.Contains(g.Public, f) {
				return guardError(tenantd.EUNAUTHENTICATED, "",
					fmt.Sprintf("%s needs a bearer token: send Authorization: Bearer <admin token or API key>", f))
			}
		}
	}
	for _, f := range assumingFields {
		if slices.Contains(op.roots, f) && op.rootFields > 1 {
			return guardError(tenantd.EINVALID, f,
				f+" must be the only field of its mutation: the rest of its answer is resolved as the tenant it acts on")
		}
	}
	if limit, ok := ctx.Value(largeBodyKey{}).(int64); ok {
		if roots := withoutTypename(op.roots); len(roots) != 1 || roots[0] != "uploadDocument" {
			return guardError(tenantd.EINVALID, "", fmt.Sprintf(
				"the request body is larger than %d bytes: only a request that uploads one document (uploadDocument alone) may be larger", limit))
		}
	}
	return nil
}

func withoutTypename(roots []string) []string {
	return slices.DeleteFunc(slices.Clone(roots), func(s string) bool { return s == "__typename" })
}

// guardError is a refusal with the contract's code. Refusals count as
// validation failures, so the transport answers them as such.
func guardError(code, field, msg string) *gqlerror.Error {
	err := &gqlerror.Error{Message: msg, Err: &tenantd.Error{Code: code, Field: field, Message: msg}}
	if code == tenantd.EINVALID {
		errcode.Set(err, errcode.ValidationFailed)
	}
	return err
}

// checkVariables walks the decoded JSON variables.
func (g *Guard) checkVariables(vars map[string]any, budget *int) *gqlerror.Error {
	for name, v := range vars {
		if err := g.checkValue(v, name, 1, budget); err != nil {
			return err
		}
	}
	return nil
}

func (g *Guard) checkValue(v any, path string, depth int, budget *int) *gqlerror.Error {
	*budget--
	if *budget < 0 {
		return guardError(tenantd.EINVALID, "", fmt.Sprintf(
			"the request holds more than %d input values (variables and arguments together); split it into smaller requests", g.MaxInputValues))
	}
	if depth > g.MaxInputDepth {
		return guardError(tenantd.EINVALID, path, fmt.Sprintf("%s nests deeper than %d levels", path, g.MaxInputDepth))
	}
	switch v := v.(type) {
	case string:
		if strings.IndexByte(v, 0) >= 0 {
			return guardError(tenantd.EINVALID, path, fmt.Sprintf("%s contains a NUL character, which text may not hold", path))
		}
	case []any:
		if len(v) > g.MaxListItems {
			return guardError(tenantd.EINVALID, path, fmt.Sprintf("%s has %d items; a list may hold at most %d", path, len(v), g.MaxListItems))
		}
		for i, item := range v {
			if err := g.checkValue(item, fmt.Sprintf("%s[%d]", path, i), depth+1, budget); err != nil {
				return err
			}
		}
	case map[string]any:
		for k, item := range v {
			if err := g.checkValue(item, path+"."+k, depth+1, budget); err != nil {
				return err
			}
		}
	}
	return nil
}

// docInfo is what the Guard knows of a query document; it is cached by the
// query's text.
type docInfo struct {
	parseFailed bool
	err         *gqlerror.Error // a literal out of bounds
	values      int             // literal input values
	ops         map[string]*opInfo
	single      *opInfo // the operation of a one-operation document
}

type opInfo struct {
	fields     int      // after fragment expansion, saturated at MaxFields+1
	roots      []string // root field names, fragments expanded
	rootFields int      // root field selections but __typename, aliases counted
}

func (d *docInfo) operation(name string) *opInfo {
	if name == "" {
		return d.single
	}
	return d.ops[name]
}

func (g *Guard) analyze(query string) *docInfo {
	if d, ok := g.cache.Get(context.Background(), query); ok {
		return d
	}
	d := &docInfo{ops: map[string]*opInfo{}}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, g.TokenLimit)
	if err != nil {
		d.parseFailed = true
		return d // not cached: the executor's error is what the caller sees
	}
	w := &docWalker{g: g, frags: map[string]*ast.FragmentDefinition{}, memo: map[string]int{}, busy: map[string]bool{}}
	for _, f := range doc.Fragments {
		w.frags[f.Name] = f
	}
	budget := g.MaxInputValues + 1
	for _, op := range doc.Operations {
		if d.err = w.literals(op.SelectionSet, &budget); d.err != nil {
			break
		}
		for _, v := range op.VariableDefinitions {
			if d.err = g.checkLiteral(v.DefaultValue, "$"+v.Variable, 1, &budget); d.err != nil {
				break
			}
		}
	}
	for _, f := range doc.Fragments {
		if d.err != nil {
			break
		}
		d.err = w.literals(f.SelectionSet, &budget)
	}
	d.values = g.MaxInputValues + 1 - budget
	for _, op := range doc.Operations {
		info := &opInfo{fields: w.count(op.SelectionSet)}
		info.rootFields = w.roots(op.SelectionSet, &info.roots, map[string]bool{})
		d.ops[op.Name] = info
		if len(doc.Operations) == 1 {
			d.single = info
		}
	}
	g.cache.Add(context.Background(), query, d)
	return d
}

// docWalker counts fields with each fragment's count computed once.
type docWalker struct {
	g     *Guard
	frags map[string]*ast.FragmentDefinition
	memo  map[string]int
	busy  map[string]bool // fragments being counted: a cycle, which validation refuses
}

func (w *docWalker) count(set ast.SelectionSet) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			n = w.add(n, 1+w.count(s.SelectionSet))
		case *ast.InlineFragment:
			n = w.add(n, w.count(s.SelectionSet))
		case *ast.FragmentSpread:
			n = w.add(n, w.fragment(s.Name))
		}
	}
	return n
}

func (w *docWalker) fragment(name string) int {
	if n, ok := w.memo[name]; ok {
		return n
	}
	f, ok := w.frags[name]
	if !ok || w.busy[name] {
		return 0 // unknown or cyclic: the validator reports it
	}
	w.busy[name] = true
	n := w.count(f.SelectionSet)
	delete(w.busy, name)
	w.memo[name] = n
	return n
}

// add saturates at MaxFields+1, so no count overflows.
func (w *docWalker) add(a, b int) int { return min(a+b, w.g.MaxFields+1) }

// roots collects the root field names, through fragments (each visited
// once), and counts the root selections that are not __typename.
func (w *docWalker) roots(set ast.SelectionSet, out *[]string, seen map[string]bool) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if !slices.Contains(*out, s.Name) {
				*out = append(*out, s.Name)
			}
			if s.Name != "__typename" {
				n++
			}
		case *ast.InlineFragment:
			n += w.roots(s.SelectionSet, out, seen)
		case *ast.FragmentSpread:
			if f, ok := w.frags[s.Name]; ok && !seen[s.Name] {
				seen[s.Name] = true
				n += w.roots(f.SelectionSet, out, seen)
			}
		}
	}
	return n
}

// literals checks the input values written in a selection set (not through
// spreads: every fragment is checked once on its own).
func (w *docWalker) literals(set ast.SelectionSet, budget *int) *gqlerror.Error {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			for _, a := range s.Arguments {
				if err := w.g.checkLiteral(a.Value, s.Name+"."+a.Name, 1, budget); err != nil {
					return err
				}
			}
			if err := w.literals(s.SelectionSet, budget); err != nil {
				return err
			}
		case *ast.InlineFragment:
			if err := w.literals(s.SelectionSet, budget); err != nil {
				return err
			}
		}
	}
	return nil
}

func (g *Guard) checkLiteral(v *ast.Value, path string, depth int, budget *int) *gqlerror.Error {
	if v == nil {
		return nil
	}
	*budget--
	if *budget < 0 {
		return guardError(tenantd.EINVALID, "", fmt.Sprintf(
			"the request holds more than %d input values (variables and arguments together); split it into smaller requests", g.MaxInputValues))
	}
	if depth > g.MaxInputDepth {
		return guardError(tenantd.EINVALID, path, fmt.Sprintf("%s nests deeper than %d levels", path, g.MaxInputDepth))
	}
	switch v.Kind {
	case ast.StringValue, ast.BlockValue:
		if strings.IndexByte(v.Raw, 0) >= 0 {
			return guardError(tenantd.EINVALID, path, fmt.Sprintf("%s contains a NUL character, which text may not hold", path))
		}
	case ast.ListValue:
		if len(v.Children) > g.MaxListItems {
			return guardError(tenantd.EINVALID, path, fmt.Sprintf("%s has %d items; a list may hold at most %d", path, len(v.Children), g.MaxListItems))
		}
		for i, c := range v.Children {
			if err := g.checkLiteral(c.Value, fmt.Sprintf("%s[%d]", path, i), depth+1, budget); err != nil {
				return err
			}
		}
	case ast.ObjectValue:
		for _, c := range v.Children {
			if err := g.checkLiteral(c.Value, path+"."+c.Name, depth+1, budget); err != nil {
				return err
			}
		}
	}
	return nil
}

// assumingFields are the public mutations whose answer resolves as the
// tenant they act on: signUp (the tenant it creates) and
// reactivateFromWinBack and restoreFromLink (the tenant a signed link
// brings back, with the new key it issues).
var assumingFields = []string{"signUp", "reactivateFromWinBack", "restoreFromLink"}

// SignUpScope gives the assumingFields — and nothing else — a viewer slot
// (tenantd.WithViewerSlot): the resolver fills it with the tenant it acts
// on, so that the fields of its answer resolve for that tenant, while the
// rest of the request stays anonymous. (The Guard makes each the only root
// field of its operation, too.)
type SignUpScope struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.FieldInterceptor
} = SignUpScope{}

// ExtensionName implements graphql.HandlerExtension.
func (SignUpScope) ExtensionName() string { return "SignUpScope" }

// Validate implements graphql.HandlerExtension.
func (SignUpScope) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptField implements graphql.FieldInterceptor. gqlgen resolves a
// field's children with the context its interceptors passed on.
func (SignUpScope) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Object == "Mutation" && slices.Contains(assumingFields, fc.Field.Name) {
		if _, ok := tenantd.ViewerFrom(ctx); !ok {
			ctx = tenantd.WithViewerSlot(ctx)
		}
	}
	return next(ctx)
}
