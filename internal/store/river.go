package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
)

// River rests when there is nothing to do. Out of the box it learns of work
// by polling: its producers fetch every FetchPollInterval, and on SQLite,
// which has no LISTEN, a listener polls a notification table (every 50 ms)
// and the leader renews its lease in a table (every 5 s). That kept an idle
// tenantd busy. Instead the driver River gets from RiverDriver announces work
// itself, so the poll can be a slow backstop:
//
//   - a job inserted as available wakes its queue's producers when the
//     inserting transaction commits, on both stores and whether or not
//     River's own insert notice (rate-limited per queue) went out;
//   - a job put back as available for later (a retry sooner than River's
//     scheduler interval, a snooze) wakes its queue when it is due, from a
//     timer of this process;
//   - on SQLite, notices between River's services (insert, leadership,
//     control) travel in memory, in process, after commit, and leadership is
//     held in memory: SQLite is one tenantd process (several replicas are
//     PostgreSQL only).
//
// One notice does not take this path: riversqlite's JobCancel writes its
// control notice to river_notification itself, so on SQLite a running job
// cancelled through River's client stops at the producer's next poll for
// cancellations (a minute) rather than at once. tenantd cancels no job that
// way (a worker ending its own job with river.JobCancel is unaffected).
//
// The wrapper overrides a few methods of River's driver interfaces, whose
// API River marks unstable: a River upgrade must re-check them (see
// riverdriver.Executor, riverdriver.Listener).

// riverTopicInsert is River's notification topic for available jobs
// (notifier.NotificationTopicInsert, internal to River); its payload names
// the queue.
const riverTopicInsert = "river_insert"

// riverTopicLeadership is River's topic for leadership changes.
const riverTopicLeadership = "river_leadership"

// riverRest is the per-database state of the announcing River driver.
type riverRest struct {
	notices noticeHub // SQLite: River's notices, in memory
	leader  memLeader // SQLite: River's leader, in memory
	// txs maps the open SQLite transactions of InTx to theirs, so that a
	// notice sent inside one is delivered when it commits.
	txs sync.Map // *sql.Tx → *Tx

	baseOnce sync.Once
	base     riverdriver.Driver[*sql.Tx]

	mu     sync.Mutex
	timers map[*time.Timer]struct{}
	closed bool
}

// riverBaseDriver is River's own driver over the database (one per
// database: the PostgreSQL driver caches what it learnt of the server).
func (db *DB) riverBaseDriver() riverdriver.Driver[*sql.Tx] {
	db.river.baseOnce.Do(func() {
		if db.IsPostgres() {
			db.river.base = riverdatabasesql.NewWithPgxListener(db.SQL, db.listenerPool)
		} else {
			db.river.base = riversqlite.New(db.SQL)
		}
	})
	return db.river.base
}

// RiverDriver returns the River driver over the same database/sql handle, so
// that River jobs can be inserted in tenantd's transactions. It is River's
// driver for the store, made to announce work instead of waiting to be
// polled (see riverRest).
func (db *DB) RiverDriver() riverdriver.Driver[*sql.Tx] {
	return &riverDriver{Driver: db.riverBaseDriver(), db: db}
}

type riverDriver struct {
	riverdriver.Driver[*sql.Tx]
	db *DB
}

func (d *riverDriver) GetExecutor() riverdriver.Executor {
	e := &riverExec{Executor: d.Driver.GetExecutor(), db: d.db}
	e.send = d.db.river.notices.deliver // outside a transaction: at once
	return e
}

func (d *riverDriver) GetListener(params *riverdriver.GetListenenerParams) riverdriver.Listener {
	if d.db.IsPostgres() {
		return d.Driver.GetListener(params)
	}
	return d.db.river.notices.listener(params.Schema)
}

