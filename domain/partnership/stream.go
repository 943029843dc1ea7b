package partnership

import (
	"strings"

	"github.com/shareledger/shareledger/domain"
)

// streamPrefix starts the name of every partnership's stream.
const streamPrefix = "partnership-"

// Stream is the stream of the partnership of two accounts: the request,
// its answer, the devices shared and the partner's use of them. See
// docs/consistency.md for what it protects.
func Stream(a, b domain.AccountID) string { return streamPrefix + string(IDOf(a, b)) }

// AccountsOfStream names the two accounts of a partnership's stream, or
// says it is not one.
func AccountsOfStream(stream string) ([]domain.AccountID, bool) {
	pair, ok := strings.CutPrefix(stream, streamPrefix)
	if !ok {
		return nil, false
	}
	var out []domain.AccountID
	for _, a := range strings.Split(pair, "+") {
		out = append(out, domain.AccountID(a))
	}
	return out, true
}
