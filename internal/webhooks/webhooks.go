// Package webhooks applies billing provider events to tenants: a failed
// payment suspends, a paid invoice resumes a suspended tenant, a deleted
// subscription cancels. Each event id is acted on once, however often the
// provider delivers it.
package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/tenant"
	"github.com/tenantd/tenantd/internal/billing"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/store"
)

const maxPayload = 1 << 20

// Stripe handles POST /webhooks/stripe.
type Stripe struct {
	db      *store.DB
	machine *lifecycle.Machine
	secret  string
	log     *slog.Logger
}

// NewStripe returns the Stripe webhook endpoint; secret is the endpoint's
// signing secret (STRIPE_WEBHOOK_SECRET).
func NewStripe(db *store.DB, machine *lifecycle.Machine, secret string, log *slog.Logger) *Stripe {
	return &Stripe{db: db, machine: machine, secret: secret, log: log}
}

// ServeHTTP verifies the signature, applies the event and answers 200, or
// 400 for a bad signature or payload (nothing is changed), or 500 when
// applying failed (the provider retries).
func (s *Stripe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		reply(w, http.StatusMethodNotAllowed, map[string]any{"error": "POST only"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPayload))
	if err != nil {
		reply(w, http.StatusBadRequest, map[string]any{"error": "could not read the payload"})
		return
	}
	ev, err := billing.ParseWebhookAt(body, r.Header.Get("Stripe-Signature"), s.secret, s.machine.Now())
	if err != nil {
		s.log.Warn("stripe webhook rejected", "err", err)
		msg := "the payload could not be parsed"
		if errors.Is(err, billing.ErrBadSignature) {
			msg = "the Stripe-Signature header does not verify"
		}
		reply(w, http.StatusBadRequest, map[string]any{"error": msg})
		return
	}
	outcome, err := s.Apply(r.Context(), "stripe", ev)
	if err != nil {
		s.log.Error("stripe webhook failed", "event", ev.ID, "type", ev.Type, "err", err)
		reply(w, http.StatusInternalServerError, map[string]any{"error": "internal error"})
		return
	}
	s.log.Info("stripe webhook", "event", ev.ID, "type", ev.Type, "outcome", outcome)
	reply(w, http.StatusOK, map[string]any{"received": true, "outcome": outcome})
}

// Apply acts on one event, once: the event row and the transition it causes
// commit together, and the event row's unique id turns a concurrent or later
// duplicate into a no-op.
func (s *Stripe) Apply(ctx context.Context, provider string, ev *billing.WebhookEvent) (string, error) {
	sys := tenantd.SystemContext(ctx)
	if seen, err := s.db.Ent.WebhookEvent.Get(sys, ev.ID); err == nil {
		return "duplicate of an event processed earlier (" + seen.Outcome + ")", nil
	} else if !ent.IsNotFound(err) {
		return "", err
	}
	var outcome string
	err := s.db.InTx(sys, func(ctx context.Context, tx *store.Tx) error {
		var err error
		outcome, err = s.apply(ctx, tx, ev)
		if err != nil {
			return err
		}
		return tx.Ent.WebhookEvent.Create().SetID(ev.ID).SetProvider(provider).SetType(ev.Type).SetOutcome(outcome).Exec(ctx)
	})
	if ent.IsConstraintError(err) {
		return "duplicate of an event processed concurrently", nil
	}
	return outcome, err
}

func (s *Stripe) apply(ctx context.Context, tx *store.Tx, ev *billing.WebhookEvent) (string, error) {
	var event tenantd.Event
	switch ev.Type {
	case "invoice.payment_failed":
		event = tenantd.EventSuspend
	case "invoice.paid", "invoice.payment_succeeded":
		event = tenantd.EventResume
	case "customer.subscription.deleted":
		event = tenantd.EventCancel
	default:
		return "ignored: tenantd does not act on " + ev.Type, nil
	}
	q := tx.Ent.Tenant.Query()
	switch {
	case ev.SubscriptionID != "":
		q = q.Where(tenant.BillingSubscriptionID(ev.SubscriptionID))
	case ev.CustomerID != "":
		q = q.Where(tenant.BillingCustomerID(ev.CustomerID))
	default:
		return "ignored: the event names no customer or subscription", nil
	}
	t, err := q.First(ctx)
	if ent.IsNotFound(err) && ev.SubscriptionID != "" && ev.CustomerID != "" {
		t, err = tx.Ent.Tenant.Query().Where(tenant.BillingCustomerID(ev.CustomerID)).First(ctx)
	}
	if ent.IsNotFound(err) {
		return "ignored: no tenant has this customer or subscription", nil
	}
	if err != nil {
		return "", fmt.Errorf("find tenant: %w", err)
	}
	if !lifecycle.Legal(t.State, event) { // lifecycle's table says which states the event applies to
		return fmt.Sprintf("ignored: tenant %s is %s", t.ID, t.State), nil
	}
	_, err = s.machine.FireTx(ctx, tx, lifecycle.Request{
		TenantID: t.ID, Event: event,
		Actor:    lifecycle.Actor{By: tenantd.TriggerSystem, Name: "billing:stripe"},
		Reason:   "stripe " + ev.Type,
		Metadata: map[string]any{"stripe_event": ev.ID},
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s tenant %s", event, t.ID), nil
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
