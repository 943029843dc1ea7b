package team

import (
	"strings"

	"github.com/shareledger/shareledger/domain"
)

const projectPrefix = "cloudproject-"

// Stream is the stream of a cloud project: its team, jobs and
// stylesheets. See docs/consistency.md for what it protects.
func Stream(id ID) string { return projectPrefix + string(id) }

// IsProjectStream says whether a stream is a cloud project's.
func IsProjectStream(stream string) bool { return strings.HasPrefix(stream, projectPrefix) }

// IdentityStream is the stream of a person's identity.
func IdentityStream(u domain.UserID) string { return "identity-" + string(u) }
