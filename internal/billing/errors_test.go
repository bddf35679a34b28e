package billing

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v84"

	"github.com/tenantd/tenantd"
)

// stripe-mock never declines and never rejects a well-formed payment method
// id, so the mapping of Stripe's errors is tested on constructed values,
// shaped like the errors Stripe returns for its test cards.
func TestMapStripeError(t *testing.T) {
	cases := []struct {
		name        string
		err         error
		code, field string
		message     string
	}{
		{
			name: "card declined",
			err: &stripe.Error{Type: stripe.ErrorTypeCard, Code: stripe.ErrorCodeCardDeclined,
				DeclineCode: stripe.DeclineCodeGenericDecline, HTTPStatusCode: 402, Msg: "Your card was declined."},
			code: tenantd.EPAYMENTDECLINED, field: "paymentMethod", message: "Your card was declined.",
		},
		{
			name: "insufficient funds",
			err: &stripe.Error{Type: stripe.ErrorTypeCard, Code: stripe.ErrorCodeCardDeclined,
				DeclineCode: stripe.DeclineCodeInsufficientFunds, HTTPStatusCode: 402, Msg: "Your card has insufficient funds."},
			code: tenantd.EPAYMENTDECLINED, field: "paymentMethod", message: "Your card has insufficient funds.",
		},
		{
			name: "card error without a message",
			err:  &stripe.Error{Type: stripe.ErrorTypeCard, Code: stripe.ErrorCodeExpiredCard, HTTPStatusCode: 402},
			code: tenantd.EPAYMENTDECLINED, field: "paymentMethod", message: "the card was declined",
		},
		{
			name: "wrapped card error",
			err:  fmt.Errorf("call: %w", &stripe.Error{Type: stripe.ErrorTypeCard, Msg: "Your card's security code is incorrect."}),
			code: tenantd.EPAYMENTDECLINED, field: "paymentMethod", message: "Your card's security code is incorrect.",
		},
		{
			name: "no such payment method",
			err: &stripe.Error{Type: stripe.ErrorTypeInvalidRequest, Code: stripe.ErrorCodeResourceMissing,
				Param: "payment_method", HTTPStatusCode: 400, Msg: "No such PaymentMethod: 'pm_nope'"},
			code: tenantd.EINVALID, field: "paymentMethod", message: "No such PaymentMethod: 'pm_nope'",
		},
		{
			name: "invalid default payment method",
			err: &stripe.Error{Type: stripe.ErrorTypeInvalidRequest, Param: "invoice_settings[default_payment_method]",
				HTTPStatusCode: 400, Msg: "The payment method you provided is not attached to this customer."},
			code: tenantd.EINVALID, field: "paymentMethod", message: "The payment method you provided is not attached to this customer.",
		},
		{
			name: "other invalid request",
			err: &stripe.Error{Type: stripe.ErrorTypeInvalidRequest, Code: stripe.ErrorCodeResourceMissing,
				Param: "items[0][price]", HTTPStatusCode: 400, Msg: "No such price: 'price_gold'"},
			code: tenantd.EINTERNAL,
		},
		{
			name: "authentication",
			err:  &stripe.Error{Type: stripe.ErrorTypeInvalidRequest, HTTPStatusCode: 401, Msg: "Invalid API Key provided: sk_test_***"},
			code: tenantd.EINTERNAL,
		},
		{
			name: "idempotency key reused with other parameters",
			err:  &stripe.Error{Type: stripe.ErrorTypeIdempotency, HTTPStatusCode: 400, Msg: "Keys for idempotent requests can only be used with the same parameters they were first used with."},
			code: tenantd.EINTERNAL,
		},
		{
			name: "api error",
			err:  &stripe.Error{Type: stripe.ErrorTypeAPI, HTTPStatusCode: 500},
			code: tenantd.EINTERNAL,
		},
		{
			name: "network",
			err:  errors.New("dial tcp 127.0.0.1:1: connect: connection refused"),
			code: tenantd.EINTERNAL,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := mapStripeError("create subscription", c.err)
			require.Error(t, got)
			require.Equal(t, c.code, tenantd.ErrorCode(got), "%v", got)
			if c.code == tenantd.EINTERNAL {
				require.ErrorIs(t, got, c.err, "internal errors keep the cause")
				require.Contains(t, got.Error(), "create subscription")
				return
			}
			e := tenantd.AsError(got)
			require.Equal(t, c.field, e.Field)
			require.Equal(t, c.message, e.Message)
		})
	}
}

func TestStripeIdempotencyKey(t *testing.T) {
	require.Equal(t, "signup-1:customer", stripeIdempotencyKey("signup-1", ":customer"))
	long := strings.Repeat("k", 250)
	got := stripeIdempotencyKey(long, ":subscription")
	require.LessOrEqual(t, len(got), maxStripeIdempotencyKey)
	require.True(t, strings.HasSuffix(got, ":subscription"))
	require.Equal(t, got, stripeIdempotencyKey(long, ":subscription"))
	require.NotEqual(t, got, stripeIdempotencyKey(long+"x", ":subscription"))
}