// UnwrapExecutor wraps a transaction of tenantd's (River's InsertTx): on
// SQLite, notices sent in it are delivered when InTx commits it.
func (d *riverDriver) UnwrapExecutor(tx *sql.Tx) riverdriver.ExecutorTx {
	inner := d.Driver.UnwrapExecutor(tx)
	send := d.db.river.notices.deliver
	if outer, ok := d.db.river.txs.Load(tx); ok {
		outer := outer.(*Tx)
		send = func(ns []notice) { outer.OnCommit(func() { d.db.river.notices.deliver(ns) }) }
	}
	// A transaction InTx did not open is committed by its owner: its notices
	// go at once, and a fetch that runs before the commit leaves the job to
	// the next one (the backstop poll at the latest).
	return newRiverExecTx(d.db, inner, send)
}

func (d *riverDriver) UnwrapTx(execTx riverdriver.ExecutorTx) *sql.Tx {
	if w, ok := execTx.(*riverExecTx); ok {
		execTx = w.inner
	}
	return d.Driver.UnwrapTx(execTx)
}

// riverExec is River's executor, announcing the jobs it makes available and,
// on SQLite, keeping notices and leadership in memory.
type riverExec struct {
	riverdriver.Executor
	db *DB
	// send takes this executor's notices (SQLite): at once outside a
	// transaction, at commit inside one.
	send func([]notice)
}

func (e *riverExec) Begin(ctx context.Context) (riverdriver.ExecutorTx, error) {
	inner, err := e.Executor.Begin(ctx)
	if err != nil {
		return nil, err
	}
	t := newRiverExecTx(e.db, inner, nil)
	parent := e.send
	t.commit = func() {
		t.mu.Lock()
		ns := t.pending
		t.pending = nil
		t.mu.Unlock()
		if len(ns) > 0 {
			parent(ns) // the enclosing transaction's, for a savepoint
		}
	}
	return t, nil
}

func (e *riverExec) NotifyMany(ctx context.Context, params *riverdriver.NotifyManyParams) error {
	if e.db.IsPostgres() {
		return e.Executor.NotifyMany(ctx, params)
	}
	if len(params.Payload) > 0 {
		ns := make([]notice, len(params.Payload))
		for i, p := range params.Payload {
			ns[i] = notice{topic: params.Topic, payload: p}
		}
		e.send(ns)
	}
	return nil
}

// announce wakes the queues of the rows that are available now (through
// this executor: at commit inside a transaction), and arms a timer for
// those available later.
func (e *riverExec) announce(ctx context.Context, rows []*rivertype.JobRow) error {
	now := time.Now()
	var queues []string
	for _, r := range rows {
		if r == nil || r.State != rivertype.JobStateAvailable {
			continue
		}
		if r.ScheduledAt.After(now) {
			e.db.river.wakeAt(e.db, r.ScheduledAt, r.Queue)
			continue
		}
		if !slices.Contains(queues, r.Queue) {
			queues = append(queues, r.Queue)
		}
	}
	if len(queues) == 0 {
		return nil
	}
	return e.NotifyMany(ctx, insertNotice(queues))
}

func insertNotice(queues []string) *riverdriver.NotifyManyParams {
	payload := make([]string, len(queues))
	for i, q := range queues {
		b, _ := json.Marshal(struct {
			Queue string `json:"queue"`
		}{q})
		payload[i] = string(b)
	}
	return &riverdriver.NotifyManyParams{Topic: riverTopicInsert, Payload: payload}
}

func (e *riverExec) JobInsertFastMany(ctx context.Context, params *riverdriver.JobInsertFastManyParams) ([]*riverdriver.JobInsertFastResult, error) {
	res, err := e.Executor.JobInsertFastMany(ctx, params)
	if err != nil {
		return res, err
	}
	rows := make([]*rivertype.JobRow, 0, len(res))
	for _, r := range res {
		if !r.UniqueSkippedAsDuplicate {
			rows = append(rows, r.Job)
		}
	}
	return res, e.announce(ctx, rows)
}

