// Package tenantd holds the domain vocabulary shared by every layer of the
// tenant lifecycle control plane: the error type with its machine codes.
//
// Capability packages return *Error values; the GraphQL edge maps Code to
// extensions.code and hides the message of INTERNAL errors.
package tenantd

import (
	"errors"
	"fmt"
)

// Error codes of the API contract (DESIGN.md, "API contract").
const (
	EUNAUTHENTICATED     = "UNAUTHENTICATED"
	EFORBIDDEN           = "FORBIDDEN"
	ENOTFOUND            = "NOT_FOUND"
	EINVALID             = "INVALID_INPUT"
	EINVALIDTRANSITION   = "INVALID_TRANSITION"
	ECONFLICT            = "CONFLICT"
	EIDEMPOTENCYMISMATCH = "IDEMPOTENCY_MISMATCH"
	EPAYMENTDECLINED     = "PAYMENT_DECLINED"
	EPLANLIMIT           = "PLAN_LIMIT_EXCEEDED"
	EQUOTA               = "QUOTA_EXCEEDED"
	EINTERNAL            = "INTERNAL"
)

// Error is an error a caller can act on: a machine-readable Code, a message
// written for a person and, for INVALID_INPUT, the offending Field. Extra
// carries structured details that the API passes on as extensions (for
// example the current state and allowed events of INVALID_TRANSITION).
type Error struct {
	Code    string
	Message string
	Field   string
	Extra   map[string]any
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("tenantd error: code=%s field=%s message=%s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("tenantd error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an INVALID_INPUT error naming the field at fault.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, INTERNAL for
// any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or
// "internal error" for any other error: internals never reach a caller.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// AsError returns the first *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
