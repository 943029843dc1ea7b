// Package esdbtest is an in-process stand-in for an EventStoreDB node, for
// tests: the gRPC streams service (append, reads, $all subscriptions with
// filters) and server features, on the client module's own generated
// interfaces, so the real client code runs against it.
package esdbtest

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// Double is a fake EventStoreDB node. It keeps its log when its server is
// restarted, to test reconnection.
type Double struct {
	streams.UnimplementedStreamsServer
	serverfeatures.UnimplementedServerFeaturesServer

	mu      sync.Mutex
	log     []*streams.ReadResp_ReadEvent_RecordedEvent
	byName  map[string][]int
	changed chan struct{}

	addr   string
	server *grpc.Server
}

// Start serves a new, empty node on a loopback port until the test ends.
func Start(t testing.TB) *Double {
	d := &Double{byName: map[string][]int{}, changed: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.addr = ln.Addr().String()
	d.serve(ln)
	t.Cleanup(func() { d.server.Stop() })
	return d
}

func (d *Double) serve(ln net.Listener) {
	d.server = grpc.NewServer(grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}))
	streams.RegisterStreamsServer(d.server, d)
	serverfeatures.RegisterServerFeaturesServer(d.server, d)
	go func() { _ = d.server.Serve(ln) }()
}

// Restart drops every connection and subscription and serves again on
// the same address with the same log.
func (d *Double) Restart(t testing.TB) {
	d.server.Stop()
	ln, err := net.Listen("tcp", d.addr)
	if err != nil {
		t.Fatal(err)
	}
	d.serve(ln)
}

// URL is the node's connection string.
func (d *Double) URL() string { return "esdb://" + d.addr + "?tls=false" }

func (d *Double) GetSupportedMethods(context.Context, *shared.Empty) (*serverfeatures.SupportedMethods, error) {
	return &serverfeatures.SupportedMethods{EventStoreServerVersion: "24.10.0"}, nil
}

func (d *Double) Append(srv streams.Streams_AppendServer) error {
	first, err := srv.Recv()
	if err != nil {
		return err
	}
	opts := first.GetOptions()
	if opts == nil {
		return fmt.Errorf("append: options first")
	}
	var proposed []*streams.AppendReq_ProposedMessage
	for {
		req, err := srv.Recv()
		if err != nil {
			break
		}
		proposed = append(proposed, req.GetProposedMessage())
	}
	name := string(opts.GetStreamIdentifier().GetStreamName())
	d.mu.Lock()
	defer d.mu.Unlock()
	idx := d.byName[name]
	exists := len(idx) > 0
	last := uint64(len(idx)) - 1
	// Idempotence as the server does it: the same ids right after the
	// expected revision (or anywhere, with "any") are not written again.
	corrupted := false
	if len(proposed) > 0 {
		for at, i := range idx {
			if !sameUUID(d.log[i].Id, proposed[0].Id) {
				continue
			}
			// The first id is stored: anything but the same events again is
			// "corrupted idempotency", answered as a wrong expected version.
			corrupted = true
			if at+len(proposed) > len(idx) {
				continue
			}
			same := true
			for k, p := range proposed {
				same = same && sameUUID(d.log[idx[at+k]].Id, p.Id)
			}
			expectedOK := opts.GetAny() != nil || (opts.GetNoStream() != nil && at == 0) ||
				(opts.GetExpectedStreamRevision() != nil && isRevision(opts) && opts.GetRevision()+1 == uint64(at))
			if same && expectedOK {
				lastEv := d.log[idx[at+len(proposed)-1]]
				return srv.SendAndClose(success(lastEv))
			}
		}
	}
	ok := !corrupted
	switch {
	case corrupted:
	case isRevision(opts):
		ok = exists && last == opts.GetRevision()
	case opts.GetNoStream() != nil:
		ok = !exists
	case opts.GetStreamExists() != nil:
		ok = exists
	}
	if !ok {
		wrong := &streams.AppendResp_WrongExpectedVersion{}
		if exists {
			wrong.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: last}
		} else {
			wrong.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
		}
		wrong.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedAny{ExpectedAny: &shared.Empty{}}
		return srv.SendAndClose(&streams.AppendResp{Result: &streams.AppendResp_WrongExpectedVersion_{WrongExpectedVersion: wrong}})
	}
	var ev *streams.ReadResp_ReadEvent_RecordedEvent
	for _, p := range proposed {
		pos := uint64(len(d.log)+1) * 100
		meta := map[string]string{"created": strconv.FormatInt(time.Now().UnixNano()/100, 10)}
		for k, v := range p.Metadata {
			meta[k] = v
		}
		ev = &streams.ReadResp_ReadEvent_RecordedEvent{
			Id: p.Id, StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(name)},
			StreamRevision: uint64(len(d.byName[name])), PreparePosition: pos, CommitPosition: pos,
			Metadata: meta, CustomMetadata: p.CustomMetadata, Data: p.Data,
		}
		d.byName[name] = append(d.byName[name], len(d.log))
		d.log = append(d.log, ev)
	}
	close(d.changed)
	d.changed = make(chan struct{})
	if ev == nil {
		return fmt.Errorf("append: no events")
	}
	return srv.SendAndClose(success(ev))
}