func (e *riverExec) JobInsertFastManyNoReturning(ctx context.Context, params *riverdriver.JobInsertFastManyParams) (int, error) {
	n, err := e.Executor.JobInsertFastManyNoReturning(ctx, params)
	if err != nil || n == 0 {
		return n, err
	}
	rows := make([]*rivertype.JobRow, 0, len(params.Jobs))
	for _, j := range params.Jobs {
		r := &rivertype.JobRow{Queue: j.Queue, State: j.State}
		if j.ScheduledAt != nil {
			r.ScheduledAt = *j.ScheduledAt
		}
		rows = append(rows, r)
	}
	return n, e.announce(ctx, rows)
}

func (e *riverExec) JobInsertFull(ctx context.Context, params *riverdriver.JobInsertFullParams) (*rivertype.JobRow, error) {
	row, err := e.Executor.JobInsertFull(ctx, params)
	if err != nil {
		return row, err
	}
	return row, e.announce(ctx, []*rivertype.JobRow{row})
}

func (e *riverExec) JobInsertFullMany(ctx context.Context, params *riverdriver.JobInsertFullManyParams) ([]*rivertype.JobRow, error) {
	rows, err := e.Executor.JobInsertFullMany(ctx, params)
	if err != nil {
		return rows, err
	}
	return rows, e.announce(ctx, rows)
}

func (e *riverExec) JobRetry(ctx context.Context, params *riverdriver.JobRetryParams) (*rivertype.JobRow, error) {
	row, err := e.Executor.JobRetry(ctx, params)
	if err != nil {
		return row, err
	}
	return row, e.announce(ctx, []*rivertype.JobRow{row})
}

// JobSetStateIfRunningMany is how River records a finished attempt. A retry
// due within River's scheduler interval, and a snooze, go back to available
// with a later scheduled_at, which only a fetch after that moment finds: a
// timer wakes the queue then.
func (e *riverExec) JobSetStateIfRunningMany(ctx context.Context, params *riverdriver.JobSetStateIfRunningManyParams) ([]*rivertype.JobRow, error) {
	rows, err := e.Executor.JobSetStateIfRunningMany(ctx, params)
	if err != nil {
		return rows, err
	}
	return rows, e.announce(ctx, rows)
}

func (e *riverExec) LeaderAttemptElect(ctx context.Context, params *riverdriver.LeaderElectParams) (*riverdriver.Leader, error) {
	if e.db.IsPostgres() {
		return e.Executor.LeaderAttemptElect(ctx, params)
	}
	return e.db.river.leader.elect(params)
}

func (e *riverExec) LeaderAttemptReelect(ctx context.Context, params *riverdriver.LeaderReelectParams) (*riverdriver.Leader, error) {
	if e.db.IsPostgres() {
		return e.Executor.LeaderAttemptReelect(ctx, params)
	}
	return e.db.river.leader.reelect(params)
}

func (e *riverExec) LeaderDeleteExpired(ctx context.Context, params *riverdriver.LeaderDeleteExpiredParams) (int, error) {
	if e.db.IsPostgres() {
		return e.Executor.LeaderDeleteExpired(ctx, params)
	}
	return e.db.river.leader.deleteExpired(params.Now), nil
}

func (e *riverExec) LeaderGetElectedLeader(ctx context.Context, params *riverdriver.LeaderGetElectedLeaderParams) (*riverdriver.Leader, error) {
	if e.db.IsPostgres() {
		return e.Executor.LeaderGetElectedLeader(ctx, params)
	}
	return e.db.river.leader.get()
}

func (e *riverExec) LeaderInsert(ctx context.Context, params *riverdriver.LeaderInsertParams) (*riverdriver.Leader, error) {
	if e.db.IsPostgres() {
		return e.Executor.LeaderInsert(ctx, params)
	}
	return e.db.river.leader.insert(params), nil
}

func (e *riverExec) LeaderResign(ctx context.Context, params *riverdriver.LeaderResignParams) (bool, error) {
	if e.db.IsPostgres() {
		return e.Executor.LeaderResign(ctx, params)
	}
	if !e.db.river.leader.resign(params) {
		return false, nil
	}
	// As River's resignation query does: followers bid at once.
	b, _ := json.Marshal(map[string]string{"action": "resigned", "leader_id": params.LeaderID})
	topic := cmp.Or(params.LeadershipTopic, riverTopicLeadership)
	return true, e.NotifyMany(ctx, &riverdriver.NotifyManyParams{Topic: topic, Payload: []string{string(b)}})
}

