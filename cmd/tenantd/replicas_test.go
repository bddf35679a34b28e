package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd/internal/gqlws"
	"github.com/tenantd/tenantd/internal/storetest"
)

// TestTwoProcesses runs two real tenantd processes on one PostgreSQL: an
// API-only replica (TENANTD_WORKERS=false) that takes the signup and the
// subscriptions, and a worker replica that provisions. Every event of the
// worker's progress reaches the subscribers of the API replica.
func TestTwoProcesses(t *testing.T) {
	t.Parallel()
	dbURL := storetest.NewPostgresDatabase(t)
	const token = "tda_two_process_admin_token_00000000"
	common := []string{"DATABASE_URL=" + dbURL, "TENANTD_OWNER_DATABASE_URL=" + storetest.OwnerURL(dbURL),
		"TENANTD_ADMIN_TOKEN=" + token, "TENANTD_LOG_LEVEL=warn"}
	apiAddr, workerAddr := freeAddr(t), freeAddr(t)
	startProcess(t, append([]string{"TENANTD_ADDR=" + apiAddr, "TENANTD_WORKERS=false", "TENANTD_DATA_DIR=" + t.TempDir()}, common...))
	startProcess(t, append([]string{"TENANTD_ADDR=" + workerAddr, "TENANTD_DATA_DIR=" + t.TempDir()}, common...))
	api := "http://" + apiAddr
	waitHealthy(t, api)
	waitHealthy(t, "http://"+workerAddr)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := gqlws.Dial(ctx, api+"/graphql", gqlws.Options{Token: token})
	require.NoError(t, err)
	defer admin.Close()
	all, err := admin.Subscribe(ctx, `subscription { tenantEvents { kind tenant { id } transition { event } } }`, nil)
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)

	id, err := signUpUntilDone(ctx, api, "two-processes", "pro")
	require.NoError(t, err)
	seen := map[string]bool{}
	for !seen["activate"] {
		data, err := all.Next(ctx)
		require.NoError(t, err, "events seen so far: %v", seen)
		var m struct {
			TenantEvents struct {
				Kind       string
				Tenant     struct{ ID uuid.UUID }
				Transition *struct{ Event string }
			}
		}
		require.NoError(t, json.Unmarshal(data, &m))
		if m.TenantEvents.Tenant.ID == id && m.TenantEvents.Transition != nil {
			seen[m.TenantEvents.Transition.Event] = true
		}
	}
	require.True(t, seen["signup"] && seen["provision"] && seen["activate"], "%v", seen)

	// The operation, watched through the API replica, ended SUCCEEDED.
	var op struct {
		Data struct {
			Tenant struct {
				Operations struct {
					Edges []struct{ Node struct{ ID uuid.UUID } }
				}
			}
		}
	}
	body, _ := json.Marshal(map[string]any{"query": `query($id: ID!) { tenant(id: $id) { operations { edges { node { id } } } } }`,
		"variables": map[string]any{"id": id}})
	resp, err := httpPost(api+"/graphql", token, body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(resp, &op))
	sub, err := admin.Subscribe(ctx, `subscription($id: ID!) { operationProgress(id: $id) { status } }`,
		map[string]any{"id": op.Data.Tenant.Operations.Edges[0].Node.ID})
	require.NoError(t, err)
	last := ""
	for {
		data, err := sub.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		var m struct{ OperationProgress struct{ Status string } }
		require.NoError(t, json.Unmarshal(data, &m))
		last = m.OperationProgress.Status
	}
	require.Equal(t, "SUCCEEDED", last)
}
