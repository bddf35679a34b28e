// Package provisioning takes a customer from signup to an ACTIVE tenant: the
// public signUp (validate, charge, create tenant + operation + job in one
// transaction) and the River worker that provisions the workspace step by
// step — idempotent per step, checkpointed on the operation, resumable after
// any crash or retry.
package provisioning

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/tenant"
	"github.com/tenantd/tenantd/internal/analytics"
	"github.com/tenantd/tenantd/internal/auth"
	"github.com/tenantd/tenantd/internal/billing"
	"github.com/tenantd/tenantd/internal/events"
	"github.com/tenantd/tenantd/internal/idempotency"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/operation"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/workspace"
)

// The provisioning steps, in order.
const (
	StepCreateWorkspace  = "create_workspace"
	StepIssueKeys        = "issue_keys"
	StepSendConfirmation = "send_confirmation"
	StepActivate         = "activate"
)

// Steps are the steps of a PROVISION operation.
var Steps = []string{StepCreateWorkspace, StepIssueKeys, StepSendConfirmation, StepActivate}

// Service signs tenants up and provisions them.
type Service struct {
	db          *store.DB
	machine     *lifecycle.Machine
	ops         *operation.Engine
	jobs        lifecycle.JobInserter
	billing     billing.Provider
	idem        *idempotency.Store
	workspaces  *workspace.Service
	events      *events.Publisher
	publicURL   func() string
	log         *slog.Logger
	maxAttempts int
	hooks       Hooks
	window      time.Duration
}

// Hooks let tests inject failures at the points that matter for crash and
// retry safety. Production code leaves them nil.
type Hooks struct {
	// BeforeCommit runs at the end of the signup transaction, after the
	// tenant, operation and job are written; an error rolls it all back.
	BeforeCommit func() error
	// BeforeStep runs before each provisioning step and may fail it (the
	// operation engine's hook, filtered to PROVISION: see OperationHooks).
	BeforeStep func(step string, attempt int) error
}

// OperationHooks turns h into the operation engine's hooks.
func (h Hooks) OperationHooks() operation.Hooks {
	if h.BeforeStep == nil {
		return operation.Hooks{}
	}
	return operation.Hooks{BeforeStep: func(kind tenantd.OperationKind, step string, attempt int) error {
		if kind != tenantd.OpProvision {
			return nil
		}
		return h.BeforeStep(step, attempt)
	}}
}

// Config wires a Service.
type Config struct {
	DB        *store.DB
	Lifecycle *lifecycle.Machine
	// Operations runs the PROVISION operations: New registers the kind.
	Operations *operation.Engine
	// Jobs inserts the mail jobs of the confirmation.
	Jobs        lifecycle.JobInserter
	Billing     billing.Provider
	Idempotency *idempotency.Store
	Workspaces  *workspace.Service
	Events      *events.Publisher
	// PublicURL returns the base URL for links in emails.
	PublicURL func() string
	Logger    *slog.Logger
	// MaxAttempts is how often a provisioning job runs before the tenant is
	// PROVISIONING_FAILED (default 8: about two minutes of retries).
	MaxAttempts int
	// Hooks are for tests.
	Hooks Hooks
	// ActivationWindow is passed on to the activation funnel (default 7 days).
	ActivationWindow time.Duration
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ActivationWindow == 0 {
		cfg.ActivationWindow = 7 * 24 * time.Hour
	}
	s := &Service{
		db: cfg.DB, machine: cfg.Lifecycle, ops: cfg.Operations, jobs: cfg.Jobs, billing: cfg.Billing, idem: cfg.Idempotency,
		workspaces: cfg.Workspaces, events: cfg.Events, publicURL: cfg.PublicURL, log: cfg.Logger,
		maxAttempts: cfg.MaxAttempts, hooks: cfg.Hooks, window: cfg.ActivationWindow,
	}
	if s.ops != nil {
		s.ops.Add(s.kind())
	}
	return s
}

