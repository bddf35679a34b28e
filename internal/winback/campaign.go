// Package winback runs win-back campaigns: sequences of mails to tenants
// that canceled, each with a signed reactivation link and a retention
// offer. This file defines campaigns and validates them; everything a
// campaign says is checked when it is created, long before a mail is sent.
package winback

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/winbackcampaign"
	"github.com/tenantd/tenantd/internal/billing"
	"github.com/tenantd/tenantd/internal/lifecycle"
	"github.com/tenantd/tenantd/internal/mail"
	"github.com/tenantd/tenantd/internal/plans"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/subscription"
)

// Limits of a campaign.
const (
	MaxSteps              = 10
	MaxCanceledWithinDays = 365
	MaxForHours           = 720
	maxName               = 100
	maxSubject            = 200
	maxBody               = 5000
)

// Placeholders are the names a template may use, as {{name}}.
// reactivateUrl and offer are for win-back campaigns only.
var Placeholders = []string{"tenantName", "planName", "offer", "reactivateUrl", "unsubscribeUrl", "consoleUrl"}

// placeholder matches {{ name }}; openBrace finds what is left of a
// malformed one.
var (
	placeholder = regexp.MustCompile(`\{\{\s*([A-Za-z][A-Za-z0-9]*)\s*\}\}`)
	openBrace   = regexp.MustCompile(`\{\{|\}\}`)
)

// Service keeps win-back campaigns and sends their mails.
type Service struct {
	db            *store.DB
	clock         tenantd.Clock
	jobs          mail.JobInserter
	subscriptions *subscription.Service
	publicURL     func() string
	log           *slog.Logger
}

// Config wires a Service.
type Config struct {
	DB    *store.DB
	Clock tenantd.Clock
	// Jobs inserts the mails' delivery jobs.
	Jobs mail.JobInserter
	// Subscriptions reactivates tenants through a mail's link.
	Subscriptions *subscription.Service
	// PublicURL returns where users reach tenantd: the links in mails
	// start with it.
	PublicURL func() string
	Logger    *slog.Logger
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PublicURL == nil {
		cfg.PublicURL = func() string { return "http://localhost:8080" }
	}
	return &Service{db: cfg.DB, clock: tenantd.ClockOr(cfg.Clock), jobs: cfg.Jobs, subscriptions: cfg.Subscriptions,
		publicURL: cfg.PublicURL, log: cfg.Logger}
}

// Offer is a campaign's retention coupon.
type Offer struct {
	PercentOff     int
	DurationMonths int
}

// NewCampaign is a campaign to create.
type NewCampaign struct {
	Name    string
	Segment tenantd.WinBackSegment
	Offer   *Offer
	Steps   []tenantd.WinBackStep
	Actor   lifecycle.Actor
}

// Validate checks a campaign before anything is written: a name; a segment
// that says how recent a cancellation must be (1 to 365 days), with known
// plans and feedback values; an offer of 1–100 % for 1–36 months; 1 to 10
// steps in increasing afterDays within the segment's window; subjects and
// bodies whose placeholders are all known.
//
// Returns INVALID_INPUT naming the field, e.g. steps[1].afterDays.
func (s *Service) Validate(ctx context.Context, c NewCampaign) error {
	name := strings.TrimSpace(c.Name)
	if name == "" {
		return tenantd.Invalid("name", "name must not be empty")
	}
	if err := tenantd.CheckLine("name", name, maxName); err != nil {
		return err
	}
	seg := c.Segment
	if seg.CanceledWithinDays == 0 && len(seg.Plans) == 0 && len(seg.Feedback) == 0 && seg.StuckAt == "" {
		return tenantd.Invalid("segment", "the segment is empty: say canceledWithinDays (how recent a cancellation must be) "+
			"or, for an activation nudge, stuckAt and forHours")
	}
	maxAfter := seg.CanceledWithinDays
	if seg.Nudge() {
		if seg.StuckAt != "provisioned" && seg.StuckAt != "first_upload" {
			return tenantd.Invalid("segment.stuckAt", "stuckAt must be PROVISIONED or FIRST_UPLOAD, not %q", seg.StuckAt)
		}
		if seg.ForHours < 1 || seg.ForHours > MaxForHours {
			return tenantd.Invalid("segment.forHours", "forHours must be 1 to %d, not %d", MaxForHours, seg.ForHours)
		}
		if seg.CanceledWithinDays != 0 || len(seg.Feedback) > 0 {
			return tenantd.Invalid("segment", "a nudge campaign selects tenants stuck in the funnel: it takes no canceledWithinDays or feedback")
		}
		if c.Offer != nil {
			return tenantd.Invalid("offer", "a nudge campaign mails active tenants: it has no reactivation offer")
		}
		maxAfter = NudgeLookbackDays
	} else {
		if seg.ForHours != 0 {
			return tenantd.Invalid("segment.forHours", "forHours belongs to a nudge campaign: say stuckAt too, or leave it out")
		}
		if seg.CanceledWithinDays < 1 || seg.CanceledWithinDays > MaxCanceledWithinDays {
			return tenantd.Invalid("segment.canceledWithinDays", "canceledWithinDays must be 1 to %d, not %d", MaxCanceledWithinDays, seg.CanceledWithinDays)
		}
	}
	for _, key := range seg.Plans {
		if _, err := plans.ByKey(tenantd.SystemContext(ctx), s.db.Ent, key); err != nil {
			return tenantd.Invalid("segment.plans", "unknown plan %q; choose among free, starter, pro, enterprise", key)
		}
	}
	for _, f := range seg.Feedback {
		if f == "" || !billing.CancellationFeedback(f).Valid() {
			return tenantd.Invalid("segment.feedback", "unknown feedback %q", f)
		}
	}
	if c.Offer != nil {
		coupon := billing.RetentionCoupon{PercentOff: c.Offer.PercentOff, DurationMonths: c.Offer.DurationMonths}
		if err := coupon.Validate(); err != nil {
			if te, ok := err.(*tenantd.Error); ok {
				te.Field = "offer." + te.Field
			}
			return err
		}
	}
	if len(c.Steps) == 0 || len(c.Steps) > MaxSteps {
		return tenantd.Invalid("steps", "a campaign has 1 to %d steps, not %d", MaxSteps, len(c.Steps))
	}
	for i, st := range c.Steps {
		field := fmt.Sprintf("steps[%d]", i)
		if st.AfterDays < 0 || st.AfterDays > maxAfter {
			limit := fmt.Sprintf("canceledWithinDays (%d)", maxAfter)
			if seg.Nudge() {
				limit = strconv.Itoa(maxAfter)
			}
			return tenantd.Invalid(field+".afterDays", "afterDays must be 0 to %s, not %d", limit, st.AfterDays)
		}
		if i > 0 && st.AfterDays <= c.Steps[i-1].AfterDays {
			return tenantd.Invalid(field+".afterDays", "steps must come in increasing afterDays: %d does not follow %d", st.AfterDays, c.Steps[i-1].AfterDays)
		}
		if strings.TrimSpace(st.Subject) == "" {
			return tenantd.Invalid(field+".subject", "the subject must not be empty")
		}
		if err := tenantd.CheckLine(field+".subject", st.Subject, maxSubject); err != nil {
			return err
		}
		if strings.TrimSpace(st.Body) == "" {
			return tenantd.Invalid(field+".body", "the body must not be empty")
		}
		if n := len([]rune(st.Body)); n > maxBody {
			return tenantd.Invalid(field+".body", "the body is %d characters long; the limit is %d", n, maxBody)
		}
		for _, part := range []struct{ name, text string }{{"subject", st.Subject}, {"body", st.Body}} {
			if err := checkTemplate(field+"."+part.name, part.text); err != nil {
				return err
			}
			if seg.Nudge() && usesWinBackOnly(part.text) {
				return tenantd.Invalid(field+"."+part.name, "{{reactivateUrl}} and {{offer}} belong to win-back campaigns; "+
					"a nudge mails active tenants (use {{consoleUrl}})")
			}
		}
	}
	return nil
}

