package gqlws

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrClosed is returned by [Subscription.Next], [Client.Subscribe] and
// [Client.Err] after the client itself closed the connection with
// [Client.Close].
var ErrClosed = errors.New("gqlws: connection closed by client")

// ErrProtocol is wrapped by the error that ends a connection because the
// server violated the graphql-transport-ws protocol (malformed JSON, unknown
// message type, missing id or payload, ...). Test for it with errors.Is.
var ErrProtocol = errors.New("gqlws: protocol violation")

// ErrAckTimeout is returned by [Dial] when the server did not send
// connection_ack within [Options.AckTimeout].
var ErrAckTimeout = errors.New("gqlws: timed out waiting for connection_ack")

// Close codes used by graphql-transport-ws (see the protocol's CloseCode
// enumeration). Servers use CloseUnauthorized and CloseForbidden to reject a
// connection_init.
const (
	CloseBadRequest                       = 4400
	CloseBadResponse                      = 4004
	CloseUnauthorized                     = 4401
	CloseForbidden                        = 4403
	CloseSubprotocolNotAcceptable         = 4406
	CloseConnectionInitialisationTimeout  = 4408
	CloseSubscriberAlreadyExists          = 4409
	CloseTooManyInitialisationRequests    = 4429
	CloseInternalServerError              = 4500
	CloseConnectionAcknowledgementTimeout = 4504
)

// CloseError reports that the server closed the WebSocket with a close
// frame. Code is the WebSocket close code (e.g. 4401 or 4403 when the
// server rejects connection_init, 1000 for a normal close, 1005 when the
// close frame carried no code) and Reason the close reason text.
type CloseError struct {
	Code   int
	Reason string
}

// Error implements error.
func (e *CloseError) Error() string {
	if e.Reason == "" {
		return "gqlws: connection closed by server with code " + strconv.Itoa(e.Code)
	}
	return "gqlws: connection closed by server with code " + strconv.Itoa(e.Code) + ": " + e.Reason
}

// HandshakeError reports that the HTTP upgrade to WebSocket failed with a
// non-101 HTTP response.
type HandshakeError struct {
	StatusCode int    // HTTP status code, e.g. 401
	Status     string // HTTP status line, e.g. "401 Unauthorized"
	Body       string // the start of the response body (at most 1 KiB)
	Err        error  // the underlying error from gorilla/websocket
}

// Error implements error; the message includes the HTTP status.
func (e *HandshakeError) Error() string {
	msg := "gqlws: websocket handshake failed: HTTP " + e.Status
	if b := strings.TrimSpace(e.Body); b != "" {
		msg += ": " + b
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *HandshakeError) Unwrap() error { return e.Err }

// Location is a position in a GraphQL document, as reported in
// GraphQLError.Locations.
type Location struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// GraphQLError is one entry of a GraphQL "errors" list.
type GraphQLError struct {
	Message    string         `json:"message"`
	Locations  []Location     `json:"locations,omitempty"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Error implements error.
func (e GraphQLError) Error() string {
	if len(e.Path) == 0 {
		return e.Message
	}
	parts := make([]string, len(e.Path))
	for i, p := range e.Path {
		parts[i] = fmt.Sprint(p)
	}
	return e.Message + " (path " + strings.Join(parts, ".") + ")"
}

// Code returns extensions.code, or "" when absent or not a string.
func (e GraphQLError) Code() string {
	code, _ := e.Extensions["code"].(string)
	return code
}

// GraphQLErrors is a GraphQL "errors" list. [Subscription.Next] returns it
// as *GraphQLErrors, both for a "next" message that carries errors and for
// an "error" message. errors.As works with a target of type *GraphQLErrors
// as well as **GraphQLErrors.
type GraphQLErrors []GraphQLError

// Error implements error, joining the messages of all entries.
func (e GraphQLErrors) Error() string {
	if len(e) == 0 {
		return "gqlws: graphql: empty error list"
	}
	msgs := make([]string, len(e))
	for i, ge := range e {
		msgs[i] = ge.Error()
	}
	return "gqlws: graphql: " + strings.Join(msgs, "; ")
}

// Code returns extensions.code of the first error, or "".
func (e GraphQLErrors) Code() string {
	if len(e) == 0 {
		return ""
	}
	return e[0].Code()
}

// As lets errors.As fill a GraphQLErrors (value) target from the
// *GraphQLErrors that this package returns.
func (e *GraphQLErrors) As(target any) bool {
	if t, ok := target.(*GraphQLErrors); ok && e != nil {
		*t = *e
		return true
	}
	return false
}
