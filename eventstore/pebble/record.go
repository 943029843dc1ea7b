package pebble

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/shareledger/shareledger/eventstore"
)

// A stored record is one event of the log. Records are written in the
// protocol-buffer wire format (tag, type, value; unknown fields are
// skipped, so fields can be added), after a one-byte format mark; records
// written before this format are JSON objects and are read as such. The
// wire format is what makes a page of the log cheap to read: decoding a
// record is a walk over its fields, where JSON was most of the cost of a
// catch-up, a rebuild and a cold command.
const recordWire = 0x01 // JSON records start with '{'

// Field numbers of a stored record.
const (
	fRevision       protowire.Number = 1
	fID             protowire.Number = 2
	fStream         protowire.Number = 3
	fType           protowire.Number = 4
	fVersion        protowire.Number = 5
	fData           protowire.Number = 6
	fUser           protowire.Number = 7
	fAccount        protowire.Number = 8
	fCommandID      protowire.Number = 9
	fCorrelationID  protowire.Number = 10
	fCausationID    protowire.Number = 11
	fTimeSeconds    protowire.Number = 12 // zigzag; absent for the zero time
	fTimeNanos      protowire.Number = 13
	fIdempotencyKey protowire.Number = 14
	fRequestHash    protowire.Number = 15
)

// storedBody is a stored record without its revision, which only the
// commit knows.
type storedBody struct {
	ID      string          `json:"id"`
	Stream  string          `json:"stream"`
	Type    string          `json:"type"`
	Version int             `json:"v"`
	Data    json.RawMessage `json:"data"`
	Meta    eventstore.Meta `json:"meta"`
}

// stored is a record as the log keeps it.
type stored struct {
	Revision uint64 `json:"rev"`
	storedBody
}

// encodeBody encodes every field of a record but its revision.
func encodeBody(b storedBody) []byte {
	out := make([]byte, 0, 64+len(b.ID)+len(b.Stream)+len(b.Type)+len(b.Data)+len(b.Meta.User)+len(b.Meta.Account)+
		len(b.Meta.CommandID)+len(b.Meta.CorrelationID)+len(b.Meta.CausationID)+len(b.Meta.IdempotencyKey)+len(b.Meta.RequestHash))
	str := func(n protowire.Number, s string) {
		if s != "" {
			out = protowire.AppendTag(out, n, protowire.BytesType)
			out = protowire.AppendString(out, s)
		}
	}
	str(fID, b.ID)
	str(fStream, b.Stream)
	str(fType, b.Type)
	out = protowire.AppendTag(out, fVersion, protowire.VarintType)
	out = protowire.AppendVarint(out, uint64(b.Version))
	out = protowire.AppendTag(out, fData, protowire.BytesType)
	out = protowire.AppendBytes(out, b.Data)
	m := b.Meta
	str(fUser, m.User)
	str(fAccount, m.Account)
	str(fCommandID, m.CommandID)
	str(fCorrelationID, m.CorrelationID)
	str(fCausationID, m.CausationID)
	if !m.Time.IsZero() {
		out = protowire.AppendTag(out, fTimeSeconds, protowire.VarintType)
		out = protowire.AppendVarint(out, protowire.EncodeZigZag(m.Time.Unix()))
		out = protowire.AppendTag(out, fTimeNanos, protowire.VarintType)
		out = protowire.AppendVarint(out, uint64(m.Time.Nanosecond()))
	}
	str(fIdempotencyKey, m.IdempotencyKey)
	str(fRequestHash, m.RequestHash)
	return out
}

// encodeRecord puts the format mark and the revision in front of a body.
func encodeRecord(rev uint64, body []byte) []byte {
	out := make([]byte, 0, len(body)+12)
	out = append(out, recordWire)
	out = protowire.AppendTag(out, fRevision, protowire.VarintType)
	out = protowire.AppendVarint(out, rev)
	return append(out, body...)
}

// decodeRecord reads a stored record in either format. It copies what it
// keeps: value may belong to the engine.
func decodeRecord(value []byte) (stored, error) {
	var st stored
	if len(value) == 0 {
		return st, errors.New("empty record")
	}
	if value[0] != recordWire {
		err := json.Unmarshal(value, &st)
		return st, err
	}
	b := value[1:]
	var secs int64
	var nanos uint64
	hasTime := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return st, fmt.Errorf("record: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return st, fmt.Errorf("record field %d: %w", num, protowire.ParseError(n))
			}
			b = b[n:]
			switch num {
			case fRevision:
				st.Revision = v
			case fVersion:
				st.Version = int(v)
			case fTimeSeconds:
				secs, hasTime = protowire.DecodeZigZag(v), true
			case fTimeNanos:
				nanos = v
			}
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return st, fmt.Errorf("record field %d: %w", num, protowire.ParseError(n))
			}
			b = b[n:]
			switch num {
			case fID:
				st.ID = string(v)
			case fStream:
				st.Stream = string(v)
			case fType:
				st.Type = string(v)
			case fData:
				st.Data = append(json.RawMessage(nil), v...)
			case fUser:
				st.Meta.User = string(v)
			case fAccount:
				st.Meta.Account = string(v)
			case fCommandID:
				st.Meta.CommandID = string(v)
			case fCorrelationID:
				st.Meta.CorrelationID = string(v)
			case fCausationID:
				st.Meta.CausationID = string(v)
			case fIdempotencyKey:
				st.Meta.IdempotencyKey = string(v)
			case fRequestHash:
				st.Meta.RequestHash = string(v)
			}
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return st, fmt.Errorf("record field %d: %w", num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	if hasTime {
		st.Meta.Time = time.Unix(secs, int64(nanos)).UTC()
	}
	return st, nil
}
