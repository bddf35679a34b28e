package workspace

import (
	"context"

	"github.com/google/uuid"
)

// Querier runs statements in a hook.
type Querier = querier

// SetSearchReadHook makes f run inside every search's reading, after the
// tenant checks and before the search.
func (s *Service) SetSearchReadHook(f func(ctx context.Context, tenantID uuid.UUID, q Querier) error) {
	s.searchReadHook = f
}

// MaxSnippetChars is the snippet window.
const MaxSnippetChars = maxSnippetChars

// SetGateHook makes f hear every write arrive at a tenant's cutover gate
// ("arrive") and pass it ("pass").
func (s *Service) SetGateHook(f func(tenantID uuid.UUID, event string)) { s.gateHook = f }
