package server

import (
	"context"

	"github.com/google/uuid"
)

// WaitWebSockets waits until n authenticated WebSockets are open.
func (s *Server) WaitWebSockets(ctx context.Context, n int) error {
	return s.sockets.wait(ctx, func() bool { return s.sockets.open == n })
}

// WaitSubscriptions waits until the credential holds n subscriptions.
func (s *Server) WaitSubscriptions(ctx context.Context, token uuid.UUID, n int) error {
	return s.sockets.wait(ctx, func() bool { return s.sockets.subs[token] == n })
}

// WaitRevocationWatcher waits until the revocation watcher runs (true) or
// no longer runs (false).
func (s *Server) WaitRevocationWatcher(ctx context.Context, running bool) error {
	return s.sockets.wait(ctx, func() bool { return (s.sockets.running > 0) == running })
}