func isRevision(o *streams.AppendReq_Options) bool {
	_, ok := o.GetExpectedStreamRevision().(*streams.AppendReq_Options_Revision)
	return ok
}

func success(last *streams.ReadResp_ReadEvent_RecordedEvent) *streams.AppendResp {
	return &streams.AppendResp{Result: &streams.AppendResp_Success_{Success: &streams.AppendResp_Success{
		CurrentRevisionOption: &streams.AppendResp_Success_CurrentRevision{CurrentRevision: last.StreamRevision},
		PositionOption: &streams.AppendResp_Success_Position{Position: &streams.AppendResp_Position{
			CommitPosition: last.CommitPosition, PreparePosition: last.PreparePosition}},
	}}}
}

func sameUUID(a, b *shared.UUID) bool {
	x, y := a.GetStructured(), b.GetStructured()
	return x != nil && y != nil && x.MostSignificantBits == y.MostSignificantBits && x.LeastSignificantBits == y.LeastSignificantBits
}

func (d *Double) Read(req *streams.ReadReq, srv streams.Streams_ReadServer) error {
	o := req.GetOptions()
	send := func(ev *streams.ReadResp_ReadEvent_RecordedEvent) error {
		return srv.Send(&streams.ReadResp{Content: &streams.ReadResp_Event{Event: &streams.ReadResp_ReadEvent{
			Event: ev, Position: &streams.ReadResp_ReadEvent_CommitPosition{CommitPosition: ev.CommitPosition}}}})
	}
	if s := o.GetStream(); s != nil {
		d.mu.Lock()
		idx := append([]int(nil), d.byName[string(s.GetStreamIdentifier().GetStreamName())]...)
		d.mu.Unlock()
		if len(idx) == 0 {
			return srv.Send(&streams.ReadResp{Content: &streams.ReadResp_StreamNotFound_{StreamNotFound: &streams.ReadResp_StreamNotFound{StreamIdentifier: s.GetStreamIdentifier()}}})
		}
		from := 0
		if _, ok := s.GetRevisionOption().(*streams.ReadReq_Options_StreamOptions_Revision); ok {
			from = int(s.GetRevision())
		}
		if o.GetReadDirection() == streams.ReadReq_Options_Backwards {
			// From the end, or from a revision, towards the start.
			k := len(idx) - 1
			if _, ok := s.GetRevisionOption().(*streams.ReadReq_Options_StreamOptions_Revision); ok {
				k = min(from, k)
			}
			for n := uint64(0); k >= 0 && n < o.GetCount(); k, n = k-1, n+1 {
				d.mu.Lock()
				ev := d.log[idx[k]]
				d.mu.Unlock()
				if err := send(ev); err != nil {
					return err
				}
			}
			return nil
		}
		for n, k := 0, from; k < len(idx) && uint64(n) < o.GetCount(); n, k = n+1, k+1 {
			d.mu.Lock()
			ev := d.log[idx[k]]
			d.mu.Unlock()
			if err := send(ev); err != nil {
				return err
			}
		}
		return nil
	}
	all := o.GetAll()
	if o.GetSubscription() == nil {
		d.mu.Lock()
		log := append([]*streams.ReadResp_ReadEvent_RecordedEvent(nil), d.log...)
		d.mu.Unlock()
		if o.GetReadDirection() == streams.ReadReq_Options_Backwards {
			for i, n := len(log)-1, uint64(0); i >= 0 && n < o.GetCount(); i, n = i-1, n+1 {
				if err := send(log[i]); err != nil {
					return err
				}
			}
			return nil
		}
		n := uint64(0)
		for _, ev := range log {
			if p := all.GetPosition(); p != nil && ev.CommitPosition < p.CommitPosition {
				continue // reads include the position they start from
			}
			if n == o.GetCount() {
				break
			}
			n++
			if err := send(ev); err != nil {
				return err
			}
		}
		return nil
	}
	// A subscription: confirm, catch up after the position, then follow.
	match := filter(o.GetFilter())
	if err := srv.Send(&streams.ReadResp{Content: &streams.ReadResp_Confirmation{Confirmation: &streams.ReadResp_SubscriptionConfirmation{SubscriptionId: uuid.NewString()}}}); err != nil {
		return err
	}
	after := uint64(0)
	if p := all.GetPosition(); p != nil {
		after = p.CommitPosition
	}
	caughtUp := false
	for {
		d.mu.Lock()
		changed := d.changed
		var pending []*streams.ReadResp_ReadEvent_RecordedEvent
		for _, ev := range d.log {
			if ev.CommitPosition > after {
				pending = append(pending, ev)
			}
		}
		d.mu.Unlock()
		for _, ev := range pending {
			after = ev.CommitPosition
			if !match(ev) {
				continue
			}
			if err := send(ev); err != nil {
				return err
			}
		}
		if !caughtUp {
			caughtUp = true
			if err := srv.Send(&streams.ReadResp{Content: &streams.ReadResp_CaughtUp_{CaughtUp: &streams.ReadResp_CaughtUp{}}}); err != nil {
				return err
			}
		}
		if len(pending) > 0 {
			if err := srv.Send(&streams.ReadResp{Content: &streams.ReadResp_Checkpoint_{Checkpoint: &streams.ReadResp_Checkpoint{CommitPosition: after, PreparePosition: after}}}); err != nil {
				return err
			}
		}
		select {
		case <-changed:
		case <-srv.Context().Done():
			return nil
		}
	}
}

