package winback

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/tenant"
	"github.com/tenantd/tenantd/ent/winbackmessage"
	"github.com/tenantd/tenantd/internal/auth"
	"github.com/tenantd/tenantd/internal/billing"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/subscription"
)

// A win-back mail's links carry a token "<message id>.<expires>.<sig>":
// the win_back_messages row, the expiry in Unix seconds, and an HMAC of
// both under the tenant's signing key (auth.SignLink), one purpose for the
// reactivation link and another for the unsubscribe link. Changing any
// part breaks the signature; a purge, which deletes the key, voids them.
const (
	purposeReactivate  = "tenantd winback reactivate v1"
	purposeUnsubscribe = "tenantd winback unsubscribe v1"
	// maxToken bounds a token before any work: the real ones are ~92
	// characters.
	maxToken = 200
)

type mailLinks struct{ reactivate, unsubscribe string }

// links signs a mail's two links with the tenant's signing key.
func (s *Service) links(key []byte, messageID uuid.UUID, expires time.Time) mailLinks {
	token := func(purpose string) string {
		return auth.LinkToken(key, purpose, messageID, expires.Unix())
	}
	return mailLinks{
		reactivate:  s.base() + "/#/reactivate?token=" + url.QueryEscape(token(purposeReactivate)),
		unsubscribe: s.base() + "/#/unsubscribe?token=" + url.QueryEscape(token(purposeUnsubscribe)),
	}
}

// errLink is the one answer to every link that is not valid: tampered,
// expired, of a purged tenant, or unknown, so a link cannot be probed.
var errLink = tenantd.Errorf(tenantd.EFORBIDDEN, "this link is not valid or has expired; sign in to the console instead")

// verify checks a token and returns its message; FORBIDDEN otherwise.
func (s *Service) verify(ctx context.Context, token, purpose string) (*ent.WinBackMessage, error) {
	id, exp, sig, ok := auth.ParseLinkToken(token, maxToken)
	if !ok {
		return nil, errLink
	}
	if !tenantd.Now(s.clock).Before(time.Unix(exp, 0)) {
		return nil, errLink
	}
	sys := tenantd.SystemContext(ctx)
	msg, err := s.db.Ent.WinBackMessage.Get(sys, id)
	if err != nil {
		return nil, errLink
	}
	key, err := auth.SigningKey(sys, s.db.Ent, msg.TenantID)
	if err != nil {
		return nil, errLink
	}
	if !auth.LinkSignatureValid(key, purpose, id, exp, sig) {
		s.log.Info("win-back link refused", "message", id, "reason", "bad signature")
		return nil, errLink
	}
	return msg, nil
}

// OfferView is what the reactivation page shows.
type OfferView struct {
	TenantName   string
	TenantState  tenantd.State
	PlanKey      string
	PlanName     string
	PriceCents   int
	Offer        *Offer
	CampaignName string
	ExpiresAt    time.Time
	// Reactivated is true once a reactivation through this link completed.
	Reactivated bool
}

// Offer returns what a reactivation link offers and records the first time
// it was opened (the campaign's "opened" figure).
//
// Returns FORBIDDEN (a tampered or expired link, or the tenant
// unsubscribed).
func (s *Service) Offer(ctx context.Context, token string) (*OfferView, error) {
	msg, camp, t, err := s.open(ctx, token, purposeReactivate)
	if err != nil {
		return nil, err
	}
	sys := tenantd.SystemContext(ctx)
	if msg.OpenedAt == nil {
		if err := s.db.Ent.WinBackMessage.Update().Where(winbackmessage.ID(msg.ID), winbackmessage.OpenedAtIsNil()).
			SetOpenedAt(tenantd.Now(s.clock)).Exec(sys); err != nil {
			return nil, fmt.Errorf("record the link's opening: %w", err)
		}
	}
	p, err := s.db.Ent.Plan.Get(sys, t.PlanID)
	if err != nil {
		return nil, err
	}
	return &OfferView{TenantName: t.Name, TenantState: t.State, PlanKey: p.Key, PlanName: p.Name, PriceCents: p.PriceCents,
		Offer: offerOf(camp), CampaignName: camp.Name, ExpiresAt: msg.LinkExpiresAt, Reactivated: msg.ConvertedAt != nil}, nil
}

// open verifies a link and loads what it is about; an unsubscribed
// tenant's links and a purged tenant's are refused.
func (s *Service) open(ctx context.Context, token, purpose string) (*ent.WinBackMessage, *ent.WinBackCampaign, *ent.Tenant, error) {
	msg, err := s.verify(ctx, token, purpose)
	if err != nil {
		return nil, nil, nil, err
	}
	sys := tenantd.SystemContext(ctx)
	camp, err := s.db.Ent.WinBackCampaign.Get(sys, msg.CampaignID)
	if err != nil {
		return nil, nil, nil, errLink
	}
	t, err := s.db.Ent.Tenant.Get(sys, msg.TenantID)
	if err != nil || t.State == tenantd.StatePurged {
		return nil, nil, nil, errLink
	}
	if purpose == purposeReactivate && t.MarketingUnsubscribedAt != nil {
		return nil, nil, nil, tenantd.Errorf(tenantd.EFORBIDDEN,
			"this workspace unsubscribed from these emails, so their links no longer work; sign in to the console to reactivate it")
	}
	return msg, camp, t, nil
}

