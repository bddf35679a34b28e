package events_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/events"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/storetest"
)

func TestHubFiltersAndResyncsSlowReaders(t *testing.T) {
	t.Parallel()
	hub := events.NewHub()
	a, b := uuid.New(), uuid.New()
	subA := hub.Subscribe(func(ev events.Event) bool { return ev.TenantID == a }, 2)
	defer subA.Close()
	hub.Publish(events.Event{Kind: events.KindTransition, TenantID: b, Seq: 1})
	hub.Publish(events.Event{Kind: events.KindTransition, TenantID: a, Seq: 1})
	got := <-subA.C()
	require.Equal(t, events.Event{Kind: events.KindTransition, TenantID: a, Seq: 1, N: got.N}, got)
	require.Equal(t, uint64(2), got.N, "events are numbered in delivery order")
	// Overflow: the reader is told to re-read instead of blocking the hub.
	for i := range 5 {
		hub.Publish(events.Event{Kind: events.KindTransition, TenantID: a, Seq: 2 + i})
	}
	var kinds []events.Kind
	for len(subA.C()) > 0 {
		kinds = append(kinds, (<-subA.C()).Kind)
	}
	require.Contains(t, kinds, events.KindResync)
	subA.Close()
	subA.Close()
	require.Zero(t, hub.Subscribers())
}

// TestPublishAfterCommitOnly checks that a rolled-back transaction publishes
// nothing and a committed one publishes once, on both stores (NOTIFY and
// LISTEN on PostgreSQL).
func TestPublishAfterCommitOnly(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		hub := events.NewHub()
		pub := events.NewPublisher(hub)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if db.IsPostgres() {
			ready := make(chan struct{})
			go events.Listen(ctx, db.Pool, hub, slog.New(slog.DiscardHandler), ready)
			<-ready
		}
		sub := hub.Subscribe(nil, 16)
		defer sub.Close()
		id := uuid.New()
		err := db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			require.NoError(t, pub.PublishTx(ctx, tx, events.Event{Kind: events.KindTransition, TenantID: id, Seq: 1}))
			return context.Canceled
		})
		require.Error(t, err)
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			return pub.PublishTx(ctx, tx, events.Event{Kind: events.KindTransition, TenantID: id, Seq: 2})
		}))
		select {
		case ev := <-sub.C():
			require.Equal(t, 2, ev.Seq, "only the committed event arrives")
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
		}
		select {
		case ev := <-sub.C():
			t.Fatalf("unexpected event %+v", ev)
		case <-time.After(200 * time.Millisecond):
		}
	})
}

// TestListenReconnects kills the LISTEN connection: the listener reconnects,
// tells subscribers to resync, and delivers later events again.
func TestListenReconnects(t *testing.T) {
	t.Parallel()
	db := storetest.New(t, storetest.Postgres)
	hub := events.NewHub()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	go events.Listen(ctx, db.Pool, hub, slog.New(slog.DiscardHandler), ready)
	<-ready
	sub := hub.Subscribe(nil, 16)
	defer sub.Close()
	_, err := db.SQL.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query ILIKE 'LISTEN%'`)
	require.NoError(t, err)
	select {
	case ev := <-sub.C():
		require.Equal(t, events.KindResync, ev.Kind)
	case <-time.After(10 * time.Second):
		t.Fatal("no resync after the reconnect")
	}
	pub := events.NewPublisher(hub)
	require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		return pub.PublishTx(ctx, tx, events.Event{Kind: events.KindOperation, OperationID: uuid.New()})
	}))
	select {
	case ev := <-sub.C():
		require.Equal(t, events.KindOperation, ev.Kind)
	case <-time.After(5 * time.Second):
		t.Fatal("no event after the reconnect")
	}
}
