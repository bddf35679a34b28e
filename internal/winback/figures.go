package winback

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/milestone"
	"github.com/tenantd/tenantd/ent/winbackmessage"
)

// StepFigures are one step's results.
type StepFigures struct {
	Step      int
	AfterDays int
	// Eligible tenants matched the segment when the step came due;
	// Sent got its mail (the others had unsubscribed).
	Eligible, Sent int
	// Opened opened the mail's reactivation link; Converted reactivated
	// through it; MovedOn (a nudge) reached the next funnel step after
	// the mail.
	Opened, Converted, MovedOn int
	// RecoveredCents is the monthly revenue of the plans won back.
	RecoveredCents int64
}

// Rate is Converted (a nudge: MovedOn) over Sent, 0 with nothing sent.
func (f StepFigures) Rate(nudge bool) float64 {
	n := f.Converted
	if nudge {
		n = f.MovedOn
	}
	if f.Sent == 0 {
		return 0
	}
	return float64(n) / float64(f.Sent)
}

// DayCount is a count on one UTC day.
type DayCount struct {
	Day   time.Time
	Count int
}

// Figures are a campaign's results: per step, in all (a tenant counts
// once however many of its mails it got), and conversions per day.
type Figures struct {
	Total StepFigures
	Steps []StepFigures
	// ConversionsByDay are the reactivations (a nudge: the tenants that
	// moved on) per day, oldest first.
	ConversionsByDay []DayCount
}

// FiguresOf computes a campaign's figures from its messages; the cost is
// linear in the mails the campaign sent.
func (s *Service) FiguresOf(ctx context.Context, camp *ent.WinBackCampaign) (*Figures, error) {
	sys := tenantd.SystemContext(ctx)
	msgs, err := s.db.Ent.WinBackMessage.Query().Where(winbackmessage.CampaignID(camp.ID)).
		Select(winbackmessage.FieldStep, winbackmessage.FieldTenantID, winbackmessage.FieldSentAt,
			winbackmessage.FieldOpenedAt, winbackmessage.FieldConvertedAt, winbackmessage.FieldRecoveredCents).All(sys)
	if err != nil {
		return nil, fmt.Errorf("campaign messages: %w", err)
	}
	nudge := camp.Segment.Nudge()
	movedAt := map[uuid.UUID]time.Time{}
	if nudge {
		if movedAt, err = s.movedOn(sys, camp, msgs); err != nil {
			return nil, err
		}
	}
	progress := progressOf(camp)
	f := &Figures{Steps: make([]StepFigures, len(camp.Steps))}
	for i, st := range camp.Steps {
		f.Steps[i] = StepFigures{Step: i, AfterDays: st.AfterDays, Eligible: progress[i].Eligible}
	}
	type once struct{ opened, converted, moved bool }
	tenants := map[uuid.UUID]*once{}
	byDay := map[time.Time]int{}
	for _, m := range msgs {
		if m.Step >= len(f.Steps) {
			continue
		}
		sf := &f.Steps[m.Step]
		sf.Sent++
		t := tenants[m.TenantID]
		if t == nil {
			t = &once{}
			tenants[m.TenantID] = t
		}
		if m.OpenedAt != nil {
			sf.Opened++
			t.opened = true
		}
		if m.ConvertedAt != nil {
			sf.Converted++
			if m.RecoveredCents != nil {
				sf.RecoveredCents += *m.RecoveredCents
				f.Total.RecoveredCents += *m.RecoveredCents
			}
			if !t.converted {
				byDay[m.ConvertedAt.UTC().Truncate(24*time.Hour)]++
			}
			t.converted = true
		}
		// A nudge's tenant moved on after this mail if it reached the next
		// step after the mail was sent (and it counts for the last mail
		// before that only in the total).
		if at, ok := movedAt[m.TenantID]; ok && at.After(m.SentAt) {
			sf.MovedOn++
			t.moved = true
		}
	}
	if nudge {
		for id, at := range movedAt {
			if t := tenants[id]; t != nil && t.moved {
				byDay[at.UTC().Truncate(24*time.Hour)]++
			}
		}
	}
	// The total counts tenants: eligible is the first step's (every
	// tenant reaches it first).
	if len(progress) > 0 {
		f.Total.Eligible = progress[0].Eligible
	}
	f.Total.Sent = len(tenants)
	for _, t := range tenants {
		if t.opened {
			f.Total.Opened++
		}
		if t.converted {
			f.Total.Converted++
		}
		if t.moved {
			f.Total.MovedOn++
		}
	}
	for d, n := range byDay {
		f.ConversionsByDay = append(f.ConversionsByDay, DayCount{Day: d, Count: n})
	}
	slices.SortFunc(f.ConversionsByDay, func(a, b DayCount) int { return a.Day.Compare(b.Day) })
	return f, nil
}

// movedOn returns, for the nudged tenants that reached the next funnel
// step, when they did.
func (s *Service) movedOn(ctx context.Context, camp *ent.WinBackCampaign, msgs []*ent.WinBackMessage) (map[uuid.UUID]time.Time, error) {
	ids := make([]uuid.UUID, 0, len(msgs))
	seen := map[uuid.UUID]bool{}
	for _, m := range msgs {
		if !seen[m.TenantID] {
			seen[m.TenantID] = true
			ids = append(ids, m.TenantID)
		}
	}
	out := map[uuid.UUID]time.Time{}
	next := nextMilestone(milestone.Name(camp.Segment.StuckAt))
	for chunk := range slices.Chunk(ids, 500) {
		ms, err := s.db.Ent.Milestone.Query().Where(milestone.TenantIDIn(chunk...), milestone.NameEQ(next)).
			Select(milestone.FieldTenantID, milestone.FieldOccurredAt).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("milestones of nudged tenants: %w", err)
		}
		for _, m := range ms {
			out[m.TenantID] = m.OccurredAt
		}
	}
	return out, nil
}