// riverExecTx is a transaction's riverExec. Begun by River, it keeps its
// notices until it commits; unwrapped from one of tenantd's, send delivers
// them when that commits.
type riverExecTx struct {
	riverExec
	inner riverdriver.ExecutorTx
	// commit runs after a successful commit.
	commit func()

	mu      sync.Mutex
	pending []notice
}

func newRiverExecTx(db *DB, inner riverdriver.ExecutorTx, send func([]notice)) *riverExecTx {
	t := &riverExecTx{inner: inner}
	t.riverExec = riverExec{Executor: inner, db: db, send: send}
	if send == nil {
		t.riverExec.send = func(ns []notice) {
			t.mu.Lock()
			t.pending = append(t.pending, ns...)
			t.mu.Unlock()
		}
	}
	return t
}

func (t *riverExecTx) Commit(ctx context.Context) error {
	if err := t.inner.Commit(ctx); err != nil {
		return err
	}
	if t.commit != nil {
		t.commit()
	}
	return nil
}

func (t *riverExecTx) Rollback(ctx context.Context) error {
	t.mu.Lock()
	t.pending = nil
	t.mu.Unlock()
	return t.inner.Rollback(ctx)
}

// wakeAt wakes queue's producers at (just after) t.
func (r *riverRest) wakeAt(db *DB, at time.Time, queue string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if r.timers == nil {
		r.timers = make(map[*time.Timer]struct{})
	}
	var timer *time.Timer
	timer = time.AfterFunc(time.Until(at)+5*time.Millisecond, func() {
		r.mu.Lock()
		delete(r.timers, timer)
		closed := r.closed
		r.mu.Unlock()
		if !closed {
			db.wakeQueue(queue)
		}
	})
	r.timers[timer] = struct{}{}
}

// close stops the timers.
func (r *riverRest) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for t := range r.timers {
		t.Stop()
	}
	r.timers = nil
}

// wakeQueue tells the producers of queue that a job is available: on
// PostgreSQL with River's NOTIFY (every replica's producers hear it), on
// SQLite in memory.
func (db *DB) wakeQueue(queue string) {
	params := insertNotice([]string{queue})
	if !db.IsPostgres() {
		db.river.notices.deliver([]notice{{topic: params.Topic, payload: params.Payload[0]}})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.riverBaseDriver().GetExecutor().NotifyMany(ctx, params); err != nil {
		db.log.Debug("wake river queue", "queue", queue, "err", err) // the backstop poll finds the job
	}
}

// notice is one River notification.
type notice struct{ topic, payload string }

// noticeHub carries River's notices between the services of this process on
// SQLite, in place of River's polled river_notification table.
type noticeHub struct {
	mu        sync.Mutex
	listeners map[*memListener]struct{}
}

func (h *noticeHub) deliver(ns []notice) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for l := range h.listeners {
		l.push(ns)
	}
}

func (h *noticeHub) listener(schema string) *memListener {
	return &memListener{hub: h, schema: schema, wake: make(chan struct{}, 1)}
}

func (h *noticeHub) add(l *memListener) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.listeners == nil {
		h.listeners = make(map[*memListener]struct{})
	}
	h.listeners[l] = struct{}{}
}

func (h *noticeHub) remove(l *memListener) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.listeners, l)
}

var errNotConnected = errors.New("listener is not connected")

// memListener is River's listener on the noticeHub: it waits on a channel,
// where riversqlite's listener polls a table.
type memListener struct {
	hub    *noticeHub
	schema string
	wake   chan struct{}

	mu        sync.Mutex
	connected bool
	topics    map[string]struct{}
	queue     []*riverdriver.Notification
}

func (l *memListener) Connect(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.connected {
		return errors.New("connection already established")
	}
	l.connected = true
	l.topics = make(map[string]struct{})
	l.hub.add(l)
	return nil
}

