package retention

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/statetransition"
	"github.com/tenantd/tenantd/internal/auth"
	"github.com/tenantd/tenantd/internal/lifecycle"
)

// The email of a deletion the customer asked for carries a restore link,
// so that the customer, whose keys the deletion revoked, can take it back
// without an administrator (an operator's deletion only an operator takes
// back). Its token is "<tenant id>.<purge after>.<sig>": the
// tenant, the purge time of the deletion it belongs to in Unix seconds
// (which is also when the link expires), and an HMAC of both under the
// tenant's signing key (auth.SignLink). Binding the link to the purge time
// ties it to one deletion request: after a restore and a new deletion, the
// old email's link no longer works. A purge deletes the signing key, which
// voids it.
const (
	purposeRestore = "tenantd restore v1"
	// maxRestoreToken bounds a token before any work: real ones are about
	// 90 characters.
	maxRestoreToken = 200
)

// restoreLink is the console's restore page for the tenant's deletion that
// purges at purgeAfter, signed with key.
func (p *Purger) restoreLink(key []byte, tenantID uuid.UUID, purgeAfter time.Time) string {
	token := auth.LinkToken(key, purposeRestore, tenantID, purgeAfter.Unix())
	return strings.TrimSuffix(p.publicURL(), "/") + "/#/restore?token=" + url.QueryEscape(token)
}

// errRestoreLink is the answer to every restore link that is not valid
// (tampered, unknown, of another deletion), so that links cannot be probed.
var errRestoreLink = tenantd.Errorf(tenantd.EFORBIDDEN, "this restore link is not valid; use the link of the newest deletion email, or ask your administrator to restore the workspace")

// RestoreLinkView is what the restore page shows before the customer
// confirms.
type RestoreLinkView struct {
	TenantName string
	// State is PENDING_DELETION while the link can restore; another state
	// once the tenant was restored.
	State      tenantd.State
	PurgeAfter time.Time
}

// openRestoreLink checks a restore token and returns its tenant and the
// purge time it names.
//
// Returns FORBIDDEN: a tampered or unknown link, one of an earlier
// deletion, an expired one or a purged tenant's (the last two say so).
func (p *Purger) openRestoreLink(ctx context.Context, token string) (*ent.Tenant, time.Time, error) {
	id, exp, sig, ok := auth.ParseLinkToken(token, maxRestoreToken)
	if !ok {
		return nil, time.Time{}, errRestoreLink
	}
	purgeAfter := time.Unix(exp, 0).UTC()
	if !p.machine.Now().Before(purgeAfter) {
		// The token says when it expires: saying so tells nothing more.
		return nil, time.Time{}, tenantd.Errorf(tenantd.EFORBIDDEN,
			"this restore link expired on %s, when the workspace's data was due to be purged; it can no longer be restored", purgeAfter.Format(dateLayout))
	}
	sys := tenantd.SystemContext(ctx)
	t, err := p.db.Ent.Tenant.Get(sys, id)
	if err != nil {
		return nil, time.Time{}, errRestoreLink
	}
	if t.State == tenantd.StatePurged {
		return nil, time.Time{}, tenantd.Errorf(tenantd.EFORBIDDEN,
			"the workspace was purged: its data no longer exists and cannot be restored; sign up again")
	}
	key, err := auth.SigningKey(sys, p.db.Ent, id)
	if err != nil {
		return nil, time.Time{}, errRestoreLink
	}
	if !auth.LinkSignatureValid(key, purposeRestore, id, exp, sig) {
		p.log.Info("restore link refused", "tenant", id, "reason", "bad signature")
		return nil, time.Time{}, errRestoreLink
	}
	// PostgreSQL keeps microseconds, so the stored purge time may round to
	// the next second.
	if t.PurgeAfter != nil && abs(t.PurgeAfter.Unix()-exp) > 1 {
		p.log.Info("restore link refused", "tenant", id, "reason", "of an earlier deletion")
		return nil, time.Time{}, errRestoreLink
	}
	if t.State == tenantd.StatePendingDeletion {
		// Only the customer's own deletion mails a link; this holds even if
		// an operator's deletion came to purge in the same second.
		del, err := p.db.Ent.StateTransition.Query().
			Where(statetransition.TenantID(id), statetransition.EventEQ(tenantd.EventRequestDeletion)).
			Order(ent.Desc(statetransition.FieldSeq)).First(sys)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("read the deletion request: %w", err)
		}
		if del.TriggeredBy != tenantd.TriggerUser {
			return nil, time.Time{}, tenantd.Errorf(tenantd.EFORBIDDEN,
				"an administrator deleted this workspace, so only an administrator can restore it; ask yours")
		}
	}
	return t, purgeAfter, nil
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// RestoreLink returns what a restore link restores.
//
// Returns FORBIDDEN (see openRestoreLink).
func (p *Purger) RestoreLink(ctx context.Context, token string) (*RestoreLinkView, error) {
	t, purgeAfter, err := p.openRestoreLink(ctx, token)
	if err != nil {
		return nil, err
	}
	return &RestoreLinkView{TenantName: t.Name, State: t.State, PurgeAfter: purgeAfter}, nil
}

// RestoreFromLink restores the link's tenant as the customer itself (a
// USER trigger, "restore-link"): Restore, with the new API key shown once.
// A second use is INVALID_TRANSITION and changes nothing.
//
// Returns FORBIDDEN (see openRestoreLink), INVALID_TRANSITION.
func (p *Purger) RestoreFromLink(ctx context.Context, token string) (*RestoreResult, error) {
	t, _, err := p.openRestoreLink(ctx, token)
	if err != nil {
		return nil, err
	}
	if t.State != tenantd.StatePendingDeletion {
		return nil, &tenantd.Error{Code: tenantd.EINVALIDTRANSITION, Extra: map[string]any{"state": string(t.State)},
			Message: "this workspace was restored already, so nothing changed; sign in with the API key shown then, or ask your administrator for a new one"}
	}
	actor := "restore-link:" + t.ID.String()
	as := tenantd.NewContext(ctx, tenantd.Viewer{Role: tenantd.RoleTenant, TenantID: t.ID, Actor: actor})
	return p.Restore(as, RestoreRequest{TenantID: t.ID, Reason: "restored through the deletion email's link",
		Actor: lifecycle.Actor{By: tenantd.TriggerUser, Name: actor}})
}
