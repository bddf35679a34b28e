package gqlws

import (
	"context"
	"encoding/json"
	"io"
	"sync"
)

// shrinkCap is the queue capacity above which an emptied queue releases its
// backing array instead of keeping it for reuse.
const shrinkCap = 1024

// event is one queued result for Next.
type event struct {
	data json.RawMessage
	err  error
}

// Subscription is one operation on a [Client]'s connection. It owns no
// goroutine: the connection's reader appends results to an unbounded FIFO
// queue and Next pops them, so a slow consumer never blocks the reader or
// other subscriptions (see the package documentation). All methods are safe
// for concurrent use.
type Subscription struct {
	c  *Client
	id string

	// notify holds a token when the queue or the end state may have changed.
	notify chan struct{}

	mu    sync.Mutex
	queue []event // queue[head:] is pending
	head  int
	ended bool  // no more results will be queued
	err   error // returned by Next once ended and the queue is drained
}

func newSubscription(c *Client, id string) *Subscription {
	return &Subscription{c: c, id: id, notify: make(chan struct{}, 1)}
}

// ID returns the subscription's id, unique within its connection.
func (s *Subscription) ID() string { return s.id }

// Next waits for the next result of the subscription and returns the "data"
// of the next "next" message.
//
//   - If that message also carries GraphQL errors, Next returns the data
//     (possibly null or nil) together with a *GraphQLErrors.
//   - After the server's "complete", Next returns io.EOF; after Stop too.
//   - For an "error" message, Next returns a *GraphQLErrors with nil data;
//     the subscription is then over and later calls return the same error.
//   - When the connection ends, Next first returns the results already
//     queued and then the connection's error (see [Client.Err]); after
//     [Client.Close] it returns ErrClosed immediately.
//   - If ctx ends first, Next returns ctx.Err() and the subscription is
//     unaffected.
func (s *Subscription) Next(ctx context.Context) (json.RawMessage, error) {
	for {
		s.mu.Lock()
		if s.head < len(s.queue) {
			ev := s.queue[s.head]
			s.queue[s.head] = event{}
			s.head++
			if s.head == len(s.queue) {
				if cap(s.queue) > shrinkCap {
					s.queue = nil
				} else {
					s.queue = s.queue[:0]
				}
				s.head = 0
			}
			more := s.head < len(s.queue) || s.ended
			s.mu.Unlock()
			if more {
				s.signal() // pass the wake-up on to a concurrent Next
			}
			return ev.data, ev.err
		}
		if s.ended {
			err := s.err
			s.mu.Unlock()
			s.signal()
			return nil, err
		}
		s.mu.Unlock()

		select {
		case <-s.notify:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Stop unsubscribes: if the subscription is still active it sends
// "complete" for its id, discards queued results, and makes Next return
// io.EOF. Stop is idempotent and does nothing when the subscription is
// already over (completed, failed, or its connection ended). It returns an
// error only if the complete message could not be written, in which case the
// connection has ended anyway.
func (s *Subscription) Stop() error {
	if s.c.removeSub(s.id) == nil {
		return nil
	}
	s.end(io.EOF, true)
	return s.c.send(context.Background(), message{ID: s.id, Type: MsgComplete})
}

// push queues one result; called by the reader only.
func (s *Subscription) push(ev event) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	if s.head > 0 && len(s.queue) == cap(s.queue) && s.head >= len(s.queue)/2 {
		// Reuse the consumed front instead of growing the array.
		n := copy(s.queue, s.queue[s.head:])
		clear(s.queue[n:])
		s.queue = s.queue[:n]
		s.head = 0
	}
	s.queue = append(s.queue, ev)
	s.mu.Unlock()
	s.signal()
}

// end marks the subscription over with err (first call wins). With discard,
// queued results are dropped so that Next returns err right away.
func (s *Subscription) end(err error, discard bool) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	s.err = err
	if discard {
		s.queue = nil
		s.head = 0
	}
	s.mu.Unlock()
	s.signal()
}

func (s *Subscription) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}
