package winback

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/keyset"
	"github.com/tenantd/tenantd/ent/milestone"
	"github.com/tenantd/tenantd/ent/schema"
	"github.com/tenantd/tenantd/ent/tenant"
	"github.com/tenantd/tenantd/ent/winbackcampaign"
	"github.com/tenantd/tenantd/ent/winbackmessage"
	"github.com/tenantd/tenantd/internal/auth"
	"github.com/tenantd/tenantd/internal/mail"
	"github.com/tenantd/tenantd/internal/store"
)

// How the sweep goes through a step.
//
// Each step of a campaign has a watermark: the (anchor time, id) of the
// last tenant it considered, where the anchor is the tenant's cancellation
// (state_changed_at of a CANCELED tenant, read through the (state,
// state_changed_at) index) or, for a nudge, the milestone it is stuck at
// (read through the milestones' (name, occurred_at) index). A sweep reads,
// per step, only the tenants whose anchor lies between the watermark and
// now minus the step's delay: the tenants that have come due since the
// last sweep. With nothing due each step costs one empty index range, so a
// sweep costs O(due), not O(tenants).
//
// A page of due tenants is handled in one transaction that holds the
// campaign's row lock (PostgreSQL), writes one win_back_messages row and
// one outbox mail per tenant mailed, and moves the watermark past the page.
// Replicas sweeping together queue behind the lock and each continues from
// the watermark the other committed; should two ever reach the same
// tenant, the unique (campaign, step, tenant) row and the outbox's dedupe
// key keep it to one mail.
//
// A step mails the tenants for which it comes due after the campaign was
// created (its watermark starts there): a new campaign does not send its
// early steps late to tenants that canceled long before it.
const (
	sweepPage = 500
	// settle is how long the sweep waits past a step's time before it
	// reads the anchor: a transaction that canceled a tenant (and so set
	// its anchor) a moment earlier has committed by then, so the
	// watermark never passes a tenant that was not yet visible.
	settle = time.Minute
	// lateness is how late past the segment's window a step may still be
	// sent: a step due on the window's last day goes out when a sweep
	// comes within a day of it.
	lateness = 24 * time.Hour
	// NudgeLookbackDays bounds a nudge campaign's steps: a tenant stuck
	// longer than its forHours plus this many days gets no more nudges.
	NudgeLookbackDays = 30
	// LinkTTL is how long a mail's reactivation and unsubscribe links work.
	LinkTTL = 30 * 24 * time.Hour
)

// Sweep sends every due step of every ACTIVE campaign through the mail
// outbox, exactly once per tenant and step, and returns how many mails it
// enqueued. A tenant that came back, unsubscribed, is pending deletion or
// purged (a win-back campaign), or moved on in the funnel (a nudge), gets
// nothing. The server's sweep scheduler calls it.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	sys := tenantd.SystemContext(ctx)
	camps, err := s.db.Ent.WinBackCampaign.Query().Where(winbackcampaign.StatusEQ(winbackcampaign.StatusACTIVE)).
		Select(winbackcampaign.FieldID, winbackcampaign.FieldSteps).All(sys)
	if err != nil {
		return 0, fmt.Errorf("active win-back campaigns: %w", err)
	}
	sent := 0
	for _, c := range camps {
		for step := range c.Steps {
			for {
				n, more, err := s.sweepPage(sys, c.ID, step)
				sent += n
				if err != nil {
					return sent, fmt.Errorf("campaign %s step %d: %w", c.ID, step, err)
				}
				if !more {
					break
				}
			}
		}
	}
	return sent, nil
}

// candidate is a tenant whose anchor has passed a step's time.
type candidate struct {
	at time.Time // the anchor
	id uuid.UUID // the row the watermark orders by: the tenant, or its milestone
	t  *ent.Tenant
}

