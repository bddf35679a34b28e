package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent/apikey"
	"github.com/tenantd/tenantd/ent/milestone"
	"github.com/tenantd/tenantd/ent/operation"
	"github.com/tenantd/tenantd/ent/outboxmessage"
	"github.com/tenantd/tenantd/ent/statetransition"
	"github.com/tenantd/tenantd/internal/server"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestRecordedTimesFollowTheClock runs a server on a fake clock years away
// from the wall time: every row a signup and a suspension write carries the
// fake time in its created_at, updated_at and occurred_at, whether the code
// set it or left it to the schema's default — so a rule about those times
// is tested on the fake clock like any other.
func TestRecordedTimesFollowTheClock(t *testing.T) {
	t.Parallel()
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			start := time.Date(2031, 6, 1, 12, 0, 0, 0, time.UTC)
			clock := clockwork.NewFakeClockAt(start)
			srv := servertest.StartWith(t, k, nil, []server.Option{server.WithClock(clock)})
			sys := tenantd.SystemContext(context.Background())
			a := activeTenant(t, srv, "clocked-"+string(k), "starter")
			id := a.SignUp.Tenant.ID
			near := func(what string, got time.Time, want time.Time) {
				t.Helper()
				require.WithinDuration(t, want, got, time.Minute, "%s: the clock's time, not the wall's", what)
			}

			tn, err := srv.DB().Ent.Tenant.Get(sys, id)
			require.NoError(t, err)
			near("tenant created_at", tn.CreatedAt, start)
			near("tenant state_changed_at", tn.StateChangedAt, start)
			ops, err := srv.DB().Ent.Operation.Query().Where(operation.TenantID(id)).All(sys)
			require.NoError(t, err)
			require.NotEmpty(t, ops)
			for _, op := range ops {
				near("operation created_at", op.CreatedAt, start)
				near("operation updated_at", op.UpdatedAt, start)
			}
			keys, err := srv.DB().Ent.APIKey.Query().Where(apikey.TenantID(id)).All(sys)
			require.NoError(t, err)
			require.NotEmpty(t, keys)
			for _, k := range keys {
				near("api key created_at", k.CreatedAt, start)
			}
			trs, err := srv.DB().Ent.StateTransition.Query().Where(statetransition.TenantID(id)).All(sys)
			require.NoError(t, err)
			for _, tr := range trs {
				near("transition occurred_at", tr.OccurredAt, start)
			}
			ms, err := srv.DB().Ent.Milestone.Query().Where(milestone.TenantID(id)).All(sys)
			require.NoError(t, err)
			require.NotEmpty(t, ms)
			for _, m := range ms {
				near("milestone occurred_at", m.OccurredAt, start)
			}

			// The signup's confirmation mail: queued and sent on the clock.
			require.Eventually(t, func() bool {
				m, err := srv.DB().Ent.OutboxMessage.Query().Where(outboxmessage.TenantID(id), outboxmessage.Kind("signup_confirmation")).Only(sys)
				return err == nil && m.SentAt != nil
			}, 30*time.Second, 20*time.Millisecond, "the confirmation mail is sent")
			m, err := srv.DB().Ent.OutboxMessage.Query().Where(outboxmessage.TenantID(id), outboxmessage.Kind("signup_confirmation")).Only(sys)
			require.NoError(t, err)
			near("mail created_at", m.CreatedAt, start)
			near("mail sent_at", *m.SentAt, start)

			later := start.Add(10 * 24 * time.Hour)
			clock.Advance(later.Sub(start))
			srv.MustDo(t, admin, `mutation($id: ID!) { suspendTenant(input: {tenantId: $id, reason: "clock"}) { tenant { state } } }`,
				map[string]any{"id": id}, nil)
			tn, err = srv.DB().Ent.Tenant.Get(sys, id)
			require.NoError(t, err)
			near("tenant updated_at after a suspension", tn.UpdatedAt, later)
			near("tenant created_at stays", tn.CreatedAt, start)
		})
	}
}
