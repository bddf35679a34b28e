// Package idempotency gives effectful mutations Stripe's idempotency-key
// semantics: the same key with the same input returns the stored answer
// (errors included); the same key with other input is IDEMPOTENCY_MISMATCH;
// a duplicate arriving while the first is still running is CONFLICT. Keys
// live 24 hours.
//
// Only a hash of the client's key is stored, and the stored answer is sealed
// (AES-GCM) with a key derived from the client's key: the database alone
// cannot replay an answer — which may hold a freshly issued API key.
package idempotency

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/idempotencykey"
	"github.com/tenantd/tenantd/internal/store"
)

// Defaults.
const (
	// TTL is how long a key is remembered.
	TTL = 24 * time.Hour
	// Lock is how long a running request holds its key; after that a retry
	// may take over a request that died.
	Lock = 15 * time.Second
	// MinKeyLength keeps keys unguessable: they guard stored answers.
	MinKeyLength = 8
	// MaxKeyLength bounds the key.
	MaxKeyLength = 255
)

// Store remembers idempotency keys.
type Store struct {
	db    *store.DB
	ttl   time.Duration
	lock  time.Duration
	clock tenantd.Clock
}

// New returns a Store over db.
func New(db *store.DB) *Store {
	return &Store{db: db, ttl: TTL, lock: Lock, clock: tenantd.RealClock()}
}

// WithClock returns the store reading its expiry rules from c.
func (s *Store) WithClock(c tenantd.Clock) *Store {
	cp := *s
	cp.clock = tenantd.ClockOr(c)
	return &cp
}

// Request identifies one idempotent call.
type Request struct {
	// Scope is the mutation and the caller, e.g. "signUp" or
	// "suspendTenant:<token id>": keys of different callers never meet.
	Scope string
	// Key is the client's key; empty means the call is not idempotent.
	Key string
	// Input is the call's input; its canonical JSON is compared on reuse.
	Input any
}

// Claim is a running call's hold on its key.
type Claim struct {
	s        *Store
	row      *ent.IdempotencyKey
	sealKey  []byte
	complete bool
}

// storedAnswer is what a completed key keeps.
type storedAnswer struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  *storedError    `json:"error,omitempty"`
}

type storedError struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Field   string         `json:"field,omitempty"`
	Extra   map[string]any `json:"extra,omitempty"`
}

// Do runs fn once per key. fn may call claim.CompleteTx inside its own
// transaction to store the answer atomically with its writes — then a crash
// after commit cannot make a retry run fn again. Otherwise Do stores the
// answer after fn returns. INTERNAL errors are not stored: the key is
// released so the client may retry. With an empty key, Do just calls fn.
//
// Returns INVALID_INPUT for a malformed key, IDEMPOTENCY_MISMATCH when the
// key was used with other input, CONFLICT when the key's first call is still
// running, or the stored answer of an earlier call.
func Do[T any](ctx context.Context, s *Store, req Request, fn func(ctx context.Context, claim *Claim) (T, error)) (T, error) {
	var zero T
	if req.Key == "" {
		return fn(ctx, nil)
	}
	claim, stored, err := s.claim(ctx, req)
	if err != nil {
		return zero, err
	}
	if stored != nil {
		return replay[T](stored)
	}
	res, err := fn(ctx, claim)
	if err == nil && claim.complete {
		return res, nil // stored in fn's own transaction, which committed
	}
	if tenantd.ErrorCode(err) == tenantd.EINTERNAL {
		claim.release(ctx)
		return res, err
	}
	if cerr := claim.finish(ctx, nil, res, err); cerr != nil {
		return zero, cerr
	}
	return res, err
}

// CompleteTx stores result as the key's answer inside tx, the transaction of
// the call's own writes. Returns CONFLICT if the claim was lost to a retry
// that took over (the transaction must then roll back).
func (c *Claim) CompleteTx(ctx context.Context, tx *store.Tx, result any) error {
	if c == nil {
		return nil
	}
	if err := c.finish(ctx, tx, result, nil); err != nil {
		return err
	}
	c.complete = true
	return nil
}

