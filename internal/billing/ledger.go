package billing

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/billingcall"
)

// call describes one billing call for the BillingCall ledger.
type call struct {
	provider string
	key      string
	kind     billingcall.Call
	// params are the call's parameters without personal data; their
	// canonical JSON is hashed, so that a key reused with other parameters
	// is refused instead of answered with another call's result.
	params any
	// comment is the personal free text of the call, kept erasable.
	comment string
}

// effect is what a call did, for its ledger row.
type effect struct {
	customerID, subscriptionID string
}

// hash returns the hex SHA-256 of the call's kind and parameters.
func (c call) hash() (string, error) {
	b, err := json.Marshal(c.params)
	if err != nil {
		return "", fmt.Errorf("billing: encode %s parameters: %w", c.kind, err)
	}
	sum := sha256.Sum256(append([]byte(string(c.kind)+"\x00"), b...))
	return hex.EncodeToString(sum[:]), nil
}

// once makes the call c through do unless the ledger holds its key: then it
// returns the stored answer of the first call and true. do's answer is
// recorded under the key; an error records nothing. Two concurrent calls
// with one key may both run do (the Stripe provider's idempotency key makes
// that one effect at Stripe); the unique index keeps one row, and the loser
// returns the winner's answer.
func once[T any](ctx context.Context, client *ent.Client, now time.Time, c call, do func(ctx context.Context) (*T, effect, error)) (*T, bool, error) {
	hash, err := c.hash()
	if err != nil {
		return nil, false, err
	}
	row, err := lookupCall(ctx, client, c, hash)
	if err != nil {
		return nil, false, err
	}
	if row != nil {
		return decodeResult[T](row)
	}
	res, eff, err := do(ctx)
	if err != nil {
		return nil, false, err
	}
	raw, err := json.Marshal(res)
	if err != nil {
		return nil, false, fmt.Errorf("billing: encode %s result: %w", c.kind, err)
	}
	create := client.BillingCall.Create().
		SetProvider(c.provider).
		SetIdempotencyKey(c.key).
		SetCall(c.kind).
		SetCustomerID(eff.customerID).
		SetSubscriptionID(eff.subscriptionID).
		SetRequestHash(hash).
		SetResult(raw).
		SetCreatedAt(now).
		SetUpdatedAt(now)
	if c.comment != "" {
		create.SetComment(c.comment)
	}
	err = create.OnConflictColumns(billingcall.FieldIdempotencyKey).DoNothing().Exec(tenantd.SystemContext(ctx))
	switch {
	case err == nil:
		return res, false, nil
	case errors.Is(err, sql.ErrNoRows): // the key was taken meanwhile
	default:
		return nil, false, fmt.Errorf("billing: record %s call: %w", c.kind, err)
	}
	row, err = lookupCall(ctx, client, c, hash)
	if err == nil && row == nil {
		err = fmt.Errorf("billing: %s call %q conflicted but is not there", c.kind, c.key)
	}
	if err != nil {
		return nil, false, err
	}
	return decodeResult[T](row)
}

// lookupCall returns the ledger row of c's key, nil if there is none, or
// an error wrapping ErrKeyReused if the row is of another call.
func lookupCall(ctx context.Context, client *ent.Client, c call, hash string) (*ent.BillingCall, error) {
	row, err := client.BillingCall.Query().Where(billingcall.IdempotencyKey(c.key)).Only(tenantd.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("billing: read %s call: %w", c.kind, err)
	}
	if row.Call != c.kind || row.RequestHash != hash || row.Provider != c.provider {
		return nil, fmt.Errorf("%w: key %q was used for a %s call of provider %s", ErrKeyReused, c.key, row.Call, row.Provider)
	}
	return row, nil
}

// decodeResult returns a ledger row's stored answer.
func decodeResult[T any](row *ent.BillingCall) (*T, bool, error) {
	res := new(T)
	if err := json.Unmarshal(row.Result, res); err != nil {
		return nil, false, fmt.Errorf("billing: decode %s call %s: %w", row.Call, row.ID, err)
	}
	return res, true, nil
}

// redactCustomer erases the personal data of the customer's ledger rows
// and returns how many rows it redacted (rows redacted before, and the
// deletions themselves, which hold none, are left alone).
func redactCustomer(ctx context.Context, client *ent.Client, customerID string, now time.Time) (int, error) {
	n, err := client.BillingCall.Update().
		Where(billingcall.CustomerID(customerID), billingcall.RedactedAtIsNil(),
			billingcall.CallNEQ(billingcall.CallDeleteCustomer)).
		ClearComment().
		SetRedactedAt(now).
		SetUpdatedAt(now).
		Save(tenantd.SystemContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("billing: redact customer %s: %w", customerID, err)
	}
	return n, nil
}

// replayedState marks a state answered from the ledger.
func replayedState(s *SubscriptionState, replayed bool, err error) (*SubscriptionState, error) {
	if err != nil {
		return nil, err
	}
	s.Replayed = replayed
	return s, nil
}