// sweepPage handles up to one page of tenants due for a step, in one
// transaction; more says another page may be waiting.
func (s *Service) sweepPage(ctx context.Context, campaignID uuid.UUID, step int) (sent int, more bool, err error) {
	err = s.db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		sent, more = 0, false
		q := tx.Ent.WinBackCampaign.Query().Where(winbackcampaign.ID(campaignID))
		if tx.IsPostgres() {
			q = q.ForUpdate() // one sweeper per campaign at a time
		}
		camp, err := q.Only(ctx)
		if err != nil {
			return err
		}
		if camp.Status != winbackcampaign.StatusACTIVE || step >= len(camp.Steps) {
			return nil
		}
		progress := progressOf(camp)
		p := &progress[step]
		now := tenantd.Now(s.clock)
		if floor := now.Add(-window(camp.Segment) - settle - lateness); p.WatermarkAt.Before(floor) {
			// The sweep fell behind the segment's window (no replica
			// swept for a long time): a tenant whose anchor is older is
			// out of the segment now, so the step starts at the window's
			// edge instead of mailing it late.
			p.WatermarkAt, p.WatermarkID = floor, uuid.Nil
		}
		page, err := s.due(ctx, tx.Ent, camp, step, *p, now)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		more = len(page) == sweepPage
		m, err := s.mailer(ctx, tx, camp)
		if err != nil {
			return err
		}
		if err := m.loadKeys(ctx, tx.Ent, page); err != nil {
			return err
		}
		var mailTo []*ent.Tenant
		for _, c := range page {
			p.WatermarkAt, p.WatermarkID = c.at, c.id
			if c.t == nil || !m.inSegment(c.t) {
				continue
			}
			p.Eligible++
			if c.t.MarketingUnsubscribedAt != nil || c.t.Email == nil {
				p.Skipped++
				continue
			}
			mailTo = append(mailTo, c.t)
		}
		if sent, err = m.send(ctx, tx, step, mailTo, now); err != nil {
			return err
		}
		return tx.Ent.WinBackCampaign.UpdateOne(camp).SetProgress(progress).Exec(ctx)
	})
	if err == nil && sent > 0 {
		s.log.Info("win-back step sent", "campaign", campaignID, "step", step, "mails", sent)
	}
	return sent, more, err
}

// progressOf returns the campaign's progress with one entry per step, a
// new step's watermark at the moment the step first comes due after the
// campaign's creation.
func progressOf(c *ent.WinBackCampaign) []tenantd.WinBackProgress {
	out := make([]tenantd.WinBackProgress, len(c.Steps))
	copy(out, c.Progress)
	for i := range out {
		if out[i].WatermarkAt.IsZero() {
			out[i].WatermarkAt = c.CreatedAt.Add(-delay(c.Segment, c.Steps[i]) - settle)
		}
	}
	return out
}

// window is how far back from now a tenant's anchor may lie for it to be
// in the segment: its canceledWithinDays, or for a nudge its forHours plus
// NudgeLookbackDays.
func window(seg tenantd.WinBackSegment) time.Duration {
	if seg.Nudge() {
		return time.Duration(seg.ForHours)*time.Hour + NudgeLookbackDays*24*time.Hour
	}
	return time.Duration(seg.CanceledWithinDays) * 24 * time.Hour
}

// delay is how long after its anchor a step comes due for a tenant.
func delay(seg tenantd.WinBackSegment, st tenantd.WinBackStep) time.Duration {
	d := time.Duration(st.AfterDays) * 24 * time.Hour
	if seg.Nudge() {
		d += time.Duration(seg.ForHours) * time.Hour
	}
	return d
}

