// Package projections turns the event log into read models. A Projection's
// logic is written once against the Store port, whose implementations are
// the embedded bolt store and PostgreSQL; a Runner feeds every consumer
// from the event store through a watermill router, each from its own
// durable checkpoint.
package projections
