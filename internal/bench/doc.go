// Package bench holds tenantd's benchmarks: what the lifecycle machine, the
// GraphQL API and the state counters cost, each set beside the same work done
// in bare SQL so that the overhead of tenantd's layers is a ratio rather than
// a guess. The package has no code of its own; the benchmarks are in its test
// files.
//
// What is measured:
//
//   - BenchmarkTransition: transitions per second. lifecycle.Machine.Fire
//     cycles ACTIVE tenants through suspend and resume; bare_sql does, in one
//     transaction per transition, exactly the writes lifecycle makes (the
//     tenant row read, FOR UPDATE on PostgreSQL; the tenant update; the
//     hash-chained state_transitions insert with lifecycle.Hash; the two
//     tenant_state_counts upserts). BenchmarkTransitionParallel runs the same
//     from several goroutines, each on its own tenants.
//   - BenchmarkTenantRead: tenant(id) with its plan and 20 transitions, as a
//     GraphQL query over HTTP against a real server, and as the two bare SQL
//     queries that read the same data from the same database.
//   - BenchmarkTenantStateCounts: the tenantStateCounts query over 1,000,000
//     tenants (PostgreSQL only; the rows are bulk-loaded with one INSERT …
//     SELECT and the counters rebuilt with lifecycle.Recount), over HTTP and
//     through lifecycle.StateCounts, beside the naive GROUP BY over the
//     tenants table that the counters replace.
//   - BenchmarkActivationFunnel: analytics.Compute over 1,000,000 tenants
//     with their milestones (PostgreSQL; activations bulk-loaded, the rollup
//     rebuilt with analytics.Rebuild), over 90 days with day cohorts and over
//     30 days for one plan; also with the rollup's slots not yet compacted.
//   - BenchmarkUpload: documents/s and MB/s of ~1 KiB documents through
//     workspace.Service.Upload (PostgreSQL, pool and silo tenants).
//   - BenchmarkSearch: full-text search latency p50/p99 over 100,000
//     documents of one tenant (PostgreSQL, pool and silo).
//   - BenchmarkSearchLargeDocument: search latency p50/p99 of a tenant
//     holding one 10 MiB document beside 20 small ones (a common word, a
//     rare word, phrases), on both stores, pool and silo.
//   - BenchmarkExport: a data export of a pool tenant holding 100 MiB of
//     256 KiB documents (TENANTD_BENCH_EXPORT_MIB=100,1024 adds 1 GiB):
//     export MB/s of document data, the archive's size, the growth of the
//     process's peak RSS during the export (VmHWM reset before it), and the
//     import of the archive as a new tenant in MB/s.
//
// Every benchmark runs on SQLite and PostgreSQL (unless noted) through
// storetest and servertest, so PostgreSQL must be reachable as for the test
// suite (TENANTD_TEST_DATABASE_URL, default
// postgres://postgres@127.0.0.1:5432/test). Each benchmark checks its results
// once outside the timed loop, and the transition benchmarks audit the hash
// chains and counters (lifecycle.Verify) after the loop, so the bare SQL
// baseline is proven to write what lifecycle writes.
//
// Run them with
//
//	make bench
//
// which is
//
//	go test -run '^$' -bench . -benchtime 2s -timeout 60m ./internal/bench/...
//
// or pick one with, for example, -bench 'Transition/postgres'. The whole
// set takes a few minutes, most of it loading the million tenants.
package bench