// due reads the next page of tenants whose anchor lies past the watermark
// and at least the step's delay (plus settle) before now.
func (s *Service) due(ctx context.Context, client *ent.Client, camp *ent.WinBackCampaign, step int, p tenantd.WinBackProgress, now time.Time) ([]candidate, error) {
	cutoff := now.Add(-delay(camp.Segment, camp.Steps[step]) - settle)
	if !cutoff.After(p.WatermarkAt) {
		return nil, nil
	}
	// The plain lower bound beside the OR is what makes the read one index
	// range from the watermark: without it PostgreSQL's generic plan for
	// the prepared statement (and SQLite) scans every CANCELED tenant
	// before the watermark too.
	if !camp.Segment.Nudge() {
		ts, err := client.Tenant.Query().Where(
			tenant.StateEQ(tenantd.StateCanceled), tenant.StateChangedAtLTE(cutoff),
			tenant.StateChangedAtGTE(p.WatermarkAt),
			tenant.Or(tenant.StateChangedAtGT(p.WatermarkAt),
				tenant.And(tenant.StateChangedAtEQ(p.WatermarkAt), tenant.IDGT(p.WatermarkID))),
		).Order(ent.Asc(tenant.FieldStateChangedAt), ent.Asc(tenant.FieldID)).Limit(sweepPage).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("canceled tenants due: %w", err)
		}
		out := make([]candidate, len(ts))
		for i, t := range ts {
			out[i] = candidate{at: t.StateChangedAt, id: t.ID, t: t}
		}
		return out, nil
	}
	name := milestone.Name(camp.Segment.StuckAt)
	ms, err := client.Milestone.Query().Where(
		milestone.NameEQ(name), milestone.OccurredAtLTE(cutoff), milestone.OccurredAtGTE(p.WatermarkAt),
		milestone.Or(milestone.OccurredAtGT(p.WatermarkAt),
			milestone.And(milestone.OccurredAtEQ(p.WatermarkAt), milestone.IDGT(p.WatermarkID))),
	).Order(ent.Asc(milestone.FieldOccurredAt), ent.Asc(milestone.FieldID)).Limit(sweepPage).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("tenants stuck at %s: %w", name, err)
	}
	if len(ms) == 0 {
		return nil, nil
	}
	ids := make([]uuid.UUID, len(ms))
	for i, m := range ms {
		ids[i] = m.TenantID
	}
	// Tenants that moved on: they reached the next milestone.
	next := nextMilestone(name)
	moved, err := client.Milestone.Query().Where(milestone.TenantIDIn(ids...), milestone.NameEQ(next)).
		Select(milestone.FieldTenantID).All(ctx)
	if err != nil {
		return nil, err
	}
	ts, err := client.Tenant.Query().Where(tenant.IDIn(ids...), tenant.StateEQ(tenantd.StateActive)).All(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[uuid.UUID]*ent.Tenant, len(ts))
	for _, t := range ts {
		byID[t.ID] = t
	}
	for _, m := range moved {
		delete(byID, m.TenantID)
	}
	out := make([]candidate, len(ms))
	for i, m := range ms {
		out[i] = candidate{at: m.OccurredAt, id: m.ID, t: byID[m.TenantID]}
	}
	return out, nil
}

// nextMilestone is the funnel step after a stuck one: a tenant that
// reached it moved on.
func nextMilestone(stuck milestone.Name) milestone.Name {
	switch stuck {
	case milestone.NameProvisioned:
		return milestone.NameFirstUpload
	case milestone.NameFirstUpload:
		return milestone.NameFirstQuery
	}
	return milestone.NameFirstQuery
}

// mailer renders and sends one campaign's mails in one transaction.
type mailer struct {
	s     *Service
	camp  *ent.WinBackCampaign
	plans map[uuid.UUID]*ent.Plan
	only  map[uuid.UUID]bool // the segment's plans; nil: any
	keys  map[uuid.UUID][]byte
}

// loadKeys reads the signing keys of a page's tenants in one query.
func (m *mailer) loadKeys(ctx context.Context, client *ent.Client, page []candidate) error {
	ids := make([]uuid.UUID, 0, len(page))
	for _, c := range page {
		if c.t != nil {
			ids = append(ids, c.t.ID)
		}
	}
	m.keys = make(map[uuid.UUID][]byte, len(ids))
	if len(ids) == 0 {
		return nil
	}
	sets, err := client.KeySet.Query().Where(keyset.TenantIDIn(ids...)).All(ctx)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	for _, ks := range sets {
		m.keys[ks.TenantID] = ks.SigningKey
	}
	return nil
}

// key is the tenant's signing key, issued now if it has none yet.
func (m *mailer) key(ctx context.Context, client *ent.Client, tenantID uuid.UUID) ([]byte, error) {
	if k, ok := m.keys[tenantID]; ok {
		return k, nil
	}
	if err := auth.EnsureSigningKey(ctx, client, tenantID); err != nil {
		return nil, err
	}
	return auth.SigningKey(ctx, client, tenantID)
}

func (s *Service) mailer(ctx context.Context, tx *store.Tx, camp *ent.WinBackCampaign) (*mailer, error) {
	all, err := tx.Ent.Plan.Query().All(ctx)
	if err != nil {
		return nil, err
	}
	m := &mailer{s: s, camp: camp, plans: map[uuid.UUID]*ent.Plan{}}
	for _, p := range all {
		m.plans[p.ID] = p
		if slices.Contains(camp.Segment.Plans, p.Key) {
			if m.only == nil {
				m.only = map[uuid.UUID]bool{}
			}
			m.only[p.ID] = true
		}
	}
	if len(camp.Segment.Plans) > 0 && m.only == nil {
		m.only = map[uuid.UUID]bool{} // its plans are gone: nobody matches
	}
	return m, nil
}

