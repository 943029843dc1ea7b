package readapi

import (
	"fmt"
	"io"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/shareledger/shareledger/commands/problem"
)

// MetricsRoute mounts GET /metrics: the commands' metrics and, for every
// projection, its checkpoint and how far behind the log it is, in the
// Prometheus text format.
func (a *API) MetricsRoute(r chi.Router, commands interface{ Write(io.Writer) }) {
	r.Get("/metrics", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		head, err := a.Events.Head(ctx)
		if err != nil {
			problem.Write(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		commands.Write(w)
		fmt.Fprintf(w, "# HELP shareledger_eventstore_head_position Commit position of the last event in the log.\n# TYPE shareledger_eventstore_head_position gauge\nshareledger_eventstore_head_position %d\n", head.Commit)
		fmt.Fprint(w, "# HELP shareledger_projection_checkpoint_position Commit position each projection has reached.\n# TYPE shareledger_projection_checkpoint_position gauge\n")
		lag := ""
		for _, name := range a.Status.Names() {
			cp, err := a.Store.Checkpoint(ctx, name)
			if err != nil {
				continue
			}
			fmt.Fprintf(w, "shareledger_projection_checkpoint_position{projection=%q} %d\n", name, cp.Commit)
			behind := uint64(0)
			if cp.Commit < head.Commit {
				behind = head.Commit - cp.Commit
			}
			lag += fmt.Sprintf("shareledger_projection_lag_positions{projection=%q} %d\n", name, behind)
		}
		fmt.Fprint(w, "# HELP shareledger_projection_lag_positions How far each projection is behind the log (events, with the embedded and PostgreSQL stores).\n# TYPE shareledger_projection_lag_positions gauge\n"+lag)
		running := 0
		if a.Status.RunningHere() {
			running = 1
		}
		fmt.Fprintf(w, "# HELP shareledger_projections_running_here 1 on the instance that runs the projections.\n# TYPE shareledger_projections_running_here gauge\nshareledger_projections_running_here %d\n", running)
	})
}
