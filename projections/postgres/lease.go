package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// Lease is a projections.Lease on a PostgreSQL session advisory lock, held
// on a connection of its own. When the holder dies its session ends and the
// lock is free; the others try every Poll. TCP keepalives make the server
// notice a holder that vanished without closing its connection.
type Lease struct {
	URL  string
	Name string // what is leased; instances that share a name exclude each other
	Poll time.Duration
	Log  *slog.Logger
}

// Acquire implements projections.Lease.
func (l *Lease) Acquire(ctx context.Context) (context.Context, func(), error) {
	poll := l.Poll
	if poll <= 0 {
		poll = 500 * time.Millisecond
	}
	cfg, err := pgx.ParseConfig(l.URL)
	if err != nil {
		return nil, nil, fmt.Errorf("lease: %w", err)
	}
	for k, v := range map[string]string{"tcp_keepalives_idle": "5", "tcp_keepalives_interval": "2", "tcp_keepalives_count": "3"} {
		cfg.RuntimeParams[k] = v
	}
	h := fnv.New64a()
	h.Write([]byte("shareledger-lease:" + l.Name))
	key := int64(h.Sum64())
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("lease: %w", err)
	}
	for {
		var got bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil {
			_ = conn.Close(context.Background())
			return nil, nil, fmt.Errorf("lease: %w", err)
		}
		if got {
			break
		}
		select {
		case <-time.After(poll):
		case <-ctx.Done():
			_ = conn.Close(context.Background())
			return nil, nil, ctx.Err()
		}
	}
	held, cancel := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		tick := time.NewTicker(poll)
		defer tick.Stop()
		for {
			select {
			case <-held.Done():
				return
			case <-tick.C:
				if err := conn.Ping(held); err != nil && held.Err() == nil {
					if l.Log != nil {
						l.Log.Warn("lease lost", "name", l.Name, "err", err)
					}
					cancel()
					return
				}
			}
		}
	}()
	release := func() {
		cancel()
		<-watched
		ctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
		defer stop()
		_, _ = conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key)
		_ = conn.Close(ctx)
	}
	return held, release, nil
}
