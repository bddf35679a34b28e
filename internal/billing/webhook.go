package billing

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v84/webhook"
)

// ErrBadSignature is wrapped by the error ParseWebhook returns when the
// Stripe-Signature header is missing, malformed, too old or does not match
// the payload; the webhook endpoint answers it with 400.
var ErrBadSignature = errors.New("billing: bad webhook signature")

// WebhookEvent is what tenantd needs of a Stripe event.
type WebhookEvent struct {
	// ID is the event id (evt_…), for deduplication.
	ID string
	// Type is the event type, e.g. "invoice.payment_failed" or
	// "customer.subscription.deleted".
	Type string
	// CustomerID and SubscriptionID are the ids the event's object refers
	// to; empty if it names none.
	CustomerID, SubscriptionID string
}

// ParseWebhook verifies the Stripe-Signature header signatureHeader of
// payload with the endpoint's signing secret (within the SDK's default
// five-minute tolerance) and extracts the event. Events rendered with an API
// version other than stripe-go's are accepted: only ids are read from them.
//
// invoice.* events yield the invoice's customer and subscription (the
// latter from parent.subscription_details since API version 2025-03-31,
// from the top-level field before); customer.subscription.* events yield
// the subscription's id and customer; customer.* events the customer's id.
// For other objects the top-level customer and subscription fields are read.
func ParseWebhook(payload []byte, signatureHeader, secret string) (*WebhookEvent, error) {
	return ParseWebhookAt(payload, signatureHeader, secret, time.Now())
}

// WebhookTolerance is how far a webhook's signature time may be from now,
// either way: older is a replay, newer is a forged or badly skewed clock.
const WebhookTolerance = webhook.DefaultTolerance

// ParseWebhookAt is ParseWebhook at the time now. stripe-go refuses only
// signatures older than the tolerance; this also refuses ones from further
// in the future than it.
func ParseWebhookAt(payload []byte, signatureHeader, secret string, now time.Time) (*WebhookEvent, error) {
	if secret == "" {
		// An empty HMAC key would let anyone sign.
		return nil, fmt.Errorf("%w: no webhook signing secret is configured", ErrBadSignature)
	}
	ev, err := webhook.ConstructEventWithOptions(payload, signatureHeader, secret,
		webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true, IgnoreTolerance: true})
	if err == nil {
		if at, ok := signedAt(signatureHeader); !ok || at.Sub(now).Abs() > WebhookTolerance {
			err = webhook.ErrTooOld
		}
	}
	if err != nil {
		if errors.Is(err, webhook.ErrNotSigned) || errors.Is(err, webhook.ErrInvalidHeader) ||
			errors.Is(err, webhook.ErrNoValidSignature) || errors.Is(err, webhook.ErrTooOld) {
			return nil, fmt.Errorf("%w: %w", ErrBadSignature, err)
		}
		return nil, fmt.Errorf("billing: parse webhook: %w", err)
	}
	out := &WebhookEvent{ID: ev.ID, Type: string(ev.Type)}
	if ev.Data == nil || ev.Data.Object == nil {
		return out, nil
	}
	obj := ev.Data.Object
	switch obj["object"] {
	case "invoice":
		out.CustomerID = idOf(obj["customer"])
		out.SubscriptionID = idOf(obj["subscription"])
		if out.SubscriptionID == "" {
			out.SubscriptionID = idOf(dig(obj, "parent", "subscription_details", "subscription"))
		}
	case "subscription":
		out.SubscriptionID = idOf(obj["id"])
		out.CustomerID = idOf(obj["customer"])
	case "customer":
		out.CustomerID = idOf(obj["id"])
	default:
		out.CustomerID = idOf(obj["customer"])
		out.SubscriptionID = idOf(obj["subscription"])
	}
	return out, nil
}

// signedAt reads the t= timestamp of a Stripe-Signature header.
func signedAt(header string) (time.Time, bool) {
	for part := range strings.SplitSeq(header, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "t="); ok {
			sec, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			return time.Unix(sec, 0), true
		}
	}
	return time.Time{}, false
}

// SignedTestPayload returns a valid Stripe-Signature header for payload
// signed now with secret, for tests that post webhooks.
func SignedTestPayload(payload []byte, secret string) (header string) {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret}).Header
}

// idOf returns v if it is an id, or the id of v if it is an expanded object.
func idOf(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		id, _ := v["id"].(string)
		return id
	}
	return ""
}

// dig returns the value at the path of keys in nested objects, or nil.
func dig(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}