func offerOf(c *ent.WinBackCampaign) *Offer {
	if c.OfferPercentOff == nil || c.OfferDurationMonths == nil {
		return nil
	}
	return &Offer{PercentOff: *c.OfferPercentOff, DurationMonths: *c.OfferDurationMonths}
}

// Reactivation is what reactivating through a link answers.
type Reactivation struct {
	*subscription.Result
	// KeyID is the id of the new API key.
	KeyID uuid.UUID
}

// Reactivate brings the link's tenant back in one step: a REACTIVATE
// operation with the campaign's offer as a coupon at the billing provider
// and a new API key, as reactivateTenant does for the tenant itself. The
// reactivation counts as the mail's conversion once it completes. A second
// click changes nothing: the tenant is no longer CANCELED, or the first
// reactivation is still under way.
//
// Returns FORBIDDEN (the link), INVALID_INPUT (paymentMethod),
// INVALID_TRANSITION (the tenant is not CANCELED: the message says what to
// do), CONFLICT (a reactivation under way), PAYMENT_DECLINED later, on the
// operation.
func (s *Service) Reactivate(ctx context.Context, token, paymentMethod string) (*Reactivation, error) {
	if err := tenantd.CheckLine("paymentMethod", paymentMethod, 255); err != nil {
		return nil, err
	}
	msg, camp, t, err := s.open(ctx, token, purposeReactivate)
	if err != nil {
		return nil, err
	}
	if t.State == tenantd.StateActive {
		return nil, &tenantd.Error{Code: tenantd.EINVALIDTRANSITION, Extra: map[string]any{"state": string(t.State)},
			Message: "this workspace is already active: nothing was charged; sign in to the console to use it"}
	}
	sys := tenantd.SystemContext(ctx)
	if msg.OperationID != nil {
		op, err := s.db.Ent.Operation.Get(sys, *msg.OperationID)
		if err == nil && !op.Status.Done() {
			return nil, tenantd.Errorf(tenantd.ECONFLICT, "the reactivation this link started is under way; nothing more was charged")
		}
	}
	actor := "winback-link:" + msg.ID.String()
	as := tenantd.NewContext(ctx, tenantd.Viewer{Role: tenantd.RoleTenant, TenantID: t.ID, Actor: actor})
	req := subscription.ReactivateRequest{TenantID: t.ID, PaymentMethod: paymentMethod, WinBackMessage: msg.ID,
		Reason: fmt.Sprintf("win-back campaign %q, step %d", camp.Name, msg.Step+1),
		Actor:  lifecycle.Actor{By: tenantd.TriggerUser, Name: actor}}
	if o := offerOf(camp); o != nil {
		req.Coupon = &billing.RetentionCoupon{PercentOff: o.PercentOff, DurationMonths: o.DurationMonths, Name: camp.Name}
	}
	res, err := s.subscriptions.Reactivate(as, req)
	if err != nil {
		return nil, err
	}
	if err := s.db.Ent.WinBackMessage.UpdateOneID(msg.ID).SetOperationID(res.Operation.ID).Exec(sys); err != nil {
		return nil, fmt.Errorf("record the link's operation: %w", err)
	}
	keyID, _ := uuid.Parse(fmt.Sprint(res.Operation.Params["apiKey"]))
	s.log.Info("win-back reactivation started", "tenant", t.ID, "campaign", camp.ID, "step", msg.Step, "operation", res.Operation.ID)
	return &Reactivation{Result: res, KeyID: keyID}, nil
}

// Unsubscribe stops every win-back and nudge mail to the link's tenant;
// doing it twice changes nothing. Its reactivation links stop working.
//
// Returns FORBIDDEN (the link).
func (s *Service) Unsubscribe(ctx context.Context, token string) (tenantName string, err error) {
	msg, _, t, err := s.open(ctx, token, purposeUnsubscribe)
	if err != nil {
		return "", err
	}
	if t.MarketingUnsubscribedAt == nil {
		err := s.db.Ent.Tenant.UpdateOneID(t.ID).Where(tenant.MarketingUnsubscribedAtIsNil()).
			SetMarketingUnsubscribedAt(tenantd.Now(s.clock)).Exec(tenantd.SystemContext(ctx))
		if err != nil && !ent.IsNotFound(err) {
			return "", fmt.Errorf("unsubscribe: %w", err)
		}
		s.log.Info("tenant unsubscribed from win-back mails", "tenant", t.ID, "campaign", msg.CampaignID)
	}
	return t.Name, nil
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
