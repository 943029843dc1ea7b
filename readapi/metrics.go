package readapi

import (
	"fmt"
	"io"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/replay"
)

// MetricsRoute mounts GET /metrics: the commands' metrics and, for every
// projection, its checkpoint, how far behind the log it is and how its
// latest rebuild goes, in the Prometheus text format.
func (a *API) MetricsRoute(r chi.Router, commands interface{ Write(io.Writer) }) {
	r.Get("/metrics", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		head, err := a.Events.Head(ctx)
		if err != nil {
			httpapi.WriteProblem(w, r, err)
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
		var rebuilds []replay.RebuildState
		_ = a.Store.View(ctx, func(tx projections.Reader) error {
			rebuilds, err = replay.Rebuilds(ctx, tx)
			return err
		})
		fmt.Fprint(w, "# HELP shareledger_rebuild_position Log position each projection's latest blue/green rebuild has reached.\n# TYPE shareledger_rebuild_position gauge\n")
		for _, rb := range rebuilds {
			fmt.Fprintf(w, "shareledger_rebuild_position{projection=%q} %d\n", rb.Projection, rb.Done)
		}
		fmt.Fprint(w, "# HELP shareledger_rebuild_target_position Head of the log when each rebuild started.\n# TYPE shareledger_rebuild_target_position gauge\n")
		for _, rb := range rebuilds {
			fmt.Fprintf(w, "shareledger_rebuild_target_position{projection=%q} %d\n", rb.Projection, rb.Total)
		}
		fmt.Fprint(w, "# HELP shareledger_rebuild_running 1 while a projection's rebuild runs.\n# TYPE shareledger_rebuild_running gauge\n")
		for _, rb := range rebuilds {
			fmt.Fprintf(w, "shareledger_rebuild_running{projection=%q} %d\n", rb.Projection, map[bool]int{true: 1}[rb.Running()])
		}
		running := 0
		if a.Status.RunningHere() {
			running = 1
		}
		fmt.Fprintf(w, "# HELP shareledger_projections_running_here 1 on the instance that runs the projections.\n# TYPE shareledger_projections_running_here gauge\nshareledger_projections_running_here %d\n", running)
	})
}
