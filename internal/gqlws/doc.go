// Package gqlws is a GraphQL over WebSocket client speaking the
// graphql-transport-ws protocol, the protocol of the npm package graphql-ws
// (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md), built
// on github.com/gorilla/websocket.
//
// It is used by tenantd's end-to-end tests and by the load tool, which holds
// many thousands of concurrent subscriptions, so it is designed to be cheap
// per subscription:
//
//   - A [Client] owns one WebSocket connection and exactly one reader
//     goroutine, plus one pinger goroutine when [Options.PingInterval] is set
//     and a short-lived goroutine that answers server pings. Subscriptions
//     own no goroutines.
//   - Many [Subscription]s share one connection; ids are unique per
//     connection (an incrementing counter).
//   - The reader never blocks on a consumer: every subscription has an
//     unbounded FIFO queue that the reader appends to and [Subscription.Next]
//     pops from. A slow consumer therefore cannot stall other subscriptions
//     or the connection; the price is memory, bounded only by what the server
//     sends to that subscription before its consumer catches up or calls
//     [Subscription.Stop]. (A bounded buffer would have forced a choice
//     between blocking the reader, which stalls every subscription on the
//     connection, and dropping messages, which is wrong for a test client.)
//   - Writes are serialized by a one-slot semaphore (a mutex that can be
//     acquired with a context), and each frame write is bounded by
//     [Options.WriteTimeout]. A failed write ends the connection.
//
// A minimal session:
//
//	c, err := gqlws.Dial(ctx, "https://api.example/graphql", gqlws.Options{Token: tok})
//	if err != nil { ... }
//	defer c.Close()
//	sub, err := c.Subscribe(ctx, `subscription { tick }`, nil)
//	if err != nil { ... }
//	for {
//		data, err := sub.Next(ctx)
//		if err == io.EOF { break } // server sent "complete"
//		...
//	}
package gqlws