// checkTemplate refuses unknown placeholders and stray braces.
func checkTemplate(field, text string) error {
	for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
		if !known(m[1]) {
			return tenantd.Invalid(field, "unknown placeholder {{%s}}; the known ones are {{%s}}", m[1], strings.Join(Placeholders, "}}, {{"))
		}
	}
	if openBrace.MatchString(placeholder.ReplaceAllString(text, "")) {
		return tenantd.Invalid(field, "a placeholder is malformed: write {{name}} with one of %s", strings.Join(Placeholders, ", "))
	}
	return nil
}

// usesWinBackOnly reports whether a template uses a placeholder only a
// win-back campaign has.
func usesWinBackOnly(text string) bool {
	for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
		if m[1] == "reactivateUrl" || m[1] == "offer" {
			return true
		}
	}
	return false
}

func known(name string) bool {
	for _, p := range Placeholders {
		if p == name {
			return true
		}
	}
	return false
}

// base is the public URL without a trailing slash.
func (s *Service) base() string { return strings.TrimSuffix(s.publicURL(), "/") }

// Create validates and stores a campaign; it starts ACTIVE.
//
// Returns INVALID_INPUT naming the field.
func (s *Service) Create(ctx context.Context, c NewCampaign) (*ent.WinBackCampaign, error) {
	if err := s.Validate(ctx, c); err != nil {
		return nil, err
	}
	steps := make([]tenantd.WinBackStep, len(c.Steps))
	copy(steps, c.Steps)
	now := tenantd.Now(s.clock) // the watermarks start here: on the injected clock
	create := s.db.Ent.WinBackCampaign.Create().SetName(strings.TrimSpace(c.Name)).SetSegment(c.Segment).SetCreatedAt(now).SetUpdatedAt(now).
		SetSteps(steps).SetCreatedBy(c.Actor.Name)
	if c.Offer != nil {
		create.SetOfferPercentOff(c.Offer.PercentOff).SetOfferDurationMonths(c.Offer.DurationMonths)
	}
	camp, err := create.Save(tenantd.SystemContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("create win-back campaign: %w", err)
	}
	s.log.Info("win-back campaign created", "campaign", camp.ID, "name", camp.Name, "steps", len(steps), "by", c.Actor.Name)
	return camp, nil
}

// Pause stops a campaign: no more of its mails are sent. Pausing a paused
// campaign changes nothing.
//
// Returns NOT_FOUND.
func (s *Service) Pause(ctx context.Context, id uuid.UUID, actor lifecycle.Actor) (*ent.WinBackCampaign, error) {
	sys := tenantd.SystemContext(ctx)
	camp, err := s.db.Ent.WinBackCampaign.Get(sys, id)
	if ent.IsNotFound(err) {
		return nil, tenantd.Errorf(tenantd.ENOTFOUND, "no win-back campaign with id %s", id)
	}
	if err != nil {
		return nil, err
	}
	if camp.Status == winbackcampaign.StatusPAUSED {
		return camp, nil
	}
	camp, err = s.db.Ent.WinBackCampaign.UpdateOne(camp).SetStatus(winbackcampaign.StatusPAUSED).SetPausedAt(tenantd.Now(s.clock)).Save(sys)
	if err != nil {
		return nil, fmt.Errorf("pause win-back campaign: %w", err)
	}
	s.log.Info("win-back campaign paused", "campaign", id, "by", actor.Name)
	return camp, nil
}