// SignUpInput is what a customer gives to sign up.
type SignUpInput struct {
	Name           string `json:"name"`
	Slug           string `json:"slug"`
	Email          string `json:"email"`
	Plan           string `json:"plan"`
	PaymentMethod  string `json:"paymentMethod"`
	IdempotencyKey string `json:"-"`
	// Synthetic marks a test tenant (a readiness check's, a load test's):
	// never charged through a live provider, kept out of the figures and
	// lists by default. The API lets only admin tokens set it.
	Synthetic bool `json:"synthetic,omitempty"`
}

// SignUpResult is the answer to a signup; it is what an idempotent replay
// returns, so it holds ids and the API key, not entities.
type SignUpResult struct {
	TenantID    uuid.UUID `json:"tenantId"`
	OperationID uuid.UUID `json:"operationId"`
	APIKeyID    uuid.UUID `json:"apiKeyId"`
	APIKey      string    `json:"apiKey"`
}

var (
	slugPattern   = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$`)
	pmPattern     = regexp.MustCompile(`^pm_[A-Za-z0-9_]{1,200}$`)
	reservedSlugs = map[string]bool{"admin": true, "api": true, "www": true, "graphql": true, "console": true,
		"app": true, "tenantd": true, "status": true, "mail": true, "support": true}
)

const maxName = 100

// Validate checks a signup before anything is charged or written.
//
// Returns INVALID_INPUT naming the field at fault.
func (in *SignUpInput) Validate() error {
	in.Name = strings.TrimSpace(in.Name)
	in.Email = strings.TrimSpace(in.Email)
	if err := tenantd.CheckLine("name", in.Name, maxName); err != nil {
		return err
	}
	if in.Name == "" {
		return tenantd.Invalid("name", "name is required")
	}
	if err := CheckSlug(in.Slug); err != nil {
		return err
	}
	addr, err := mail.ParseAddress(in.Email)
	if err != nil || addr.Address != in.Email || len(in.Email) > 254 || !strings.Contains(in.Email[strings.LastIndexByte(in.Email, '@'):], ".") {
		return tenantd.Invalid("email", "%q is not a valid email address; give a plain address like owner@example.com", clip(in.Email))
	}
	if !pmPattern.MatchString(in.PaymentMethod) {
		return tenantd.Invalid("paymentMethod", "paymentMethod must be a payment method id like pm_card_visa")
	}
	return nil
}

// CheckSlug validates a tenant's slug as signup does (an import checks
// the slug of the tenant it makes with it).
//
// Returns INVALID_INPUT (field "slug").
func CheckSlug(slug string) error {
	switch {
	case !slugPattern.MatchString(slug):
		return tenantd.Invalid("slug", "slug %q is not valid: use 3 to 63 lower-case letters, digits and hyphens, starting and ending with a letter or digit", clip(slug))
	case reservedSlugs[slug]:
		return tenantd.Invalid("slug", "slug %q is reserved; choose another", slug)
	}
	return nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// SignUp creates a paying tenant and starts its provisioning. It validates
// everything (including that the slug is free) before it charges; then, in
// one transaction, it creates the tenant (signup), its owner API key, fires
// provision with the PROVISION operation and its River job, and stores the
// answer under the idempotency key.
//
// Returns INVALID_INPUT (with the field), PAYMENT_DECLINED, CONFLICT or
// IDEMPOTENCY_MISMATCH (idempotency), or the stored answer of an earlier call
// with the same key and input.
func (s *Service) SignUp(ctx context.Context, in SignUpInput) (*SignUpResult, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if in.IdempotencyKey == "" {
		return nil, tenantd.Invalid("idempotencyKey", "idempotencyKey is required for signUp so that a retry never charges twice; send a fresh UUID per signup")
	}
	req := idempotency.Request{Scope: "signUp", Key: in.IdempotencyKey, Input: in}
	return idempotency.Do(ctx, s.idem, req, func(ctx context.Context, claim *idempotency.Claim) (*SignUpResult, error) {
		return s.signUp(ctx, in, claim)
	})
}

func (s *Service) signUp(ctx context.Context, in SignUpInput, claim *idempotency.Claim) (*SignUpResult, error) {
	sys := tenantd.SystemContext(ctx)
	p, err := plans.ByKey(sys, s.db.Ent, in.Plan)
	if err != nil {
		return nil, err
	}
	if taken, err := s.db.Ent.Tenant.Query().Where(tenant.Slug(in.Slug)).Exist(sys); err != nil {
		return nil, fmt.Errorf("check slug: %w", err)
	} else if taken {
		return nil, tenantd.Invalid("slug", "the slug %q is taken; choose another", in.Slug)
	}
	// The provider's idempotency key is derived from ours, so a retry of
	// this signup (after a crash, say) finds the first charge.
	// A synthetic (readiness) signup takes the real path except for the
	// money: it never charges through a live provider.
	provider := billing.For(s.billing, in.Synthetic, s.db.Ent)
	sub, err := provider.Subscribe(ctx, billing.SubscribeRequest{
		IdempotencyKey: "tenantd-signup-" + hashHex(in.IdempotencyKey)[:40],
		Email:          in.Email, Name: in.Name, TenantSlug: in.Slug,
		PlanKey: p.Key, PriceCents: p.PriceCents, PaymentMethod: in.PaymentMethod,
	})
	if err != nil {
		return nil, err
	}
	var res *SignUpResult
	err = s.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		var err error
		res, err = s.createTx(ctx, tx, in, p, sub)
		if err != nil {
			return err
		}
		if err := claim.CompleteTx(ctx, tx, res); err != nil {
			return err
		}
		if s.hooks.BeforeCommit != nil {
			return s.hooks.BeforeCommit()
		}
		return nil
	})
	if err != nil {
		// Nothing was created: give the money back unless this charge
		// belongs to an earlier attempt of the same signup that may still
		// complete.
		if !sub.Replayed && tenantd.ErrorCode(err) != tenantd.ECONFLICT {
			if cerr := provider.CancelSubscription(context.WithoutCancel(ctx), sub.SubscriptionID); cerr != nil {
				s.log.Error("signup failed after the charge and the refund failed too", "subscription", sub.SubscriptionID, "err", cerr)
			}
		}
		var te *tenantd.Error
		if errors.As(err, &te) {
			return nil, err
		}
		return nil, fmt.Errorf("sign up %s: %w", in.Slug, err)
	}
	s.log.Info("tenant signed up", "tenant", res.TenantID, "plan", p.Key, "operation", res.OperationID)
	return res, nil
}

func (s *Service) createTx(ctx context.Context, tx *store.Tx, in SignUpInput, p *ent.Plan, sub *billing.Subscription) (*SignUpResult, error) {
	created, err := s.machine.CreateTx(ctx, tx, lifecycle.NewTenant{
		Name: in.Name, Slug: in.Slug, SlugHash: hashHex(in.Slug), Email: in.Email, PlanID: p.ID,
		Actor:    lifecycle.Actor{By: tenantd.TriggerUser, Name: "public:signup"},
		Metadata: map[string]any{"plan": p.Key, "billing": sub.Provider},
		Customize: func(c *ent.TenantCreate) {
			c.SetBillingCustomerID(sub.CustomerID).SetBillingSubscriptionID(sub.SubscriptionID).SetSynthetic(in.Synthetic)
		},
	})
	if err != nil {
		return nil, err
	}
	id := created.Tenant.ID
	if _, err := analytics.RecordTx(ctx, tx, id, analytics.SignedUp, created.Tenant.CreatedAt, s.window); err != nil {
		return nil, err
	}
	secret, key, err := auth.IssueAPIKey(ctx, tx.Ent, id, "owner", "public:signup")
	if err != nil {
		return nil, err
	}
	// Signup authorized itself (it is public): tenantd fires provision.
	prov, err := s.machine.FireTx(tenantd.SystemContext(ctx), tx, lifecycle.Request{
		TenantID: id, Event: tenantd.EventProvision,
		Actor:  lifecycle.Actor{By: tenantd.TriggerSystem, Name: "signup"},
		Reason: "signup paid",
		Operation: &operation.Spec{
			Kind:   tenantd.OpProvision,
			Params: map[string]any{"plan": p.Key, "isolation": string(p.Isolation)},
		},
	})
	if err != nil {
		return nil, err
	}
	return &SignUpResult{TenantID: id, OperationID: prov.Operation.ID, APIKeyID: key.ID, APIKey: secret}, nil
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
