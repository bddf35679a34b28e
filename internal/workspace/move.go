package workspace

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/store"
	"github.com/tenantd/tenantd/internal/workspace/wsdriver"
)

// Moving a workspace online, between any two stores, in phases that each
// commit as they go and resume after a crash (internal/planchange runs
// them as the steps of a CHANGE_PLAN operation):
//
//  1. BeginMove makes the empty target and records it on the placement,
//     with the tenant's write gate closed for that instant: every write
//     that commits afterwards also records its row in the source's change
//     log (wsdriver.Tx.TrackChanges), in its own transaction; every write
//     before it is visible to the copy.
//  2. CopyBatch copies the source in id order, a bounded batch at a time;
//     the cursor is the caller's to keep.
//  3. CatchUp copies the rows of the change log, reads them back from the
//     target, compares them with the source and forgets them. Nothing in
//     it relies on id order or commit order: the log is emptied by
//     deletion, so a row whose transaction commits late is read late.
//  4. VerifyBatch compares every row of the source with the target's
//     (digests of every column); a row not yet in the target must be in
//     the change log, still to be caught up. Rows are never changed once
//     written, so a row verified once stays verified.
//  5. Switch counts the rows of source and target, closes the write gate,
//     catches up the last rows (verifying each and adding them to the
//     counts), sets the target's usage counters, compares row counts and
//     usage of source and target, and switches the placement in the
//     same transaction as the caller's own writes (the plan change). The
//     source stays until the caller destroys it (DestroyAtTx), after the
//     switch has committed and no read may still be on it.
//
// Verification is always on: a difference fails the phase with an error
// naming the table, the row and what differs, and the tenant stays on its
// source, untouched (AbandonMoveTx removes the target).

// MoveCursor is where a bulk copy or a verification pass is: the table it
// is in and the last id it finished. The zero cursor is the start; Done
// says it has finished both tables.
type MoveCursor struct {
	Table string    `json:"table,omitempty"`
	After uuid.UUID `json:"after"`
	Done  bool      `json:"done,omitempty"`
}

// MoveStats counts what a phase copied or compared.
type MoveStats struct {
	Rows  int64
	Bytes int64
}

// Batch bounds of a move: rows per batch, and about how many bytes of
// content (a document may be 10 MiB; a batch holds at least one).
const (
	moveBatchRows  = 500
	moveBatchBytes = 4 << 20
	catchUpRows    = 500
)

// MoveHook is told of a move's events, for tests (a crash or a corruption
// in a given phase). Production code leaves it nil.
type MoveHook func(event string, target wsdriver.Placement)

// SetMoveHook sets the Service's MoveHook: "copied" after each batch the
// bulk copy wrote to the target, "switch" inside Switch's transaction
// before it commits, "switched" after it committed.
func (s *Service) SetMoveHook(h MoveHook) { s.moveHook = h }

func (s *Service) hook(event string, target wsdriver.Placement) {
	if s.moveHook != nil {
		s.moveHook(event, target)
	}
}

// BeginMove starts moving the tenant's workspace to the store of the
// isolation to (see BeginMoveTx), with the tenant's write gate closed while
// it records the target: a write in flight finishes first, so it either
// committed before the target existed (and the copy sees it) or tracks its
// changes. A fresh move empties the source's change log first. Idempotent.
func (s *Service) BeginMove(ctx context.Context, tenantID uuid.UUID, to tenantd.Isolation) (*Placement, error) {
	var out *Placement
	err := s.Cutover(ctx, tenantID, func(ctx context.Context, tx *store.Tx, p *Placement) error {
		if p.Target == nil && p.Isolation != to {
			// The source's change log: a silo made before it existed gets
			// it now (Create is idempotent), and it starts empty.
			d, err := s.driverOf(p.Placement)
			if err != nil {
				return err
			}
			if err := d.Create(ctx, tx, p.Placement); err != nil {
				return fmt.Errorf("prepare the source of a move: %w", err)
			}
			if err := s.WriteAt(ctx, tx, p.Placement, func(ctx context.Context, w wsdriver.Tx) error { return w.ClearChanges(ctx) }); err != nil {
				return err
			}
		}
		var err error
		out, err = s.BeginMoveTx(ctx, tx, tenantID, to)
		return err
	})
	return out, err
}

// MoveTotals counts what the move's source holds now, for progress.
func (s *Service) MoveTotals(ctx context.Context, m *Placement) (wsdriver.Counts, error) {
	var c wsdriver.Counts
	err := s.ViewAt(ctx, m.Placement, func(ctx context.Context, r wsdriver.Reader) (err error) {
		c, err = r.Count(ctx)
		return err
	})
	return c, err
}

