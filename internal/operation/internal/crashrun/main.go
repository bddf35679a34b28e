// Command crashrun works the operations of the engine's test kind on a
// PostgreSQL database until it is stopped — or until it SIGKILLs itself in
// the step named by OPTEST_KILL_IN (internal/operation/operationtest). The
// engine's crash test runs it as a real process.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/riverqueue/river"

	"github.com/tenantd/tenantd/internal/events"
	"github.com/tenantd/tenantd/internal/operation"
	"github.com/tenantd/tenantd/internal/operation/operationtest"
	"github.com/tenantd/tenantd/internal/store"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "crashrun:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	db, err := store.Open(ctx, store.Options{DatabaseURL: os.Getenv("DATABASE_URL"), MaxConns: 4})
	if err != nil {
		return err
	}
	defer db.Close()
	engine := operation.New(operation.Config{DB: db, Events: events.NewPublisher(events.NewHub())})
	engine.Add(operationtest.Kind(db, os.Getenv(operationtest.KillEnv)))
	workers := river.NewWorkers()
	engine.Register(workers)
	client, err := river.NewClient(db.RiverDriver(), &river.Config{
		Workers: workers, Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}},
		FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	if err := client.Start(ctx); err != nil {
		return err
	}
	fmt.Println("crashrun: working")
	<-ctx.Done()
	return client.Stop(context.Background())
}
