// Package projections turns the event log into read models. A Projection's
// logic is written once against the Store port, whose implementations are
// the embedded bolt store and PostgreSQL.
//
// Live delivery goes through a watermill router: each projection (and the
// notifier, and the NATS relay) is a router handler, so that retries with
// back-off, panic recovery and the poison queue are the router's
// middleware, and one bad event stops no other consumer. What the router
// carries is decoded already: one reader of the log (the runner's feed)
// starts from the checkpoint of the projection furthest behind, decodes
// each event once (DecodeBatch) and hands the same batch to every
// projection's subscriber, which delivers it as a message whose context
// holds the batch; nothing is serialized into the messages. A projection
// that falls behind (an outage of what it talks to) is left to read the log
// on its own, so it never holds the others back. Each projection applies a
// batch in one transaction that also moves its checkpoint (ApplyDecoded).
// A projection that is behind takes the batches queued for it together,
// up to four batch sizes. While no reader waits on a projection
// (Progress.Wait), its batch also takes what arrives for at least 20 ms,
// or as long as its last delivery took, or its Paced interval: under load
// it commits less often and larger, and a reader that starts waiting ends
// the gathering at once.
//
// Rebuilds and point-in-time answers (package replay) read the log
// directly, a page at a time, decode each page once and apply it to every
// projection they build (Pages, which reads and decodes the next page on a
// goroutine of its own while the current one is applied): there is nothing to route, retry or quarantine in
// a rebuild that fails as a whole, so the router would only add its cost.
// They apply a page to all of their projections through ApplyDecodedEach
// (a rebuild: ApplyDecodedEachAhead, the next page applied while one
// commits), which a Grouped store applies together, each projection with
// its own checkpoint and failing alone: the embedded one commits them as
// one transaction, PostgreSQL runs them at once, each in its own. A live
// projection's update returns once it has committed; on the embedded
// store one writer commits every update waiting at that moment in one
// transaction, so that the live projections share their commits' syncs,
// and under load holds a live delivery's commit back for a short window
// to gather the others' into it, unless a reader waits (Awaited).
package projections