// inSegment reports whether the tenant matches the campaign's plans and
// feedback; synthetic (readiness) tenants never do.
func (m *mailer) inSegment(t *ent.Tenant) bool {
	if t.Synthetic {
		return false
	}
	if m.only != nil && !m.only[t.PlanID] {
		return false
	}
	if fb := m.camp.Segment.Feedback; len(fb) > 0 {
		if t.CancelFeedback == nil || !slices.Contains(fb, string(*t.CancelFeedback)) {
			return false
		}
	}
	return true
}

// send writes the step's message rows and mails for the tenants, but not
// for those that have them already, a few statements for the whole page:
// the rows in one INSERT … ON CONFLICT DO NOTHING (the unique (campaign,
// step, tenant) row is what makes a mail once-only), one read of which
// were new, and their mails through mail.EnqueueManyTx. It returns how
// many mails it enqueued.
func (m *mailer) send(ctx context.Context, tx *store.Tx, step int, ts []*ent.Tenant, now time.Time) (int, error) {
	if len(ts) == 0 {
		return 0, nil
	}
	expires := now.Add(LinkTTL)
	ids := make([]uuid.UUID, len(ts))
	creates := make([]*ent.WinBackMessageCreate, len(ts))
	for i, t := range ts {
		ids[i] = schema.NewID()
		creates[i] = tx.Ent.WinBackMessage.Create().SetID(ids[i]).SetCampaignID(m.camp.ID).SetStep(step).SetTenantID(t.ID).
			SetSentAt(now).SetLinkExpiresAt(expires)
	}
	if err := tx.Ent.WinBackMessage.CreateBulk(creates...).
		OnConflictColumns(winbackmessage.FieldCampaignID, winbackmessage.FieldStep, winbackmessage.FieldTenantID).
		DoNothing().Exec(ctx); err != nil {
		return 0, fmt.Errorf("write %d message rows: %w", len(creates), err)
	}
	written, err := tx.Ent.WinBackMessage.Query().Where(winbackmessage.IDIn(ids...)).IDs(ctx)
	if err != nil {
		return 0, fmt.Errorf("read the message rows written: %w", err)
	}
	isNew := make(map[uuid.UUID]bool, len(written))
	for _, id := range written {
		isNew[id] = true
	}
	st := m.camp.Steps[step]
	var mails []mail.NewMessage
	for i, t := range ts {
		if !isNew[ids[i]] {
			continue // mailed already
		}
		key, err := m.key(ctx, tx.Ent, t.ID)
		if err != nil {
			return 0, fmt.Errorf("mail tenant %s: %w", t.ID, err)
		}
		links := m.s.links(key, ids[i], expires)
		vars := map[string]string{
			"tenantName":     t.Name,
			"planName":       m.plans[t.PlanID].Name,
			"offer":          offerText(m.camp),
			"consoleUrl":     m.s.base() + "/#/",
			"reactivateUrl":  links.reactivate,
			"unsubscribeUrl": links.unsubscribe,
		}
		body := render(st.Body, vars)
		if !strings.Contains(st.Body, "unsubscribeUrl") {
			body += "\n\n--\nNo more of these emails: " + links.unsubscribe + "\n"
		}
		mails = append(mails, mail.NewMessage{
			TenantID: &t.ID, Kind: "winback",
			DedupeKey: fmt.Sprintf("winback:%s:%d:%s", m.camp.ID, step, t.ID),
			To:        *t.Email, Subject: render(st.Subject, vars), Text: body,
		})
	}
	return mail.EnqueueManyTx(ctx, tx, m.s.jobs, mails)
}

// render fills a template's placeholders (validated at creation).
func render(text string, vars map[string]string) string {
	return placeholder.ReplaceAllStringFunc(text, func(m string) string {
		return vars[placeholder.FindStringSubmatch(m)[1]]
	})
}

// offerText is what {{offer}} says: "20% off for 3 months", or "" without
// an offer.
func offerText(c *ent.WinBackCampaign) string {
	if c.OfferPercentOff == nil || c.OfferDurationMonths == nil {
		return ""
	}
	months := "months"
	if *c.OfferDurationMonths == 1 {
		months = "month"
	}
	return fmt.Sprintf("%d%% off for %d %s", *c.OfferPercentOff, *c.OfferDurationMonths, months)
}