func moving(m *Placement) (wsdriver.Placement, error) {
	if m.Target == nil {
		return wsdriver.Placement{}, tenantd.Errorf(tenantd.ECONFLICT, "the workspace of tenant %s has no move under way", m.TenantID)
	}
	return *m.Target, nil
}

// nextDocuments reads the source's next documents after after in id order
// with their content, bounded by moveBatchRows and moveBatchBytes.
func nextDocuments(ctx context.Context, r wsdriver.Reader, after uuid.UUID) ([]*wsdriver.Document, error) {
	heads, err := r.ScanDocumentHeads(ctx, after, moveBatchRows)
	if err != nil || len(heads) == 0 {
		return nil, err
	}
	n, bytes := 0, int64(0)
	for n < len(heads) && (n == 0 || bytes+heads[n].SizeBytes <= moveBatchBytes) {
		bytes += heads[n].SizeBytes
		n++
	}
	return r.ScanDocuments(ctx, after, n)
}

// CopyBatch copies the next batch of the bulk copy after cur — documents
// first, then the query log, each in id order — into the move's target,
// and returns the cursor after it. Rows there already are skipped, so a
// batch copied again after a crash changes nothing.
func (s *Service) CopyBatch(ctx context.Context, m *Placement, cur MoveCursor) (MoveCursor, MoveStats, error) {
	target, err := moving(m)
	if err != nil || cur.Done {
		return cur, MoveStats{}, err
	}
	var (
		batch wsdriver.Batch
		st    MoveStats
		next  = cur
	)
	if next.Table == "" {
		next.Table = wsdriver.TableDocuments
	}
	err = s.ViewAt(ctx, m.Placement, func(ctx context.Context, r wsdriver.Reader) error {
		if next.Table == wsdriver.TableDocuments {
			docs, err := nextDocuments(ctx, r, next.After)
			if err != nil {
				return err
			}
			if len(docs) == 0 {
				next = MoveCursor{Table: wsdriver.TableQueryLog}
			} else {
				batch.Documents, next.After = docs, docs[len(docs)-1].ID
				for _, d := range docs {
					st.Rows++
					st.Bytes += d.SizeBytes
				}
				return nil
			}
		}
		log, err := r.ScanQueryLog(ctx, next.After, moveBatchRows)
		if err != nil {
			return err
		}
		if len(log) == 0 {
			next.Done = true
			return nil
		}
		batch.QueryLog, next.After = log, log[len(log)-1].ID
		st.Rows += int64(len(log))
		return nil
	})
	if err != nil {
		return cur, MoveStats{}, fmt.Errorf("read the source of the move: %w", err)
	}
	if len(batch.Documents)+len(batch.QueryLog) > 0 {
		if err := s.WriteAt(ctx, nil, target, func(ctx context.Context, tx wsdriver.Tx) error { return tx.WriteBatch(ctx, batch) }); err != nil {
			return cur, MoveStats{}, fmt.Errorf("write the target of the move: %w", err)
		}
		s.hook("copied", target)
	}
	return next, st, nil
}

// ErrVerification is wrapped by every error that says a move's target
// differs from its source: no retry mends it.
var ErrVerification = errors.New("verification failed")

func verificationError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrVerification}, args...)...)
}

