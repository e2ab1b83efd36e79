package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
)

// agentJobsChannel is the PostgreSQL notification channel on which the
// transactions that schedule agent jobs name their location.
const agentJobsChannel = "wod_agent_jobs"

// ListenAgentJobs calls fn with the location of every agent job that falls
// due when scheduled, by any server replica, once its transaction commits;
// it returns when ctx ends (nil) or the connection fails. Once it listens,
// it calls fn(0) (every location): jobs scheduled before were not heard. An agent waiting
// on one replica thus learns at once of a booking taken by another.
//
// On SQLite it returns nil at once: there is one server, which wakes its
// own agents.
//
// It holds one connection of the pool while it listens.
func (db *DB) ListenAgentJobs(ctx context.Context, fn func(locationID int64)) error {
	if db.dialect != Postgres {
		return nil
	}
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return fmt.Errorf("listen for agent jobs: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("the PostgreSQL driver's connection is a %T", dc)
		}
		pc := c.Conn()
		if _, err := pc.Exec(ctx, "LISTEN "+agentJobsChannel); err != nil {
			return err
		}
		// Listening from now: what was scheduled before was not heard.
		fn(0)
		// The connection goes back to the pool: it must not listen there.
		defer func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			pc.Exec(ctx, "UNLISTEN "+agentJobsChannel)
		}()
		for {
			n, err := pc.WaitForNotification(ctx)
			if err != nil {
				return err
			}
			if id, err := strconv.ParseInt(n.Payload, 10, 64); err == nil {
				fn(id)
			}
		}
	})
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("listen for agent jobs: %w", err)
}