func (l *memListener) Close(context.Context) error {
	l.hub.remove(l)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.connected, l.topics, l.queue = false, nil, nil
	return nil
}

func (l *memListener) Listen(_ context.Context, topic string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.connected {
		return errNotConnected
	}
	l.topics[topic] = struct{}{}
	return nil
}

func (l *memListener) Unlisten(_ context.Context, topic string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.connected {
		return errNotConnected
	}
	delete(l.topics, topic)
	return nil
}

func (l *memListener) Ping(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.connected {
		return errNotConnected
	}
	return nil
}

func (l *memListener) Schema() string { return l.schema }

func (l *memListener) SetAfterConnectExec(string) {}

func (l *memListener) WaitForNotification(ctx context.Context) (*riverdriver.Notification, error) {
	for {
		l.mu.Lock()
		if !l.connected {
			l.mu.Unlock()
			return nil, errNotConnected
		}
		if len(l.queue) > 0 {
			n := l.queue[0]
			l.queue[0] = nil
			l.queue = l.queue[1:]
			l.mu.Unlock()
			return n, nil
		}
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-l.wake:
		}
	}
}

func (l *memListener) push(ns []notice) {
	l.mu.Lock()
	added := false
	for _, n := range ns {
		if _, ok := l.topics[n.topic]; ok {
			l.queue = append(l.queue, &riverdriver.Notification{Topic: n.topic, Payload: n.payload})
			added = true
		}
	}
	l.mu.Unlock()
	if added {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// memLeader is River's leadership on SQLite: one row, kept in memory, with
// the semantics of River's river_leader table.
type memLeader struct {
	mu sync.Mutex
	l  *riverdriver.Leader
}

func nowOr(t *time.Time) time.Time {
	if t != nil {
		return *t
	}
	return time.Now().UTC()
}

func (m *memLeader) copyLocked() *riverdriver.Leader {
	c := *m.l
	return &c
}

func (m *memLeader) elect(p *riverdriver.LeaderElectParams) (*riverdriver.Leader, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := nowOr(p.Now)
	if m.l != nil && m.l.ExpiresAt.After(now) {
		return nil, rivertype.ErrNotFound // held (River's insert does nothing on conflict)
	}
	m.l = &riverdriver.Leader{LeaderID: p.LeaderID, ElectedAt: now, ExpiresAt: now.Add(p.TTL)}
	return m.copyLocked(), nil
}

func (m *memLeader) reelect(p *riverdriver.LeaderReelectParams) (*riverdriver.Leader, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.l == nil || m.l.LeaderID != p.LeaderID || !m.l.ElectedAt.Equal(p.ElectedAt) {
		return nil, rivertype.ErrNotFound
	}
	m.l.ExpiresAt = nowOr(p.Now).Add(p.TTL)
	return m.copyLocked(), nil
}

func (m *memLeader) deleteExpired(now *time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.l != nil && !m.l.ExpiresAt.After(nowOr(now)) {
		m.l = nil
		return 1
	}
	return 0
}

func (m *memLeader) get() (*riverdriver.Leader, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.l == nil {
		return nil, rivertype.ErrNotFound
	}
	return m.copyLocked(), nil
}

func (m *memLeader) insert(p *riverdriver.LeaderInsertParams) *riverdriver.Leader {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := nowOr(p.Now)
	elected, expires := now, now.Add(p.TTL)
	if p.ElectedAt != nil {
		elected = *p.ElectedAt
	}
	if p.ExpiresAt != nil {
		expires = *p.ExpiresAt
	}
	m.l = &riverdriver.Leader{LeaderID: p.LeaderID, ElectedAt: elected, ExpiresAt: expires}
	return m.copyLocked()
}

func (m *memLeader) resign(p *riverdriver.LeaderResignParams) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.l == nil || m.l.LeaderID != p.LeaderID || !m.l.ElectedAt.Equal(p.ElectedAt) {
		return false
	}
	m.l = nil
	return true
}