// VerifyBatch compares the next batch of the source after cur, row by row,
// with the target and returns the cursor after it. A row missing from the
// target must be in the change log (written after the last catch-up);
// otherwise, and for a row whose columns differ, it returns an error
// naming the table, the row and the difference.
func (s *Service) VerifyBatch(ctx context.Context, m *Placement, cur MoveCursor) (MoveCursor, MoveStats, error) {
	target, err := moving(m)
	if err != nil || cur.Done {
		return cur, MoveStats{}, err
	}
	next := cur
	if next.Table == "" {
		next.Table = wsdriver.TableDocuments
	}
	var (
		st      MoveStats
		want    = map[uuid.UUID][32]byte{}
		wantIDs []uuid.UUID
		table   string
	)
	err = s.ViewAt(ctx, m.Placement, func(ctx context.Context, r wsdriver.Reader) error {
		if next.Table == wsdriver.TableDocuments {
			docs, err := nextDocuments(ctx, r, next.After)
			if err != nil {
				return err
			}
			if len(docs) > 0 {
				table, next.After = wsdriver.TableDocuments, docs[len(docs)-1].ID
				for _, d := range docs {
					want[d.ID], wantIDs = wsdriver.DocumentDigest(d), append(wantIDs, d.ID)
					st.Rows++
					st.Bytes += d.SizeBytes
				}
				return nil
			}
			next = MoveCursor{Table: wsdriver.TableQueryLog}
		}
		log, err := r.ScanQueryLog(ctx, next.After, moveBatchRows)
		if err != nil {
			return err
		}
		if len(log) == 0 {
			next.Done = true
			return nil
		}
		table, next.After = wsdriver.TableQueryLog, log[len(log)-1].ID
		for _, e := range log {
			want[e.ID], wantIDs = wsdriver.QueryLogDigest(e), append(wantIDs, e.ID)
		}
		st.Rows += int64(len(log))
		return nil
	})
	if err != nil {
		return cur, MoveStats{}, fmt.Errorf("read the source of the move: %w", err)
	}
	if len(wantIDs) == 0 {
		return next, st, nil
	}
	got := map[uuid.UUID][32]byte{}
	err = s.ViewAt(ctx, target, func(ctx context.Context, r wsdriver.Reader) error {
		return readDigests(ctx, r, table, wantIDs, got)
	})
	if err != nil {
		return cur, MoveStats{}, fmt.Errorf("read the target of the move: %w", err)
	}
	var missing []uuid.UUID
	for _, id := range wantIDs {
		g, ok := got[id]
		switch {
		case !ok:
			missing = append(missing, id)
		case g != want[id]:
			w := want[id]
			return cur, MoveStats{}, verificationError("table %s, row %s: the target's copy differs from the source (digest %x, source %x)",
				table, id, g[:8], w[:8])
		}
	}
	if len(missing) > 0 {
		pending, err := s.pendingChanges(ctx, m.Placement)
		if err != nil {
			return cur, MoveStats{}, err
		}
		for _, id := range missing {
			if !pending[id] {
				return cur, MoveStats{}, verificationError("table %s, row %s: in the source, missing from the target", table, id)
			}
		}
	}
	return next, st, nil
}

// readDigests digests the rows of table with those ids that r holds.
func readDigests(ctx context.Context, r wsdriver.Reader, table string, ids []uuid.UUID, into map[uuid.UUID][32]byte) error {
	if table == wsdriver.TableDocuments {
		docs, err := r.DocumentsByID(ctx, ids)
		for _, d := range docs {
			into[d.ID] = wsdriver.DocumentDigest(d)
		}
		return err
	}
	log, err := r.QueryLogByID(ctx, ids)
	for _, e := range log {
		into[e.ID] = wsdriver.QueryLogDigest(e)
	}
	return err
}

// pendingChanges returns the row ids in the source's change log.
func (s *Service) pendingChanges(ctx context.Context, source wsdriver.Placement) (map[uuid.UUID]bool, error) {
	out := map[uuid.UUID]bool{}
	err := s.ViewAt(ctx, source, func(ctx context.Context, r wsdriver.Reader) error {
		var after int64
		for {
			cs, err := r.Changes(ctx, after, 1000)
			if err != nil || len(cs) == 0 {
				return err
			}
			for _, c := range cs {
				out[c.RowID] = true
			}
			after = cs[len(cs)-1].Seq
		}
	})
	return out, err
}

// CatchUp copies up to catchUpRows rows of the source's change log to the
// target, reads them back and compares them with the source, then forgets
// them; it returns how many it copied (0: the log is empty). main is the
// transaction of Switch, or nil.
func (s *Service) CatchUp(ctx context.Context, main *store.Tx, m *Placement) (MoveStats, error) {
	return s.catchUp(ctx, main, m, nil)
}

// tally counts, for Switch, what its catch-ups found: the rows of change
// log entries that were not in the snapshot (known) that the source's
// counts were taken in, and the rows they inserted into the target.
type tally struct {
	known              map[int64]bool
	newDocs, newQuery  int64
	addedDocs, addedQs int64
}

