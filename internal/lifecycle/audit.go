package lifecycle

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
	"github.com/tenantd/tenantd/ent/statetransition"
	"github.com/tenantd/tenantd/ent/tenant"
)

// Break is the first row where a tenant's chain does not verify.
type Break struct {
	TenantID uuid.UUID
	Seq      int       // the row's seq; 0 if the break is in the tenant row
	RowID    uuid.UUID // the StateTransition id; zero if the break is in the tenant row
	Reason   string
}

func (b *Break) String() string {
	if b.RowID == uuid.Nil {
		return fmt.Sprintf("tenant %s: %s", b.TenantID, b.Reason)
	}
	return fmt.Sprintf("tenant %s, seq %d (state_transitions.id %s): %s", b.TenantID, b.Seq, b.RowID, b.Reason)
}

// AuditReport is the outcome of Verify.
type AuditReport struct {
	Tenants int
	Rows    int
	// Break is the first broken row found, nil if every chain verifies.
	Break *Break
	// CountMismatches lists states whose counter disagrees with the tenants
	// table (state: counted vs actual). They do not break a chain; Recount
	// repairs them.
	CountMismatches map[tenantd.State][2]int64
}

// OK reports whether every chain verified and every count agreed.
func (r *AuditReport) OK() bool { return r.Break == nil && len(r.CountMismatches) == 0 }

// VerifyProgress is called after each page of tenants with the running totals.
type VerifyProgress func(tenants, rows int)

const auditPage = 500

// Verify walks every tenant's chain in id order and stops at the first broken
// row: a seq gap, a prev_hash that is not the previous row's hash, a hash that
// does not match the row's contents, a from_state that is not the previous
// to_state, or a tenant row whose state or head disagrees with its last row.
func Verify(ctx context.Context, client *ent.Client, progress VerifyProgress) (*AuditReport, error) {
	ctx = tenantd.SystemContext(ctx)
	rep := &AuditReport{}
	var after uuid.UUID
	for {
		ts, err := client.Tenant.Query().
			Where(tenant.IDGT(after)).
			Order(ent.Asc(tenant.FieldID)).
			Limit(auditPage).
			Select(tenant.FieldID, tenant.FieldState, tenant.FieldHistorySeq, tenant.FieldHistoryHead).
			All(ctx)
		if err != nil {
			return nil, fmt.Errorf("audit: list tenants: %w", err)
		}
		if len(ts) == 0 {
			break
		}
		ids := make([]uuid.UUID, len(ts))
		for i, t := range ts {
			ids[i] = t.ID
		}
		rows, err := client.StateTransition.Query().
			Where(statetransition.TenantIDIn(ids...)).
			Order(ent.Asc(statetransition.FieldTenantID), ent.Asc(statetransition.FieldSeq)).
			All(ctx)
		if err != nil {
			return nil, fmt.Errorf("audit: read history: %w", err)
		}
		byTenant := make(map[uuid.UUID][]*ent.StateTransition, len(ts))
		for _, r := range rows {
			byTenant[r.TenantID] = append(byTenant[r.TenantID], r)
		}
		for _, t := range ts {
			rep.Tenants++
			rep.Rows += len(byTenant[t.ID])
			if b := verifyChain(t, byTenant[t.ID]); b != nil {
				rep.Break = b
				return rep, nil
			}
		}
		after = ts[len(ts)-1].ID
		if progress != nil {
			progress(rep.Tenants, rep.Rows)
		}
	}
	counted, err := StateCounts(ctx, client)
	if err != nil {
		return nil, err
	}
	var actual []struct {
		State tenantd.State `json:"state"`
		Count int64         `json:"count"`
	}
	if err := client.Tenant.Query().GroupBy(tenant.FieldState).Aggregate(ent.Count()).Scan(ctx, &actual); err != nil {
		return nil, fmt.Errorf("audit: count tenants: %w", err)
	}
	real := map[tenantd.State]int64{}
	for _, a := range actual {
		real[a.State] = a.Count
	}
	for _, s := range tenantd.AllStates {
		if counted[s] != real[s] {
			if rep.CountMismatches == nil {
				rep.CountMismatches = map[tenantd.State][2]int64{}
			}
			rep.CountMismatches[s] = [2]int64{counted[s], real[s]}
		}
	}
	return rep, nil
}

