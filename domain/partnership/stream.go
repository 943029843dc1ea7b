package partnership

import (
	"strings"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/device"
)

// streamPrefix starts the name of every partnership's stream.
const streamPrefix = "partnership-"

// Stream is the stream of the partnership of two accounts: the request,
// its answer, the devices shared and the partner's use of them. See
// docs/consistency.md for what it protects.
func Stream(a, b domain.AccountID) string { return streamPrefix + string(IDOf(a, b)) }

// TransferStream is the stream of the designs that one account of a
// partnership sends to one device the other shares with it. A transfer is
// decided on the partnership's stream (the device must be shared today and
// in the project) but changes nothing there, so transfers have streams of
// their own and do not contend with each other; each is appended only if
// the partnership's stream is still at the revision it was decided on
// (docs/consistency.md).
func TransferStream(a, b domain.AccountID, dev device.ID) string {
	return Stream(a, b) + "/designs/" + string(dev)
}

// AccountsOfStream names the two accounts of a partnership's stream (or of
// one of its transfer streams), or says it is not one.
func AccountsOfStream(stream string) ([]domain.AccountID, bool) {
	pair, ok := strings.CutPrefix(stream, streamPrefix)
	if !ok {
		return nil, false
	}
	pair, _, _ = strings.Cut(pair, "/")
	var out []domain.AccountID
	for _, a := range strings.Split(pair, "+") {
		out = append(out, domain.AccountID(a))
	}
	return out, true
}