func (s *Service) catchUp(ctx context.Context, main *store.Tx, m *Placement, tl *tally) (MoveStats, error) {
	target, err := moving(m)
	if err != nil {
		return MoveStats{}, err
	}
	var st MoveStats
	// The source is read in a write transaction: inside Switch it must see
	// what Switch's transaction forgot already.
	err = s.WriteAt(ctx, main, m.Placement, func(ctx context.Context, src wsdriver.Tx) error {
		changes, err := src.Changes(ctx, 0, catchUpRows)
		if err != nil || len(changes) == 0 {
			return err
		}
		var (
			seqs         []int64
			docIDs, qIDs []uuid.UUID
		)
		for _, c := range changes {
			seqs = append(seqs, c.Seq)
			isDoc := c.Table == wsdriver.TableDocuments
			if isDoc {
				docIDs = append(docIDs, c.RowID)
			} else {
				qIDs = append(qIDs, c.RowID)
			}
			if tl != nil && !tl.known[c.Seq] {
				if isDoc {
					tl.newDocs++
				} else {
					tl.newQuery++
				}
			}
		}
		var b wsdriver.Batch
		if b.Documents, err = src.DocumentsByID(ctx, docIDs); err != nil {
			return err
		}
		if b.QueryLog, err = src.QueryLogByID(ctx, qIDs); err != nil {
			return err
		}
		want := map[uuid.UUID][32]byte{}
		for _, d := range b.Documents {
			want[d.ID] = wsdriver.DocumentDigest(d)
			st.Bytes += d.SizeBytes
		}
		for _, e := range b.QueryLog {
			want[e.ID] = wsdriver.QueryLogDigest(e)
		}
		if len(want) != len(docIDs)+len(qIDs) {
			return verificationError("%d rows of the change log are missing from the source", len(docIDs)+len(qIDs)-len(want))
		}
		st.Rows = int64(len(want))
		err = s.WriteAt(ctx, main, target, func(ctx context.Context, dst wsdriver.Tx) error {
			if tl != nil {
				// What the target holds already is not added by this write.
				there := map[uuid.UUID][32]byte{}
				if err := readDigests(ctx, dst, wsdriver.TableDocuments, docIDs, there); err != nil {
					return err
				}
				tl.addedDocs += int64(len(docIDs) - len(there))
				there = map[uuid.UUID][32]byte{}
				if err := readDigests(ctx, dst, wsdriver.TableQueryLog, qIDs, there); err != nil {
					return err
				}
				tl.addedQs += int64(len(qIDs) - len(there))
			}
			if err := dst.WriteBatch(ctx, b); err != nil {
				return err
			}
			got := map[uuid.UUID][32]byte{}
			if err := readDigests(ctx, dst, wsdriver.TableDocuments, docIDs, got); err != nil {
				return err
			}
			if err := readDigests(ctx, dst, wsdriver.TableQueryLog, qIDs, got); err != nil {
				return err
			}
			for id, w := range want {
				if got[id] != w {
					table := wsdriver.TableQueryLog
					for _, d := range docIDs {
						if d == id {
							table = wsdriver.TableDocuments
						}
					}
					return verificationError("table %s, row %s: the target's copy differs from the source", table, id)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		return src.ForgetChanges(ctx, seqs)
	})
	return st, err
}

// SwitchResult is what Switch did.
type SwitchResult struct {
	// From is the placement moved from, still holding its copy.
	From wsdriver.Placement
	// Pause is how long the tenant's writes were held, on the Service's
	// clock (0 on a fake clock that nobody advances).
	Pause time.Duration
	// CaughtUp counts the rows copied while writes were held.
	CaughtUp MoveStats
	// Counts are what source and target both hold.
	Counts wsdriver.Counts
}

// Switch ends the move at the placement generation it began at: with the
// tenant's writes held, it copies and verifies the rest of the change log,
// gives the target the source's usage counters, compares counts, bytes and
// usage of both, switches the placement and runs fn, all in one
// transaction of the main database. A difference fails it with the
// placement unchanged.
//
// Returns CONFLICT when the placement is not at generation or has no move
// under way (a Switch that committed already: the caller checks).
func (s *Service) Switch(ctx context.Context, tenantID uuid.UUID, generation int, fn func(ctx context.Context, tx *store.Tx, from wsdriver.Placement) error) (*SwitchResult, error) {
	res := &SwitchResult{}
	// The counts are taken before writes are held, so that holding them
	// costs no scan: the source's rows and its change log in one snapshot,
	// the target's rows (only this move writes the target). With writes
	// held, what the catch-ups find is added: a change log entry not in
	// the snapshot is a row the source's counts miss; a row the target did
	// not hold is one its counts miss.
	before, err := s.Placement(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if before.Target == nil || before.Generation != generation {
		return nil, tenantd.Errorf(tenantd.ECONFLICT, "the workspace of tenant %s is at generation %d with no move from generation %d to switch",
			tenantID, before.Generation, generation)
	}
	var (
		source, target wsdriver.Counts
		known          = map[int64]bool{}
	)
	if err := s.ViewAt(ctx, before.Placement, func(ctx context.Context, r wsdriver.Reader) error {
		c, seqs, err := r.CountRowsAndChanges(ctx)
		source = c
		for _, q := range seqs {
			known[q] = true
		}
		return err
	}); err != nil {
		return nil, fmt.Errorf("count the source of the move: %w", err)
	}
	if err := s.ViewAt(ctx, *before.Target, func(ctx context.Context, r wsdriver.Reader) (err error) {
		target, err = r.CountRows(ctx)
		return err
	}); err != nil {
		return nil, fmt.Errorf("count the target of the move: %w", err)
	}
	err = s.Cutover(ctx, tenantID, func(ctx context.Context, tx *store.Tx, p *Placement) error {
		start := s.now()
		defer func() { res.Pause = s.now().Sub(start) }()
		if p.Target == nil || p.Generation != generation {
			return tenantd.Errorf(tenantd.ECONFLICT, "the workspace of tenant %s is at generation %d with no move from generation %d to switch",
				tenantID, p.Generation, generation)
		}
		if *p.Target != *before.Target {
			return tenantd.Errorf(tenantd.ECONFLICT, "the move of tenant %s changed its target meanwhile", tenantID)
		}
		tl := &tally{known: known}
		for {
			st, err := s.catchUp(ctx, tx, p, tl)
			if err != nil {
				return err
			}
			if st.Rows == 0 {
				break
			}
			res.CaughtUp.Rows += st.Rows
			res.CaughtUp.Bytes += st.Bytes
		}
		source.Documents += tl.newDocs
		source.Queries += tl.newQuery
		target.Documents += tl.addedDocs
		target.Queries += tl.addedQs
		var usage wsdriver.Counters
		err := s.WriteAt(ctx, tx, p.Placement, func(ctx context.Context, r wsdriver.Tx) (err error) {
			usage, err = r.Usage(ctx)
			return err
		})
		if err != nil {
			return err
		}
		err = s.WriteAt(ctx, tx, *p.Target, func(ctx context.Context, w wsdriver.Tx) error {
			if err := w.SetUsage(ctx, usage); err != nil {
				return err
			}
			// Bytes are not summed here (that reads every row): each row's
			// size is in the digest VerifyBatch and CatchUp compared, and
			// the usage counters, kept with every write, are compared below.
			for _, c := range []struct {
				table, what string
				src, dst    int64
			}{
				{wsdriver.TableDocuments, "rows", source.Documents, target.Documents},
				{wsdriver.TableQueryLog, "rows", source.Queries, target.Queries},
			} {
				if c.src != c.dst {
					return verificationError("table %s: the source holds %d %s, the target %d", c.table, c.src, c.what, c.dst)
				}
			}
			got, err := w.Usage(ctx)
			if err != nil {
				return err
			}
			if got != usage {
				return verificationError("table workspace_usage: the target's counters %+v differ from the source's %+v", got, usage)
			}
			return nil
		})
		if err != nil {
			return err
		}
		res.Counts = source
		res.Counts.Bytes = usage.Bytes
		from, err := s.SwitchTx(ctx, tx, tenantID, generation)
		if err != nil {
			return err
		}
		res.From = *from
		if fn != nil {
			if err := fn(ctx, tx, *from); err != nil {
				return err
			}
		}
		s.hook("switch", *p.Target)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.hook("switched", res.From)
	return res, nil
}

// Move runs a whole move in this process — BeginMove, the bulk copy, a
// catch-up, a verification pass, another catch-up and Switch (running fn
// in its transaction) — and returns Switch's result. It leaves the source
// in place: destroy it (DestroyAtTx) once no read may still be on it.
// Tools and tests use it; a CHANGE_PLAN operation runs the same phases as
// checkpointed steps.
func (s *Service) Move(ctx context.Context, tenantID uuid.UUID, to tenantd.Isolation, fn func(ctx context.Context, tx *store.Tx, from wsdriver.Placement) error) (*SwitchResult, error) {
	m, err := s.BeginMove(ctx, tenantID, to)
	if err != nil {
		return nil, err
	}
	for _, phase := range []func(context.Context, *Placement, MoveCursor) (MoveCursor, MoveStats, error){s.CopyBatch, s.VerifyBatch} {
		for cur := (MoveCursor{}); !cur.Done; {
			if cur, _, err = phase(ctx, m, cur); err != nil {
				return nil, err
			}
		}
		if err := s.CatchUpAll(ctx, m); err != nil {
			return nil, err
		}
	}
	return s.Switch(ctx, tenantID, m.Generation, fn)
}

// CatchUpAll runs CatchUp until the change log is empty or holds fewer
// rows than one batch (the rest is Switch's to copy with writes held).
func (s *Service) CatchUpAll(ctx context.Context, m *Placement) error {
	for {
		st, err := s.CatchUp(ctx, nil, m)
		if err != nil || st.Rows < catchUpRows {
			return err
		}
	}
}