// claim takes the key, or returns the answer stored under it.
func (s *Store) claim(ctx context.Context, req Request) (*Claim, *storedAnswer, error) {
	if !utf8.ValidString(req.Key) || len(req.Key) < MinKeyLength || len(req.Key) > MaxKeyLength {
		return nil, nil, tenantd.Invalid("idempotencyKey", "idempotencyKey must be %d to %d characters; a UUID is a good choice", MinKeyLength, MaxKeyLength)
	}
	input, err := json.Marshal(req.Input)
	if err != nil {
		return nil, nil, fmt.Errorf("idempotency: encode input: %w", err)
	}
	sum := sha256.Sum256(input)
	reqHash := hex.EncodeToString(sum[:])
	keyHash := hashOf("key", req.Scope, req.Key)
	sealKey := sealKeyOf(req.Scope, req.Key)
	sys := tenantd.SystemContext(ctx)

	for attempt := 0; attempt < 3; attempt++ {
		now := tenantd.Now(s.clock)
		owner := randomToken()
		err := s.db.Ent.IdempotencyKey.Create().
			SetKeyHash(keyHash).SetScope(req.Scope).SetRequestHash(reqHash).
			SetOwner(owner).SetLockedUntil(now.Add(s.lock)).SetExpiresAt(now.Add(s.ttl)).
			OnConflictColumns(idempotencykey.FieldKeyHash).DoNothing().
			Exec(sys)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, nil, fmt.Errorf("idempotency: claim key: %w", err)
		}
		row, err := s.db.Ent.IdempotencyKey.Query().Where(idempotencykey.KeyHash(keyHash)).Only(sys)
		if ent.IsNotFound(err) {
			continue // expired and deleted meanwhile
		}
		if err != nil {
			return nil, nil, fmt.Errorf("idempotency: read key: %w", err)
		}
		switch {
		case row.Owner == owner:
			return &Claim{s: s, row: row, sealKey: sealKey}, nil, nil
		case !row.ExpiresAt.After(now):
			// Expired: forget it and claim afresh.
			_, _ = s.db.Ent.IdempotencyKey.Delete().Where(idempotencykey.ID(row.ID), idempotencykey.Owner(row.Owner)).Exec(sys)
			continue
		case row.RequestHash != reqHash:
			return nil, nil, tenantd.Errorf(tenantd.EIDEMPOTENCYMISMATCH,
				"the idempotencyKey was already used with different input; use a new key for a new request")
		case row.Status == idempotencykey.StatusCOMPLETED:
			ans, err := open(sealKey, row.Response)
			if err != nil {
				return nil, nil, err
			}
			return nil, ans, nil
		case row.LockedUntil.After(now):
			return nil, nil, tenantd.Errorf(tenantd.ECONFLICT,
				"a request with this idempotencyKey is still in progress; retry in a few seconds")
		default:
			// The first request died: take its key over, if nobody else did.
			n, err := s.db.Ent.IdempotencyKey.Update().
				Where(idempotencykey.ID(row.ID), idempotencykey.Owner(row.Owner), idempotencykey.StatusEQ(idempotencykey.StatusIN_PROGRESS)).
				SetOwner(owner).SetLockedUntil(now.Add(s.lock)).
				Save(sys)
			if err != nil {
				return nil, nil, fmt.Errorf("idempotency: take over key: %w", err)
			}
			if n == 1 {
				row.Owner = owner
				return &Claim{s: s, row: row, sealKey: sealKey}, nil, nil
			}
		}
	}
	return nil, nil, tenantd.Errorf(tenantd.ECONFLICT, "a request with this idempotencyKey is still in progress; retry in a few seconds")
}

// finish stores the answer, in tx if given. Only the claim's owner can.
func (c *Claim) finish(ctx context.Context, tx *store.Tx, result any, callErr error) error {
	var ans storedAnswer
	if callErr != nil {
		e := tenantd.AsError(callErr)
		ans.Error = &storedError{Code: e.Code, Message: e.Message, Field: e.Field, Extra: e.Extra}
	} else {
		b, err := json.Marshal(result)
		if err != nil {
			return fmt.Errorf("idempotency: encode answer: %w", err)
		}
		ans.Result = b
	}
	sealed, err := seal(c.sealKey, ans)
	if err != nil {
		return err
	}
	client := c.s.db.Ent
	if tx != nil {
		client = tx.Ent
	}
	n, err := client.IdempotencyKey.Update().
		Where(idempotencykey.ID(c.row.ID), idempotencykey.Owner(c.row.Owner)).
		SetStatus(idempotencykey.StatusCOMPLETED).SetResponse(sealed).
		Save(tenantd.SystemContext(ctx))
	if err != nil {
		return fmt.Errorf("idempotency: store answer: %w", err)
	}
	if n == 0 {
		return tenantd.Errorf(tenantd.ECONFLICT, "another request with this idempotencyKey took over; retry to get its answer")
	}
	return nil
}

// release forgets the key so the client may retry.
func (c *Claim) release(ctx context.Context) {
	_, _ = c.s.db.Ent.IdempotencyKey.Delete().
		Where(idempotencykey.ID(c.row.ID), idempotencykey.Owner(c.row.Owner)).
		Exec(tenantd.SystemContext(ctx))
}

func replay[T any](ans *storedAnswer) (T, error) {
	var out T
	if ans.Error != nil {
		return out, &tenantd.Error{Code: ans.Error.Code, Message: ans.Error.Message, Field: ans.Error.Field, Extra: ans.Error.Extra}
	}
	if err := json.Unmarshal(ans.Result, &out); err != nil {
		return out, fmt.Errorf("idempotency: decode stored answer: %w", err)
	}
	return out, nil
}

// Sweep deletes expired keys and returns how many.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	return s.db.Ent.IdempotencyKey.Delete().
		Where(idempotencykey.ExpiresAtLT(tenantd.Now(s.clock))).
		Exec(tenantd.SystemContext(ctx))
}

func hashOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sealKeyOf(scope, key string) []byte {
	h := sha256.New()
	for _, p := range []string{"tenantd idempotency seal", scope, key} {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

func seal(key []byte, ans storedAnswer) ([]byte, error) {
	plain, err := json.Marshal(ans)
	if err != nil {
		return nil, fmt.Errorf("idempotency: encode answer: %w", err)
	}
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plain, nil), nil
}

func open(key, sealed []byte) (*storedAnswer, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("idempotency: stored answer is truncated")
	}
	plain, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], nil)
	if err != nil {
		return nil, fmt.Errorf("idempotency: open stored answer: %w", err)
	}
	var ans storedAnswer
	if err := json.Unmarshal(plain, &ans); err != nil {
		return nil, fmt.Errorf("idempotency: decode stored answer: %w", err)
	}
	return &ans, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