// filter is the server-side filter of a subscription: event-type or
// stream-name prefixes or a regular expression.
func filter(f *streams.ReadReq_Options_FilterOptions) func(*streams.ReadResp_ReadEvent_RecordedEvent) bool {
	if f == nil {
		return func(*streams.ReadResp_ReadEvent_RecordedEvent) bool { return true }
	}
	expr, byType := f.GetEventType(), true
	if expr == nil {
		expr, byType = f.GetStreamIdentifier(), false
	}
	var re *regexp.Regexp
	if expr.GetRegex() != "" {
		re = regexp.MustCompile(expr.GetRegex())
	}
	return func(ev *streams.ReadResp_ReadEvent_RecordedEvent) bool {
		subject := ev.Metadata["type"]
		if !byType {
			subject = string(ev.StreamIdentifier.StreamName)
		}
		if re != nil {
			return re.MatchString(subject)
		}
		for _, p := range expr.GetPrefix() {
			if strings.HasPrefix(subject, p) {
				return true
			}
		}
		return false
	}
}

// SystemEvent puts a system event into the log, as a real server has.
func (d *Double) SystemEvent(t testing.TB) {
	t.Helper()
	c, err := esdb.ParseConnectionString(d.URL())
	if err != nil {
		t.Fatal(err)
	}
	client, err := esdb.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.AppendToStream(context.Background(), "$settings", esdb.AppendToStreamOptions{},
		esdb.EventData{EventType: "$settings", ContentType: esdb.ContentTypeJson, Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
}
