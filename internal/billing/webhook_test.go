package billing_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v84/webhook"

	"github.com/tenantd/tenantd/internal/billing"
)

const whsec = "whsec_test_secret"

func event(id, typ, object string) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"object":"event","api_version":"2024-06-20","created":%d,"type":%q,"livemode":false,"pending_webhooks":1,"data":{"object":%s}}`,
		id, time.Now().Unix(), typ, object))
}

func TestParseWebhook(t *testing.T) {
	cases := []struct {
		name    string
		payload []byte
		want    billing.WebhookEvent
	}{
		{
			name: "invoice, current API (parent.subscription_details)",
			payload: event("evt_1", "invoice.payment_failed",
				`{"id":"in_1","object":"invoice","customer":"cus_A","parent":{"type":"subscription_details","subscription_details":{"subscription":"sub_A"}}}`),
			want: billing.WebhookEvent{ID: "evt_1", Type: "invoice.payment_failed", CustomerID: "cus_A", SubscriptionID: "sub_A"},
		},
		{
			name:    "invoice, legacy API (top-level subscription)",
			payload: event("evt_2", "invoice.paid", `{"id":"in_2","object":"invoice","customer":"cus_B","subscription":"sub_B"}`),
			want:    billing.WebhookEvent{ID: "evt_2", Type: "invoice.paid", CustomerID: "cus_B", SubscriptionID: "sub_B"},
		},
		{
			name: "subscription deleted, expanded customer",
			payload: event("evt_3", "customer.subscription.deleted",
				`{"id":"sub_C","object":"subscription","customer":{"id":"cus_C","object":"customer"},"status":"canceled"}`),
			want: billing.WebhookEvent{ID: "evt_3", Type: "customer.subscription.deleted", CustomerID: "cus_C", SubscriptionID: "sub_C"},
		},
		{
			name:    "customer",
			payload: event("evt_4", "customer.updated", `{"id":"cus_D","object":"customer"}`),
			want:    billing.WebhookEvent{ID: "evt_4", Type: "customer.updated", CustomerID: "cus_D"},
		},
		{
			name:    "other object",
			payload: event("evt_5", "payment_intent.succeeded", `{"id":"pi_1","object":"payment_intent","customer":"cus_E"}`),
			want:    billing.WebhookEvent{ID: "evt_5", Type: "payment_intent.succeeded", CustomerID: "cus_E"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, err := billing.ParseWebhook(c.payload, billing.SignedTestPayload(c.payload, whsec), whsec)
			require.NoError(t, err)
			require.Equal(t, c.want, *ev)
		})
	}
}

func TestParseWebhookBadSignature(t *testing.T) {
	payload := event("evt_1", "invoice.paid", `{"id":"in_1","object":"invoice","customer":"cus_A","subscription":"sub_A"}`)
	good := billing.SignedTestPayload(payload, whsec)

	bad := map[string]struct {
		payload        []byte
		header, secret string
	}{
		"other secret":     {payload, billing.SignedTestPayload(payload, "whsec_other"), whsec},
		"tampered payload": {append([]byte(nil), []byte(string(payload)+" ")...), good, whsec},
		"no header":        {payload, "", whsec},
		"garbage header":   {payload, "nonsense", whsec},
		"no secret":        {payload, billing.SignedTestPayload(payload, ""), ""},
		// Signed an hour ago: outside the five-minute tolerance (replay).
		"too old": {payload, webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{
			Payload: payload, Secret: whsec, Timestamp: time.Now().Add(-time.Hour)}).Header, whsec},
		// Signed a day ahead: outside the tolerance the other way.
		"in the future": {payload, webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{
			Payload: payload, Secret: whsec, Timestamp: time.Now().Add(24 * time.Hour)}).Header, whsec},
	}
	for name, c := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := billing.ParseWebhook(c.payload, c.header, c.secret)
			require.ErrorIs(t, err, billing.ErrBadSignature)
		})
	}

	t.Run("valid signature, not an event", func(t *testing.T) {
		p := []byte(`{"id":"x","object":"invoice"}`)
		_, err := billing.ParseWebhook(p, billing.SignedTestPayload(p, whsec), whsec)
		require.Error(t, err)
		require.NotErrorIs(t, err, billing.ErrBadSignature)
	})
}
