package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// DecodedPaths routes on the decoded path, so a path parameter arrives as
// the client meant it whether or not it was percent-encoded (a browser's
// encodeURIComponent writes '@' as %40). Identifiers never hold '/', so an
// encoded slash may split a segment: that route then does not exist.
func DecodedPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.RoutePath == "" {
			rctx.RoutePath = r.URL.Path
		}
		next.ServeHTTP(w, r)
	})
}

// AllowedMethods lists the methods that mux serves at path, for the Allow
// header of a 405 answer (RFC 9110).
func AllowedMethods(mux chi.Routes, path string) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if mux.Match(chi.NewRouteContext(), m, path) {
			out = append(out, m)
		}
	}
	return out
}
