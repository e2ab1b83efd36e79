package operator

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wod-dev/wod"
)

// ContentWait is content a server was given (--content) while it had no
// location to put workshops at: a bare control plane. The server starts
// anyway, says so in its log and on the dashboard, and imports the content
// as soon as a location appears: at once when it is added through this
// process (API, admin pages), and within Every when another process adds
// it (wod location add, another replica), which only the store tells.
type ContentWait struct {
	Dirs   []string
	Every  time.Duration // how often the store is asked while waiting; default 2s
	Logger *slog.Logger

	kick    chan struct{}
	once    sync.Once
	mu      sync.Mutex
	waiting bool
	lastErr string
}

// NewContentWait is a wait for the content of dirs.
func NewContentWait(dirs []string, logger *slog.Logger) *ContentWait {
	return &ContentWait{Dirs: slices.Clone(dirs), Logger: logger, waiting: true}
}

func (w *ContentWait) init() { w.once.Do(func() { w.kick = make(chan struct{}, 1) }) }

// Waiting says whether the content still waits for a location, and the
// last import's error if one was tried and failed.
func (w *ContentWait) Waiting() (waiting bool, lastErr string) {
	if w == nil {
		return false, ""
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.waiting, w.lastErr
}

// Kick says a location was just added.
func (w *ContentWait) Kick() {
	if w == nil {
		return
	}
	w.init()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run waits for the first location and imports the content there (the
// oldest location when several appeared at once), until it has or ctx
// ends. An import that fails (the content, say) is logged and tried
// again when the locations change.
func (w *ContentWait) Run(ctx context.Context, s *Service) {
	w.init()
	every := w.Every
	if every <= 0 {
		every = 2 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	tried := -1 // how many locations there were at the last failed try
	for {
		ls, err := s.Locations.FindLocations(ctx)
		if err != nil && ctx.Err() == nil {
			w.Logger.WarnContext(ctx, "content waiting for a location: reading the locations", "error", err)
		}
		if err == nil && len(ls) > 0 && len(ls) != tried {
			first := slices.MinFunc(ls, func(a, b *wod.Location) int { return int(a.ID - b.ID) })
			res, err := s.ImportContent(ctx, nil, w.Dirs, first.Name)
			w.mu.Lock()
			if err == nil {
				w.waiting, w.lastErr = false, ""
			} else {
				w.lastErr = wod.ErrorMessage(err)
			}
			w.mu.Unlock()
			if err == nil {
				w.Logger.InfoContext(ctx, "content imported: a location appeared", "location", first.Name,
					"dirs", strings.Join(w.Dirs, ","), "workshops", len(res))
				return
			}
			tried = len(ls)
			w.Logger.ErrorContext(ctx, "content waiting for a location: the import failed", "location", first.Name, "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		case <-t.C:
		}
	}
}