// verifyChain checks one tenant's rows, given in seq order.
func verifyChain(t *ent.Tenant, rows []*ent.StateTransition) *Break {
	prevHash := ""
	var prevTo *tenantd.State
	for i, r := range rows {
		brk := func(format string, args ...any) *Break {
			return &Break{TenantID: t.ID, Seq: r.Seq, RowID: r.ID, Reason: fmt.Sprintf(format, args...)}
		}
		if r.Seq != i+1 {
			return brk("seq %d where %d was expected (gap or duplicate)", r.Seq, i+1)
		}
		if r.PrevHash != prevHash {
			return brk("prev_hash %s does not match the previous row's hash %s", short(r.PrevHash), short(prevHash))
		}
		switch {
		case i == 0 && (r.Event != tenantd.EventSignup || r.FromState != nil):
			return brk("the first row is %s, not signup", r.Event)
		case i > 0 && (r.FromState == nil || prevTo == nil || *r.FromState != *prevTo):
			return brk("from_state %v does not follow the previous to_state %v", deref(r.FromState), deref(prevTo))
		}
		if r.ChainVersion >= 2 {
			if b := verifyText(r); b != "" {
				return brk("%s", b)
			}
		}
		want, err := Hash(prevHash, Link{
			TenantID: r.TenantID, Seq: r.Seq, Event: r.Event, From: r.FromState, To: r.ToState,
			TriggeredBy: r.TriggeredBy, Actor: r.Actor, Reason: r.Reason, Metadata: r.Metadata,
			OccurredAt: r.OccurredAt, Version: r.ChainVersion, TextHash: r.TextHash,
		})
		if err != nil {
			return brk("cannot encode the row: %v", err)
		}
		if want != r.Hash {
			return brk("hash %s does not match the row's contents (expected %s): the row was changed", short(r.Hash), short(want))
		}
		prevHash, prevTo = r.Hash, &r.ToState
	}
	switch {
	case len(rows) == 0:
		return &Break{TenantID: t.ID, Reason: "the tenant has no history"}
	case t.HistorySeq != len(rows):
		return &Break{TenantID: t.ID, Reason: fmt.Sprintf("tenant row says history seq %d but the history has %d rows", t.HistorySeq, len(rows))}
	case t.HistoryHead != prevHash:
		return &Break{TenantID: t.ID, Reason: fmt.Sprintf("tenant row's history head %s is not the last row's hash %s", short(t.HistoryHead), short(prevHash))}
	case t.State != *prevTo:
		return &Break{TenantID: t.ID, Reason: fmt.Sprintf("tenant is %s but its last transition went to %s", t.State, *prevTo)}
	}
	return nil
}

// verifyText checks a version 2 row's erasable text against the
// commitment the chain holds: unerased, the text must hash to text_hash;
// erased, nothing of it may be left. It returns why not, or "".
func verifyText(r *ent.StateTransition) string {
	if r.ErasedAt != nil || r.TextSalt == "" {
		if r.ErasedAt == nil || r.TextSalt != "" || r.Reason != "" || len(r.Private) > 0 {
			return "the erased text is not erased: reason, private and salt must all be empty once erased_at is set"
		}
		return ""
	}
	want, err := TextHash(r.TextSalt, r.Reason, r.Private)
	if err != nil {
		return fmt.Sprintf("cannot encode the row's text: %v", err)
	}
	if want != r.TextHash {
		return fmt.Sprintf("the reason or private details do not match text_hash %s: the text was changed", short(r.TextHash))
	}
	return ""
}

func short(h string) string {
	if h == "" {
		return "(empty)"
	}
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}

func deref(s *tenantd.State) string {
	if s == nil {
		return "(none)"
	}
	return string(*s)
}
