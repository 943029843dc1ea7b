// Package relay publishes every stored event to a Watermill publisher, for
// other systems and other instances: NATS JetStream in production. It runs
// as a projection, under the same lease and with its own checkpoint, so
// each event is published by one instance; a publish repeated after a
// crash carries the same message id (the event's), which JetStream drops
// as a duplicate.
package relay

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	natsgo "github.com/nats-io/nats.go"

	"github.com/shareledger/shareledger/projections"
)

// Topic is where events are published.
const Topic = "shareledger-events"

// Metadata keys of a relayed message; the payload is the event's JSON.
const (
	KeyType    = "type"
	KeyVersion = "version"
	// KeySchema names the event's published JSON Schema (the $id of its
	// entry in GET /v1/schemas/events and docs/events/).
	KeySchema        = "schema"
	KeyStream        = "stream"
	KeyRevision      = "revision"
	KeyPosition      = "position"
	KeyUser          = "user"
	KeyAccount       = "account"
	KeyCommandID     = "command_id"
	KeyCorrelationID = "correlation_id"
)

// Projection publishes events.
type Projection struct {
	Publisher message.Publisher
	// Topic defaults to Topic.
	Topic string
}

// Name is the projection's name: the key of its checkpoint and of its
// progress, and how readers, rebuilds and audits refer to it.
const Name = "relay"

// Name implements projections.Projection.
func (Projection) Name() string { return Name }

// Apply implements projections.Projection.
func (p Projection) Apply(ctx context.Context, _ projections.Tx, e projections.Envelope) error {
	r := e.Record
	msg := message.NewMessage(r.ID, r.Data)
	msg.Metadata.Set(KeyType, r.Type)
	msg.Metadata.Set(KeyVersion, strconv.Itoa(r.Version))
	msg.Metadata.Set(KeySchema, SchemaID(r.Type, r.Version))
	msg.Metadata.Set(KeyStream, r.Stream)
	msg.Metadata.Set(KeyRevision, strconv.FormatUint(r.Revision, 10))
	msg.Metadata.Set(KeyPosition, r.Position.String())
	msg.Metadata.Set(KeyUser, r.Meta.User)
	msg.Metadata.Set(KeyAccount, r.Meta.Account)
	msg.Metadata.Set(KeyCommandID, r.Meta.CommandID)
	msg.Metadata.Set(KeyCorrelationID, r.Meta.CorrelationID)
	msg.SetContext(ctx)
	topic := p.Topic
	if topic == "" {
		topic = Topic
	}
	if err := p.Publisher.Publish(topic, msg); err != nil {
		return projections.Transient(fmt.Errorf("relay %s: %w", r.ID, err))
	}
	return nil
}

// JetStream returns a publisher to NATS JetStream at url that creates the
// stream (named as the topic) if it is missing and lets the server drop duplicates by message
// id.
func JetStream(url string, log *slog.Logger) (message.Publisher, error) {
	pub, err := nats.NewPublisher(nats.PublisherConfig{
		URL:         url,
		NatsOptions: []natsgo.Option{natsgo.Name("shareledger-relay"), natsgo.MaxReconnects(-1)},
		Marshaler:   &nats.NATSMarshaler{},
		JetStream:   nats.JetStreamConfig{AutoProvision: true, TrackMsgId: true},
	}, watermill.NewSlogLogger(log))
	if err != nil {
		return nil, fmt.Errorf("relay to %s: %w", url, err)
	}
	return pub, nil
}

// Subscriber returns a durable JetStream subscriber for consumers of the
// relayed events (other systems, tests); durable names the consumer.
func Subscriber(url, durable string, log *slog.Logger) (message.Subscriber, error) {
	return nats.NewSubscriber(nats.SubscriberConfig{
		URL:         url,
		Unmarshaler: &nats.NATSMarshaler{},
		JetStream:   nats.JetStreamConfig{AutoProvision: true, DurablePrefix: durable},
	}, watermill.NewSlogLogger(log))
}

// SchemaID is the $id of an event version's published JSON Schema.
func SchemaID(typ string, version int) string {
	return "urn:shareledger:event:" + typ + ":" + strconv.Itoa(version)
}
