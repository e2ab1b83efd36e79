package jupyterhub

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The students' servers' logs (renderSpawner): a server writes to
// <Dir>/servers/<name>.log through a descriptor it inherited, so that it
// may outlive the hub and wod. A student controls what goes into it (their
// kernels' and programs' output to the server's stdout), so its size is
// wod's to bound.
const (
	// serverLogKeep: at a spawn, a log longer than this moves to
	// <name>.log.1 (replacing the one before) and the server starts a new
	// one.
	serverLogKeep = 1 << 20
	// serverLogMax: a log that grew past this while its server runs is
	// cut to nothing (the server's descriptor appends, so it goes on
	// writing at the new end). A notebook that prints in a loop fills no
	// disk.
	serverLogMax = 16 << 20
	// serverLogEvery is how often the logs are measured.
	serverLogEvery = time.Minute
)

// makeServerLogDir makes the directory of the servers' logs, root's alone:
// the students' processes get their descriptor, never the path.
func makeServerLogDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("jupyterhub: the servers' log directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("jupyterhub: securing the servers' log directory: %w", err)
	}
	return nil
}

// capServerLogs cuts every server log in dir longer than max to nothing,
// and says which it cut.
func capServerLogs(dir string, max int64) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("jupyterhub: the servers' logs: %w", err)
	}
	var cut []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		info, err := e.Info()
		if err != nil || info.Size() <= max {
			continue
		}
		if err := os.Truncate(filepath.Join(dir, e.Name()), 0); err != nil {
			return cut, fmt.Errorf("jupyterhub: cutting a server's log: %w", err)
		}
		cut = append(cut, strings.TrimSuffix(e.Name(), ".log"))
	}
	return cut, nil
}

// keepServerLogsSmall runs capServerLogs every serverLogEvery until ctx
// ends.
func keepServerLogsSmall(ctx context.Context, dir string, log *slog.Logger) {
	t := time.NewTicker(serverLogEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cut, err := capServerLogs(dir, serverLogMax)
		if err != nil {
			log.Warn("the students' server logs", "err", err)
		}
		for _, name := range cut {
			log.Warn("a student's server wrote more than the log keeps: cut to nothing", "user", name,
				"max_bytes", serverLogMax)
		}
	}
}
