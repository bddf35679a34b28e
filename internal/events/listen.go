package events

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Listen feeds hub from PostgreSQL NOTIFY on Channel until ctx is done. It
// holds one connection of its own; when the connection breaks it reconnects
// with backoff and then publishes KindResync, because notices sent while it
// was away are lost (NOTIFY has no replay) and subscribers must re-read.
// ready, if not nil, is closed once the first LISTEN is in place.
func Listen(ctx context.Context, pool *pgxpool.Pool, hub *Hub, log *slog.Logger, ready chan<- struct{}) {
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := listenOnce(ctx, pool, hub, log, func() {
			backoff = 100 * time.Millisecond
			if first {
				first = false
				if ready != nil {
					close(ready)
				}
				return
			}
			hub.Publish(Event{Kind: KindResync})
		})
		if ctx.Err() != nil {
			return
		}
		log.Warn("event listener lost its connection; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func listenOnce(ctx context.Context, pool *pgxpool.Pool, hub *Hub, log *slog.Logger, listening func()) error {
	c, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	conn := c.Hijack() // a LISTEN connection must not go back to the pool
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		return err
	}
	listening()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var ev Event
		if err := json.Unmarshal([]byte(n.Payload), &ev); err != nil {
			log.Warn("ignoring malformed event notice", "payload", n.Payload, "err", err)
			continue
		}
		hub.Publish(ev)
	}
}
