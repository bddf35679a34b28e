package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"strings"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/privacy"
)

// requestErrorCodes are gqlgen's codes for requests that are malformed or
// over a limit: the caller's fault, so INVALID_INPUT.
var requestErrorCodes = map[string]bool{
	"GRAPHQL_PARSE_FAILED":          true,
	"GRAPHQL_VALIDATION_FAILED":     true,
	"COMPLEXITY_LIMIT_EXCEEDED":     true,
	"PERSISTED_QUERY_NOT_FOUND":     true,
	"PERSISTED_QUERY_NOT_SUPPORTED": true,
	"BAD_USER_INPUT":                true,
}

// ErrorObserver is told the code of every error sent to a client.
type ErrorObserver func(code string)

// PresenterOption adjusts the ErrorPresenter.
type PresenterOption func(*presenter)

type presenter struct{ hideSuggestions bool }

// HideSuggestions strips the validator's "Did you mean …?" hints, which
// name fields, arguments, input fields, types and enum values a caller did
// not ask for: in production the schema is not shown (introspection is off),
// so it must not leak through error messages either.
func HideSuggestions() PresenterOption { return func(p *presenter) { p.hideSuggestions = true } }

// suggestion matches the validator's hints, e.g. ` Did you mean "state"?` or
// ` Did you mean the enum value "ACTIVE" or "PENDING"?`.
var suggestion = regexp.MustCompile(` ?Did you mean [^?]*\?`)

// maxLoggedError bounds the error text logged for one INTERNAL error: a
// client's request can end up quoted in an error, and a 10 MB body must not
// become a 10 MB log line.
const maxLoggedError = 2048

// ErrorPresenter maps errors to the contract's extensions.code. INTERNAL
// errors go to the log with their details (bounded in size) and reach the
// client only as "internal error".
func ErrorPresenter(log *slog.Logger, observe ErrorObserver, opts ...PresenterOption) graphql.ErrorPresenterFunc {
	var p presenter
	for _, o := range opts {
		o(&p)
	}
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		code, msg, ext := classify(err, gqlErr)
		if p.hideSuggestions {
			msg = suggestion.ReplaceAllString(msg, "")
		}
		if code == tenantd.EINTERNAL {
			attrs := []any{"err", clip(err.Error(), maxLoggedError), "path", gqlErr.Path.String()}
			if graphql.HasOperationContext(ctx) {
				oc := graphql.GetOperationContext(ctx)
				attrs = append(attrs, "operation", oc.OperationName)
			}
			log.ErrorContext(ctx, "graphql internal error", attrs...)
		}
		if observe != nil {
			observe(code)
		}
		out := &gqlerror.Error{
			Message:    msg,
			Path:       gqlErr.Path,
			Locations:  gqlErr.Locations,
			Extensions: map[string]any{"code": code},
		}
		for k, v := range ext {
			out.Extensions[k] = v
		}
		return out
	}
}

func classify(err error, gqlErr *gqlerror.Error) (code, msg string, ext map[string]any) {
	var te *tenantd.Error
	var ve *ent.ValidationError
	switch {
	case errors.As(err, &te):
		ext = map[string]any{}
		for k, v := range te.Extra {
			ext[k] = v
		}
		if te.Field != "" {
			ext["field"] = te.Field
		}
		return te.Code, te.Message, ext
	case ent.IsNotFound(err), errors.Is(err, privacy.Deny):
		// A privacy denial means the caller may not see the object: to the
		// caller it does not exist.
		return tenantd.ENOTFOUND, "not found", nil
	case ent.IsConstraintError(err):
		return tenantd.ECONFLICT, "the change conflicts with existing data; reload and retry", nil
	case errors.As(err, &ve):
		return tenantd.EINVALID, ve.Error(), map[string]any{"field": ve.Name}
	}
	if strings.Contains(err.Error(), "cannot decode cursor") {
		return tenantd.EINVALID, "the cursor is not valid: pass a cursor from a page's pageInfo or edges", nil
	}
	if strings.HasSuffix(err.Error(), "introspection disabled") {
		return tenantd.EINVALID, "introspection is disabled in production", nil
	}
	var ge *gqlerror.Error
	if errors.As(err, &ge) && ge.Err == nil {
		// gqlgen's "operation X not found", said so a person can act on it.
		if name, ok := strings.CutPrefix(ge.Message, "operation "); ok && strings.HasSuffix(name, " not found") {
			field := map[string]any{"field": "operationName"}
			if name = strings.TrimSuffix(name, " not found"); name == " " || name == "" {
				return tenantd.EINVALID, "the document holds several operations: name the one to run in operationName", field
			}
			return tenantd.EINVALID, fmt.Sprintf("operationName %q names no operation of the document", strings.TrimSpace(name)), field
		}
		if c, _ := ge.Extensions["code"].(string); requestErrorCodes[c] || ge.Rule != "" {
			return tenantd.EINVALID, ge.Message, nil
		} else if c == tenantd.EINVALID {
			return c, ge.Message, withoutCode(ge.Extensions)
		}
	}
	return tenantd.EINTERNAL, "internal error", nil
}

// clip cuts s to at most n bytes, on a rune boundary, saying how much was cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… (%d more bytes)", len(s)-cut)
}

func withoutCode(ext map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range ext {
		if k != "code" {
			out[k] = v
		}
	}
	return out
}

// Recover turns a resolver panic into an INTERNAL error, logging the stack.
func Recover(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "graphql resolver panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return fmt.Errorf("panic: %v", p)
	}
}
