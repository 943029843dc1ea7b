package relay_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	natsgo "github.com/nats-io/nats.go"

	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/catalog"
	"github.com/shareledger/shareledger/eventstore"
	eventpebble "github.com/shareledger/shareledger/eventstore/pebble"
	"github.com/shareledger/shareledger/projections"
	rmbolt "github.com/shareledger/shareledger/projections/bolt"
	"github.com/shareledger/shareledger/projections/relay"
)

func natsURL(t *testing.T) string {
	url := os.Getenv("NATS_URL")
	if url == "" {
		msg := "relay tests need NATS with JetStream: NATS_URL=nats://127.0.0.1:4222 go test ./projections/relay/ (bash .ci/run sets it)"
		if os.Getenv("SHARELEDGER_REQUIRE_DB") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return url
}

func TestRelayPublishesEachEventOnce(t *testing.T) {
	url := natsURL(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	topic := "shareledger-test-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	t.Cleanup(func() { deleteStream(t, url, topic) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	dir := t.TempDir()
	es, err := eventpebble.Open(eventpebble.Config{Dir: filepath.Join(dir, "events"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	pub, err := relay.JetStream(url, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sub, err := relay.Subscriber(url, "test", quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	received, err := sub.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	next := func() *message.Message {
		t.Helper()
		select {
		case m := <-received:
			m.Ack()
			return m
		case <-time.After(20 * time.Second):
			t.Fatal("no message within 20s")
		}
		return nil
	}

	// run feeds the relay from the log into a read-model store of its own
	// until the head; a fresh store means "the checkpoint was lost".
	run := func(models string) {
		t.Helper()
		store, err := rmbolt.Open(filepath.Join(dir, models))
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		if _, err := projections.CatchUp(ctx, es, store, catalog.New(), relay.Projection{Publisher: pub, Topic: topic}, eventstore.Position{}, 0); err != nil {
			t.Fatal(err)
		}
	}
	appendProject := func(name string) eventstore.Event {
		data, _ := json.Marshal(account.ProjectCreated{Account: "acme", Project: account.ProjectID(name), Name: name})
		e := eventstore.Event{ID: uuid.NewString(), Type: "ProjectCreated", Version: 1, Data: data,
			Meta: eventstore.Meta{User: "alice@acme.test", Account: "acme", CommandID: "cmd-" + name, CorrelationID: "corr-" + name}}
		if _, err := es.Append(ctx, "account-acme", eventstore.Any(), e); err != nil {
			t.Fatal(err)
		}
		return e
	}

	var sent []eventstore.Event
	for _, n := range []string{"a", "b", "c"} {
		sent = append(sent, appendProject(n))
	}
	run("first.db")
	for i, e := range sent {
		m := next()
		if m.UUID != e.ID || m.Metadata.Get(relay.KeyType) != "ProjectCreated" || m.Metadata.Get(relay.KeyRevision) != string(rune('0'+i)) ||
			m.Metadata.Get(relay.KeyCommandID) != e.Meta.CommandID || m.Metadata.Get(relay.KeyCorrelationID) != e.Meta.CorrelationID ||
			m.Metadata.Get(relay.KeyStream) != "account-acme" || m.Metadata.Get(relay.KeySchema) != "urn:shareledger:event:ProjectCreated:1" || !strings.Contains(string(m.Payload), `"name":"`+string(rune('a'+i))+`"`) {
			t.Fatalf("message %d: %s %v %s", i, m.UUID, m.Metadata, m.Payload)
		}
	}
	// The checkpoint is lost: everything is published again, and
	// JetStream drops the repeats; the next message is the new event.
	run("second.db")
	last := appendProject("d")
	run("second.db")
	if m := next(); m.UUID != last.ID {
		t.Fatalf("after republishing, got %s (%s), want the new event %s", m.UUID, m.Metadata.Get(relay.KeyRevision), last.ID)
	}
}

func deleteStream(t *testing.T, url, topic string) {
	nc, err := natsgo.Connect(url)
	if err != nil {
		return
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return
	}
	_ = js.DeleteStream(topic)
}
