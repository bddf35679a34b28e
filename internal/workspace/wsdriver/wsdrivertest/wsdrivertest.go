// Package wsdrivertest is the conformance suite of workspace stores: one
// set of tests that every wsdriver.Driver passes, as riverdrivertest is for
// River's drivers. A store added later (a PostgreSQL schema on another
// server) runs the same Exercise.
package wsdrivertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/workspace/wsdriver"
)

// Exercise runs the suite against d, a store over the main database db.
// Every case makes workspaces of tenants of its own (the workspace tables
// hold no foreign keys, so no tenant rows are needed), so the cases run in
// parallel on one database.
func Exercise(t *testing.T, d wsdriver.Driver, db *store.DB) {
	t.Helper()
	ctx := context.Background()

	// setup makes a workspace for a new tenant.
	setup := func(t *testing.T) wsdriver.Placement {
		t.Helper()
		id := uuid.Must(uuid.NewV7())
		p := wsdriver.Placement{TenantID: id, Isolation: d.Isolation(), Location: d.Location(id)}
		require.NoError(t, d.Create(ctx, nil, p))
		return p
	}
	view := func(t *testing.T, p wsdriver.Placement, fn func(r wsdriver.Reader)) {
		t.Helper()
		require.NoError(t, d.View(ctx, nil, p, wsdriver.ViewOptions{}, func(ctx context.Context, r wsdriver.Reader) error {
			fn(r)
			return nil
		}))
	}
	write := func(t *testing.T, p wsdriver.Placement, fn func(tx wsdriver.Tx) error) {
		t.Helper()
		require.NoError(t, d.Write(ctx, nil, p, func(ctx context.Context, tx wsdriver.Tx) error { return fn(tx) }))
	}
	base := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC) // documents' times are data, not the clock
	doc := func(p wsdriver.Placement, i int, title, content string) *wsdriver.Document {
		return &wsdriver.Document{ID: uuid.Must(uuid.NewV7()), TenantID: p.TenantID, Title: title, Content: content,
			HasContent: true, SizeBytes: int64(len(content)), CreatedAt: base.Add(time.Duration(i) * time.Second)}
	}
	insert := func(t *testing.T, p wsdriver.Placement, docs ...*wsdriver.Document) {
		t.Helper()
		write(t, p, func(tx wsdriver.Tx) error {
			for _, dc := range docs {
				if err := tx.InsertDocument(ctx, dc); err != nil {
					return err
				}
			}
			return nil
		})
	}

	t.Run("Identity", func(t *testing.T) {
		t.Parallel()
		id := uuid.New()
		require.NotEmpty(t, d.Kind())
		require.Contains(t, []tenantd.Isolation{tenantd.IsolationPool, tenantd.IsolationSilo}, d.Isolation())
		require.Equal(t, d.Location(id), d.Location(id), "a tenant's location is stable")
		if d.Isolation() == tenantd.IsolationPool {
			require.Equal(t, wsdriver.PoolLocation, d.Location(id))
		} else {
			require.NotEqual(t, d.Location(id), d.Location(uuid.New()), "each silo tenant has a location of its own")
		}
	})

	t.Run("CreateIsIdempotent", func(t *testing.T) {
		t.Parallel()
		p := setup(t)
		require.NoError(t, d.Create(ctx, nil, p), "created again")
		view(t, p, func(r wsdriver.Reader) {
			u, err := r.Usage(ctx)
			require.NoError(t, err)
			require.Equal(t, wsdriver.Counters{}, u)
			c, err := r.Count(ctx)
			require.NoError(t, err)
			require.Equal(t, wsdriver.Counts{}, c)
		})
	})

	t.Run("CreateInMain", func(t *testing.T) {
		t.Parallel()
		id := uuid.Must(uuid.NewV7())
		p := wsdriver.Placement{TenantID: id, Isolation: d.Isolation(), Location: d.Location(id)}
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, main *store.Tx) error { return d.Create(ctx, main, p) }))
		write(t, p, func(tx wsdriver.Tx) error {
			_, ok, err := tx.ReserveUpload(ctx, 1, 10, 10)
			require.True(t, ok, "the usage row exists")
			return err
		})
	})

	t.Run("ReserveUpload", func(t *testing.T) {
		t.Parallel()
		p := setup(t)
		write(t, p, func(tx wsdriver.Tx) error {
			c, ok, err := tx.ReserveUpload(ctx, 600, 2, 1000)
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, wsdriver.Counters{Documents: 1, Bytes: 600}, c)
			_, ok, err = tx.ReserveUpload(ctx, 500, 2, 1000)
			require.NoError(t, err)
			require.False(t, ok, "over the bytes")
			c, ok, err = tx.ReserveUpload(ctx, 5, 2, 1000)
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, wsdriver.Counters{Documents: 2, Bytes: 605}, c)
			_, ok, err = tx.ReserveUpload(ctx, 5, 2, 1000)
			require.NoError(t, err)
			require.False(t, ok, "over the documents")
			return nil
		})
		view(t, p, func(r wsdriver.Reader) {
			u, err := r.Usage(ctx)
			require.NoError(t, err)
			require.Equal(t, wsdriver.Counters{Documents: 2, Bytes: 605}, u, "a refused reservation changes nothing")
		})
	})

	t.Run("Documents", func(t *testing.T) {
		t.Parallel()
		p := setup(t)
		docs := []*wsdriver.Document{doc(p, 0, "one", "first text"), doc(p, 1, "two", "second text"), doc(p, 2, "three", "third text"), doc(p, 3, "four", "é ünïcode ✓")}
		insert(t, p, docs...)
		view(t, p, func(r wsdriver.Reader) {
			for _, want := range docs {
				got, err := r.Document(ctx, want.ID, true)
				require.NoError(t, err)
				require.Equal(t, want, got, "a document round-trips, its time to the microsecond")
				head, err := r.Document(ctx, want.ID, false)
				require.NoError(t, err)
				require.False(t, head.HasContent)
				require.Empty(t, head.Content)
				require.Equal(t, want.SizeBytes, head.SizeBytes)
			}
			_, err := r.Document(ctx, uuid.New(), true)
			require.ErrorIs(t, err, wsdriver.ErrNotFound)

			page, err := r.ListDocuments(ctx, wsdriver.ListParams{Limit: 3})
			require.NoError(t, err)
			require.Equal(t, []string{"four", "three", "two"}, titles(page), "newest first")
			for _, dc := range page {
				require.False(t, dc.HasContent)
				require.Empty(t, dc.Content)
			}
			after := &wsdriver.Cursor{CreatedAt: page[2].CreatedAt, ID: page[2].ID}
			page, err = r.ListDocuments(ctx, wsdriver.ListParams{After: after, Limit: 3})
			require.NoError(t, err)
			require.Equal(t, []string{"one"}, titles(page))
			before := &wsdriver.Cursor{CreatedAt: docs[0].CreatedAt, ID: docs[0].ID}
			page, err = r.ListDocuments(ctx, wsdriver.ListParams{Before: before, Backward: true, Limit: 2})
			require.NoError(t, err)
			require.Equal(t, []string{"two", "three"}, titles(page), "oldest first after the cursor")
			c, err := r.Count(ctx)
			require.NoError(t, err)
			require.Equal(t, wsdriver.Counts{Documents: 4, Bytes: sizes(docs)}, c)
		})
	})

	t.Run("RollbackWritesNothing", func(t *testing.T) {
		t.Parallel()
		p := setup(t)
		failed := errors.New("fail after writing")
		err := d.Write(ctx, nil, p, func(ctx context.Context, tx wsdriver.Tx) error {
			if _, _, err := tx.ReserveUpload(ctx, 4, 10, 100); err != nil {
				return err
			}
			if err := tx.InsertDocument(ctx, doc(p, 0, "gone", "text")); err != nil {
				return err
			}
			if err := tx.LogQuery(ctx, &wsdriver.QueryLogEntry{ID: uuid.New(), TenantID: p.TenantID, Query: "q", CreatedAt: base}); err != nil {
				return err
			}
			return failed
		})
		require.ErrorIs(t, err, failed)
		view(t, p, func(r wsdriver.Reader) {
			c, err := r.Count(ctx)
			require.NoError(t, err)
			require.Equal(t, wsdriver.Counts{}, c)
			u, err := r.Usage(ctx)
			require.NoError(t, err)
			require.Equal(t, wsdriver.Counters{}, u)
		})
	})

	t.Run("MainTransaction", func(t *testing.T) {
		t.Parallel()
		p := setup(t)
		var inMain bool
		rolledBack := errors.New("roll back main")
		err := db.InTx(ctx, func(ctx context.Context, main *store.Tx) error {
			if err := d.Write(ctx, main, p, func(ctx context.Context, tx wsdriver.Tx) error {
				inMain = tx.Main() == main
				require.True(t, tx.Main() == nil || tx.Main() == main, "a store writes in main or on its own")
				return tx.InsertDocument(ctx, doc(p, 0, "doc", "text"))
			}); err != nil {
				return err
			}
			return rolledBack
		})
		require.ErrorIs(t, err, rolledBack)
		view(t, p, func(r wsdriver.Reader) {
			c, err := r.Count(ctx)
			require.NoError(t, err)
			if inMain {
				require.Zero(t, c.Documents, "a write in main rolls back with it")
			} else {
				require.EqualValues(t, 1, c.Documents, "a write on its own commits on its own")
			}
		})
	})

	t.Run("Queries", func(t *testing.T) {
		t.Parallel()
		p := setup(t)
		write(t, p, func(tx wsdriver.Tx) error {
			for i := 1; i <= 2; i++ {
				n, ok, err := tx.CountQuery(ctx, "2026-11", 2)
				require.NoError(t, err)
				require.True(t, ok)
				require.EqualValues(t, i, n)
			}
			_, ok, err := tx.CountQuery(ctx, "2026-11", 2)
			require.NoError(t, err)
			require.False(t, ok, "over the month's limit")
			n, ok, err := tx.CountQuery(ctx, "2026-12", 2)
			require.NoError(t, err)
			require.True(t, ok, "a new month starts again")
			require.EqualValues(t, 1, n)
			for i := range 3 {
				if err := tx.LogQuery(ctx, &wsdriver.QueryLogEntry{ID: uuid.Must(uuid.NewV7()), TenantID: p.TenantID,
					Query: fmt.Sprintf("query %d", i), Hits: i, CreatedAt: base.Add(time.Duration(i) * time.Second)}); err != nil {
					return err
				}
			}
			return nil
		})
		view(t, p, func(r wsdriver.Reader) {
			u, err := r.Usage(ctx)
			require.NoError(t, err)
			require.Equal(t, wsdriver.Counters{Queries: 1, QueryMonth: "2026-12"}, u)
			log, err := r.ScanQueryLog(ctx, uuid.Nil, 10)
			require.NoError(t, err)
			require.Len(t, log, 3)
			for i, e := range log {
				require.Equal(t, fmt.Sprintf("query %d", i), e.Query)
				require.Equal(t, i, e.Hits)
				require.Equal(t, base.Add(time.Duration(i)*time.Second), e.CreatedAt)
				require.Equal(t, p.TenantID, e.TenantID)
			}
			c, err := r.Count(ctx)
			require.NoError(t, err)
			require.EqualValues(t, 3, c.Queries)
		})
	})

	t.Run("Search", func(t *testing.T) {
		t.Parallel()
		p := setup(t)
		insert(t, p,
			doc(p, 0, "Quarterly report", "Revenue grew strongly in the third quarter thanks to enterprise customers. Churn fell."),
			doc(p, 1, "Hiring plan", "We plan to hire two engineers and a customer success manager next year."),
			doc(p, 2, "Customer interview notes", "Customers asked for SSO, audit logs and faster exports."),
			doc(p, 3, "Lunch menu", "Soup, salad and bread on Friday."))
		search := func(q *wsdriver.Query, first int) []*wsdriver.Hit {
			t.Helper()
			var hits []*wsdriver.Hit
			view(t, p, func(r wsdriver.Reader) {
				var err error
				hits, err = r.Search(ctx, wsdriver.SearchParams{Query: q, First: first, SnippetChars: 20, Window: func(s string) string { return s }})
				require.NoError(t, err)
			})
			return hits
		}
		hits := search(&wsdriver.Query{Groups: [][]string{{"customer"}}}, 10)
		require.Len(t, hits, 3, "stemming finds customers")
		require.Equal(t, "Customer interview notes", hits[0].Document.Title, "a title match ranks first")
		for i, h := range hits {
			require.Positive(t, h.Score)
			require.LessOrEqual(t, len([]rune(h.Document.Content)), 20, "only SnippetChars of the content are read")
			require.Equal(t, p.TenantID, h.Document.TenantID)
			if i > 0 {
				require.GreaterOrEqual(t, hits[i-1].Score, h.Score, "best first")
			}
		}
		require.Len(t, search(&wsdriver.Query{Groups: [][]string{{"customer"}}}, 1), 1, "at most First")
		require.NotContains(t, hitTitles(search(&wsdriver.Query{Groups: [][]string{{"customer"}}, Exclude: []string{"hire"}}, 10)), "Hiring plan")
		require.ElementsMatch(t, []string{"Customer interview notes", "Lunch menu"},
			hitTitles(search(&wsdriver.Query{Groups: [][]string{{"audit logs", "soup"}}}, 10)), "a phrase OR a word")
		require.Equal(t, []string{"Quarterly report"}, hitTitles(search(&wsdriver.Query{Groups: [][]string{{"revenue"}, {"churn"}}}, 10)), "groups are ANDed")
		require.Empty(t, search(&wsdriver.Query{Groups: [][]string{{"audit logs faster"}, {"lunch"}}}, 10))
		require.Empty(t, search(&wsdriver.Query{Groups: [][]string{{"kubernetes"}}}, 10))
		hits = search(&wsdriver.Query{Groups: [][]string{{"soup"}}}, 10)
		require.Len(t, hits, 1)
		require.Contains(t, hits[0].Snippet, "[Soup]", "the window's match is highlighted")
	})

	t.Run("TenantsApart", func(t *testing.T) {
		t.Parallel()
		a, b := setup(t), setup(t)
		insert(t, a, doc(a, 0, "alpha", "alpha words"))
		insert(t, b, doc(b, 0, "beta", "beta words"))
		write(t, a, func(tx wsdriver.Tx) error { _, _, err := tx.ReserveUpload(ctx, 11, 10, 100); return err })
		for _, c := range []struct {
			p            wsdriver.Placement
			mine, theirs string
		}{{a, "alpha", "beta"}, {b, "beta", "alpha"}} {
			view(t, c.p, func(r wsdriver.Reader) {
				docs, err := r.ScanDocuments(ctx, uuid.Nil, 10)
				require.NoError(t, err)
				require.Equal(t, []string{c.mine}, titles(docs))
				page, err := r.ListDocuments(ctx, wsdriver.ListParams{Limit: 10})
				require.NoError(t, err)
				require.Equal(t, []string{c.mine}, titles(page))
				hits, err := r.Search(ctx, wsdriver.SearchParams{Query: &wsdriver.Query{Groups: [][]string{{"words"}}}, First: 10, SnippetChars: 100, Window: strings.Clone})
				require.NoError(t, err)
				require.Equal(t, []string{c.mine}, hitTitles(hits))
				hits, err = r.Search(ctx, wsdriver.SearchParams{Query: &wsdriver.Query{Groups: [][]string{{c.theirs}}}, First: 10, SnippetChars: 100, Window: strings.Clone})
				require.NoError(t, err)
				require.Empty(t, hits)
				n, err := r.Count(ctx)
				require.NoError(t, err)
				require.EqualValues(t, 1, n.Documents)
			})
		}
		view(t, b, func(r wsdriver.Reader) {
			u, err := r.Usage(ctx)
			require.NoError(t, err)
			require.Zero(t, u.Documents, "counters are the tenant's own")
		})
	})

	t.Run("ScanInStableOrder", func(t *testing.T) {
		t.Parallel()
		p := setup(t)
		var docs []*wsdriver.Document
		for i := range 7 {
			docs = append(docs, doc(p, 7-i, fmt.Sprintf("doc %d", i), strings.Repeat("x", i+1)))
		}
		insert(t, p, docs...)
		var scanned []*wsdriver.Document
		view(t, p, func(r wsdriver.Reader) {
			after := uuid.Nil
			for {
				batch, err := r.ScanDocuments(ctx, after, 3)
				require.NoError(t, err)
				require.LessOrEqual(t, len(batch), 3)
				if len(batch) == 0 {
					break
				}
				scanned = append(scanned, batch...)
				after = batch[len(batch)-1].ID
			}
		})
		want := slices.Clone(docs)
		slices.SortFunc(want, func(x, y *wsdriver.Document) int { return strings.Compare(x.ID.String(), y.ID.String()) })
		require.Equal(t, want, scanned, "every document once, in id order, with its content")
	})

	t.Run("CopyAndVerify", func(t *testing.T) {
		t.Parallel()
		// A copy within one store: read the workspace out in batches,
		// destroy it, make it anew and write the batches back. (A pool
		// store cannot hold a second copy of the same rows; copies between
		// stores are tested by the workspace package's moves.)
		p := setup(t)
		var docs []*wsdriver.Document
		for i := range 5 {
			docs = append(docs, doc(p, i, fmt.Sprintf("doc %d", i), fmt.Sprintf("content number %d", i)))
		}
		insert(t, p, docs...)
		write(t, p, func(tx wsdriver.Tx) error {
			if _, _, err := tx.CountQuery(ctx, "2026-12", 100); err != nil {
				return err
			}
			if err := tx.LogQuery(ctx, &wsdriver.QueryLogEntry{ID: uuid.Must(uuid.NewV7()), TenantID: p.TenantID, Query: "content", Hits: 5, CreatedAt: base}); err != nil {
				return err
			}
			return tx.SetUsage(ctx, wsdriver.Counters{Documents: 5, Bytes: sizes(docs), Queries: 1, QueryMonth: "2026-12"})
		})
		sum := func() (s string) {
			t.Helper()
			view(t, p, func(r wsdriver.Reader) {
				var err error
				s, err = r.Checksum(ctx)
				require.NoError(t, err)
			})
			return s
		}
		original := sum()
		require.Equal(t, original, sum(), "a checksum is stable")

		var (
			batches []wsdriver.Batch
			usage   wsdriver.Counters
		)
		view(t, p, func(r wsdriver.Reader) {
			after := uuid.Nil
			for {
				ds, err := r.ScanDocuments(ctx, after, 2)
				require.NoError(t, err)
				if len(ds) == 0 {
					break
				}
				batches = append(batches, wsdriver.Batch{Documents: ds})
				after = ds[len(ds)-1].ID
			}
			log, err := r.ScanQueryLog(ctx, uuid.Nil, 100)
			require.NoError(t, err)
			batches = append(batches, wsdriver.Batch{QueryLog: log})
			usage, err = r.Usage(ctx)
			require.NoError(t, err)
		})
		require.Len(t, batches, 4, "three batches of documents, one of the query log")
		_, cleanup, err := d.Destroy(ctx, nil, p)
		require.NoError(t, err)
		require.NoError(t, cleanup())
		require.NoError(t, d.Create(ctx, nil, p))
		empty := sum()
		require.NotEqual(t, original, empty)
		restore := func() {
			t.Helper()
			for _, b := range batches {
				write(t, p, func(tx wsdriver.Tx) error { return tx.WriteBatch(ctx, b) })
			}
			write(t, p, func(tx wsdriver.Tx) error { return tx.SetUsage(ctx, usage) })
		}
		restore()
		require.Equal(t, original, sum(), "the copy has the original's checksum")
		restore()
		require.Equal(t, original, sum(), "writing the batches again changes nothing")
		view(t, p, func(r wsdriver.Reader) {
			c, err := r.Count(ctx)
			require.NoError(t, err)
			require.Equal(t, wsdriver.Counts{Documents: 5, Bytes: sizes(docs), Queries: 1}, c)
			got, err := r.Document(ctx, docs[3].ID, true)
			require.NoError(t, err)
			require.Equal(t, docs[3], got, "ids and times are kept")
			hits, err := r.Search(ctx, wsdriver.SearchParams{Query: &wsdriver.Query{Groups: [][]string{{"number"}}}, First: 10, SnippetChars: 100, Window: strings.Clone})
			require.NoError(t, err)
			require.Len(t, hits, 5, "written documents are indexed")
		})
		insert(t, p, doc(p, 9, "late", "a late document"))
		changed := sum()
		require.NotEqual(t, original, changed, "a new document changes the checksum")
		write(t, p, func(tx wsdriver.Tx) error { _, _, err := tx.CountQuery(ctx, "2026-12", 100); return err })
		require.NotEqual(t, changed, sum(), "a counter changes the checksum")
	})

	t.Run("ChangeLog", func(t *testing.T) {
		t.Parallel()
		p := setup(t)
		before := doc(p, 0, "before", "written before tracking")
		insert(t, p, before)
		tracked := []*wsdriver.Document{doc(p, 1, "one", "tracked one"), doc(p, 2, "two", "tracked two")}
		entry := &wsdriver.QueryLogEntry{ID: uuid.Must(uuid.NewV7()), TenantID: p.TenantID, Query: "tracked", Hits: 2, CreatedAt: base}
		write(t, p, func(tx wsdriver.Tx) error {
			tx.TrackChanges()
			for _, dc := range tracked {
				if err := tx.InsertDocument(ctx, dc); err != nil {
					return err
				}
			}
			return tx.LogQuery(ctx, entry)
		})
		// A rolled-back tracked write leaves no entry.
		require.Error(t, d.Write(ctx, nil, p, func(ctx context.Context, tx wsdriver.Tx) error {
			tx.TrackChanges()
			if err := tx.InsertDocument(ctx, doc(p, 3, "gone", "rolled back")); err != nil {
				return err
			}
			return errors.New("roll back")
		}))
		var changes []wsdriver.Change
		view(t, p, func(r wsdriver.Reader) {
			var err error
			changes, err = r.Changes(ctx, 0, 10)
			require.NoError(t, err)
			require.Len(t, changes, 3, "the tracked rows, not the earlier one nor the rolled-back one")
			require.Equal(t, []wsdriver.Change{{Seq: changes[0].Seq, Table: wsdriver.TableDocuments, RowID: tracked[0].ID},
				{Seq: changes[1].Seq, Table: wsdriver.TableDocuments, RowID: tracked[1].ID},
				{Seq: changes[2].Seq, Table: wsdriver.TableQueryLog, RowID: entry.ID}}, changes)
			rest, err := r.Changes(ctx, changes[0].Seq, 10)
			require.NoError(t, err)
			require.Equal(t, changes[1:], rest, "after a sequence number")

			got, err := r.DocumentsByID(ctx, []uuid.UUID{tracked[1].ID, uuid.New(), tracked[0].ID})
			require.NoError(t, err)
			require.Len(t, got, 2, "the ones that exist")
			for i, g := range got {
				require.Equal(t, wsdriver.DocumentDigest(tracked[i]), wsdriver.DocumentDigest(g), "with their content, in id order")
			}
			log, err := r.QueryLogByID(ctx, []uuid.UUID{entry.ID})
			require.NoError(t, err)
			require.Len(t, log, 1)
			require.Equal(t, wsdriver.QueryLogDigest(entry), wsdriver.QueryLogDigest(log[0]))
			full, err := r.Count(ctx)
			require.NoError(t, err)
			rows, err := r.CountRows(ctx)
			require.NoError(t, err)
			require.Equal(t, wsdriver.Counts{Documents: 3, Queries: 1}, rows)
			require.Equal(t, wsdriver.Counts{Documents: full.Documents, Queries: full.Queries}, rows, "CountRows is Count without the bytes")
			both, seqs, err := r.CountRowsAndChanges(ctx)
			require.NoError(t, err)
			require.Equal(t, rows, both)
			require.ElementsMatch(t, []int64{changes[0].Seq, changes[1].Seq, changes[2].Seq}, seqs, "with the change log's sequence numbers")
			heads, err := r.ScanDocumentHeads(ctx, uuid.Nil, 10)
			require.NoError(t, err)
			require.Len(t, heads, 3)
			require.Empty(t, heads[0].Content, "heads come without content")
			require.EqualValues(t, len(before.Content), heads[0].SizeBytes)
		})
		write(t, p, func(tx wsdriver.Tx) error { return tx.ForgetChanges(ctx, []int64{changes[0].Seq, changes[2].Seq}) })
		view(t, p, func(r wsdriver.Reader) {
			left, err := r.Changes(ctx, 0, 10)
			require.NoError(t, err)
			require.Equal(t, changes[1:2], left)
		})
		write(t, p, func(tx wsdriver.Tx) error { return tx.ClearChanges(ctx) })
		view(t, p, func(r wsdriver.Reader) {
			left, err := r.Changes(ctx, 0, 10)
			require.NoError(t, err)
			require.Empty(t, left)
		})
	})

	t.Run("ViewTimeout", func(t *testing.T) {
		t.Parallel()
		p := setup(t)
		// Within 5 s: past the outer deadline the error would not be ErrTimeout.
		bounded, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		err := d.View(bounded, nil, p, wsdriver.ViewOptions{Timeout: 100 * time.Millisecond}, func(ctx context.Context, r wsdriver.Reader) error {
			_, err := r.Querier().ExecContext(ctx, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c`)
			return err
		})
		require.ErrorIs(t, err, wsdriver.ErrTimeout)
		view(t, p, func(r wsdriver.Reader) {
			_, err := r.Usage(ctx)
			require.NoError(t, err, "the next view answers")
		})
	})

	t.Run("SnapshotView", func(t *testing.T) {
		t.Parallel()
		p := setup(t)
		insert(t, p, doc(p, 0, "before", "written before the snapshot"))
		logQuery := func(q string) {
			write(t, p, func(tx wsdriver.Tx) error {
				return tx.LogQuery(ctx, &wsdriver.QueryLogEntry{ID: uuid.Must(uuid.NewV7()), TenantID: p.TenantID, Query: q, CreatedAt: base})
			})
		}
		logQuery("before")
		// What the view sees is checked after it ends: a failing require
		// inside it would leave its transaction open.
		var (
			first, again wsdriver.Counts
			docs, heads  []*wsdriver.Document
			log          []*wsdriver.QueryLogEntry
			usage        wsdriver.Counters
		)
		require.NoError(t, d.View(ctx, nil, p, wsdriver.ViewOptions{Snapshot: true}, func(ctx context.Context, r wsdriver.Reader) error {
			var err error
			if first, err = r.CountRows(ctx); err != nil {
				return err
			}
			// Writes commit beside the open snapshot (they do not wait for it)…
			for _, w := range []func(context.Context) error{
				func(ctx context.Context) error {
					return d.Write(ctx, nil, p, func(ctx context.Context, tx wsdriver.Tx) error {
						return tx.InsertDocument(ctx, doc(p, 1, "after", "written while the snapshot is open"))
					})
				},
				func(ctx context.Context) error {
					return d.Write(ctx, nil, p, func(ctx context.Context, tx wsdriver.Tx) error {
						return tx.LogQuery(ctx, &wsdriver.QueryLogEntry{ID: uuid.Must(uuid.NewV7()), TenantID: p.TenantID, Query: "after", CreatedAt: base})
					})
				},
				func(ctx context.Context) error {
					return d.Write(ctx, nil, p, func(ctx context.Context, tx wsdriver.Tx) error {
						return tx.SetUsage(ctx, wsdriver.Counters{Documents: 9})
					})
				},
			} {
				if err := w(ctx); err != nil {
					return err
				}
			}
			// …and none of them is seen by any later statement of the view.
			if again, err = r.CountRows(ctx); err != nil {
				return err
			}
			if docs, err = r.ScanDocuments(ctx, uuid.Nil, 10); err != nil {
				return err
			}
			if heads, err = r.ScanDocumentHeads(ctx, uuid.Nil, 10); err != nil {
				return err
			}
			if log, err = r.ScanQueryLog(ctx, uuid.Nil, 10); err != nil {
				return err
			}
			usage, err = r.Usage(ctx)
			return err
		}))
		require.Equal(t, wsdriver.Counts{Documents: 1, Queries: 1}, first)
		require.Equal(t, first, again, "a write committed after the snapshot began is not seen")
		require.Equal(t, []string{"before"}, titles(docs))
		require.Len(t, heads, 1)
		require.Len(t, log, 1)
		require.Equal(t, "before", log[0].Query)
		require.Zero(t, usage.Documents, "the usage counters are read in the snapshot too")
		view(t, p, func(r wsdriver.Reader) {
			c, err := r.CountRows(ctx)
			require.NoError(t, err)
			require.Equal(t, wsdriver.Counts{Documents: 2, Queries: 2}, c, "a view after the snapshot sees the writes")
		})
		// The snapshot's connection went back clean: views and writes go on.
		insert(t, p, doc(p, 2, "later", "text"))
		view(t, p, func(r wsdriver.Reader) {
			c, err := r.CountRows(ctx)
			require.NoError(t, err)
			require.EqualValues(t, 3, c.Documents)
		})
	})

	t.Run("Destroy", func(t *testing.T) {
		t.Parallel()
		p, other := setup(t), setup(t)
		insert(t, p, doc(p, 0, "doomed", "text"))
		insert(t, other, doc(other, 0, "kept", "text"))
		var (
			report  map[string]any
			cleanup func() error
		)
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, main *store.Tx) error {
			var err error
			report, cleanup, err = d.Destroy(ctx, main, p)
			return err
		}))
		require.NotEmpty(t, report)
		require.NoError(t, cleanup())
		require.NoError(t, d.Create(ctx, nil, p), "made anew after destruction")
		view(t, p, func(r wsdriver.Reader) {
			c, err := r.Count(ctx)
			require.NoError(t, err)
			require.Equal(t, wsdriver.Counts{}, c, "nothing of the destroyed workspace is left")
		})
		view(t, other, func(r wsdriver.Reader) {
			c, err := r.Count(ctx)
			require.NoError(t, err)
			require.EqualValues(t, 1, c.Documents, "another tenant's workspace is untouched")
		})
	})
}

func titles(ds []*wsdriver.Document) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.Title)
	}
	return out
}

func hitTitles(hs []*wsdriver.Hit) []string {
	out := []string{}
	for _, h := range hs {
		out = append(out, h.Document.Title)
	}
	return out
}

func sizes(ds []*wsdriver.Document) int64 {
	var n int64
	for _, d := range ds {
		n += d.SizeBytes
	}
	return n
}
