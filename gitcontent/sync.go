package gitcontent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/wod-dev/wod"
)

// DefaultEvery is how often the server fetches its content repositories
// when nothing pushes (--content-sync).
const DefaultEvery = 10 * time.Minute

// Syncer keeps the server's catalogue at the heads of its content
// repositories: it fetches them, lays the new commits out, imports them
// with the same checks as any import, and records the commits imported,
// which agents then deploy. A fetch or an import that fails changes
// nothing live: the catalogue, the recorded commits and the laid-out
// directories of the last good sync stay, the error is recorded for the
// pages, and operators get one alert per new error.
type Syncer struct {
	Repos []*Repo // in overlay order: public first
	// Dirs are the --content directories, overlaid after the repositories.
	Dirs []string
	// Import imports the content directories (public first) into the
	// catalogue, all or nothing, and records repos (the commits imported)
	// in the same transaction (operator.Service.ImportContentFrom): a job
	// claimed meanwhile sees both or neither.
	Import func(ctx context.Context, dirs []string, repos []*wod.ContentRepo) ([]wod.ImportResult, error)
	State  wod.ContentRepoService
	// Alert composes an operator alert, or nil when nobody has an address
	// (engine.Engine.ComposeAlert).
	Alert func(ctx context.Context, text string) (*wod.Mail, error)
	// Events, when set, keeps each new failure in the audit trail, whether
	// or not an operator has an address for the alert.
	Events wod.EventService
	Every  time.Duration
	Clock  wod.Clock
	Logger *slog.Logger

	mu      sync.Mutex
	started bool // a sync has imported in this process
	kick    chan struct{}
	once    sync.Once
}

// Kick asks Run for a sync soon, without waiting for it (a push webhook).
func (s *Syncer) Kick() {
	s.once.Do(s.init)
	select {
	case s.kick <- struct{}{}:
	default: // one is pending already
	}
}

func (s *Syncer) init() { s.kick = make(chan struct{}, 1) }

// Run syncs every Every and when kicked, until ctx ends. The caller makes
// the first sync (at start) with Sync.
func (s *Syncer) Run(ctx context.Context) {
	s.once.Do(s.init)
	every := s.Every
	if every <= 0 {
		every = DefaultEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
		if _, _, err := s.Sync(ctx, false); err != nil && ctx.Err() == nil {
			s.Logger.WarnContext(ctx, "content sync failed: the last good content stays live", "error", err)
		}
	}
}

// Sync fetches every repository and imports when a head moved, when the
// last sync failed, on the first sync of the process, or when force says
// so (an operator's sync). It returns the repositories' state as recorded.
//
// It returns the repositories' state as recorded and, when it imported,
// the import's results.
func (s *Syncer) Sync(ctx context.Context, force bool) ([]*wod.ContentRepo, []wod.ImportResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, err := s.State.FindContentRepos(ctx)
	if err != nil {
		return nil, nil, err
	}
	byKey := map[string]*wod.ContentRepo{}
	for _, r := range prev {
		byKey[r.Key] = r
	}
	now := s.Clock.Now().UTC()
	recs := make([]*wod.ContentRepo, len(s.Repos))
	heads := make([]string, len(s.Repos))
	var fetchErrs []string
	changed := force || !s.started || len(prev) != len(s.Repos)
	for i, repo := range s.Repos {
		rec := &wod.ContentRepo{Key: repo.Spec.Key(), URL: repo.Spec.PlainURL(), Branch: repo.Spec.Branch}
		if p := byKey[rec.Key]; p != nil {
			c := *p
			rec = &c
		}
		rec.Position, rec.URL, rec.Branch = i, repo.Spec.PlainURL(), repo.Spec.Branch
		recs[i] = rec
		head, err := repo.Fetch(ctx)
		if err != nil {
			fetchErrs = append(fetchErrs, err.Error())
			rec.Error, rec.ErrorAt = "fetch: "+err.Error(), &now
			continue
		}
		heads[i], rec.Head, rec.SyncedAt = head, head, &now
		if head != rec.Commit || rec.Error != "" {
			changed = true
		}
	}
	if len(fetchErrs) > 0 {
		err := fmt.Errorf("content: %s", strings.Join(fetchErrs, "; "))
		return recs, nil, s.save(ctx, prev, recs, err)
	}
	if !changed {
		return recs, nil, s.save(ctx, prev, recs, nil)
	}
	dirs := make([]string, 0, len(s.Repos)+len(s.Dirs))
	var layErr error
	for i, repo := range s.Repos {
		d, err := repo.Tree(ctx, heads[i])
		if err != nil {
			layErr = err
			break
		}
		dirs = append(dirs, d)
	}
	var results []wod.ImportResult
	imported := make([]*wod.ContentRepo, len(recs))
	for i, rec := range recs {
		c := *rec
		c.Commit, c.ImportedAt, c.Error, c.ErrorAt = heads[i], &now, "", nil
		imported[i] = &c
	}
	if layErr == nil {
		results, layErr = s.Import(ctx, append(dirs, s.Dirs...), imported)
	}
	if layErr != nil {
		msg := "import of " + s.commits(heads) + ": " + Describe(layErr)
		for _, rec := range recs {
			rec.Error, rec.ErrorAt = msg, &now
		}
		return recs, nil, s.save(ctx, prev, recs, fmt.Errorf("content: %s", msg))
	}
	for i, rec := range imported {
		// The commit before stays laid out for the agents' jobs claimed
		// before this import.
		if err := s.Repos[i].Prune(heads[i], recs[i].Commit); err != nil {
			s.Logger.WarnContext(ctx, "content: pruning old commits", "repo", s.Repos[i].Spec.Display(), "error", err)
		}
		recs[i] = rec
	}
	s.started = true
	s.Logger.InfoContext(ctx, "content imported from git", "commits", s.commits(heads))
	return recs, results, nil
}

// save records the repositories' state, with an alert when the sync
// failed with an error operators have not heard of yet.
func (s *Syncer) save(ctx context.Context, prev, recs []*wod.ContentRepo, failure error) error {
	var alert *wod.Mail
	if failure != nil && s.Alert != nil && newError(prev, recs) {
		text := "Content sync failed; the last good content stays live.\n\nThe catalogue and the agents stay at " +
			s.recorded(recs) + ".\n\n" + failure.Error()
		m, err := s.Alert(ctx, text)
		if err != nil {
			s.Logger.WarnContext(ctx, "content: composing the alert", "error", err)
		}
		alert = m
	}
	if failure != nil && s.Events != nil && newError(prev, recs) {
		if err := s.Events.RecordEvent(ctx, &wod.Event{Actor: "system", Kind: "content.sync_failed", Subject: "content",
			Detail: failure.Error()}); err != nil {
			s.Logger.WarnContext(ctx, "content: recording the failure", "error", err)
		}
	}
	if err := s.State.SaveContentRepos(ctx, recs, alert); err != nil {
		return errors.Join(failure, err)
	}
	return failure
}

// newError says whether some repository fails in a way it did not before.
func newError(prev, recs []*wod.ContentRepo) bool {
	was := map[string]string{}
	for _, p := range prev {
		was[p.Key] = p.Error
	}
	for _, r := range recs {
		if r.Error != "" && r.Error != was[r.Key] {
			return true
		}
	}
	return false
}

func (s *Syncer) commits(heads []string) string {
	var parts []string
	for i, h := range heads {
		parts = append(parts, s.Repos[i].Spec.Display()+" at "+short(h))
	}
	return strings.Join(parts, ", ")
}

func (s *Syncer) recorded(recs []*wod.ContentRepo) string {
	var parts []string
	for _, r := range recs {
		c := "none yet"
		if r.Commit != "" {
			c = short(r.Commit)
		}
		parts = append(parts, r.URL+": "+c)
	}
	return strings.Join(parts, ", ")
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// Describe spells out an error with the fields of a *wod.Error (an import
// names each broken file), on one line each.
func Describe(err error) string {
	var we *wod.Error
	if !errors.As(err, &we) || len(we.Fields) == 0 {
		return err.Error()
	}
	var b strings.Builder
	b.WriteString(we.Error())
	for _, f := range we.Fields {
		fmt.Fprintf(&b, "\n  %s: %s", f.Field, f.Message)
	}
	return b.String()
}

// Current returns the directories of the imported commits, followed by
// Dirs: what the catalogue was imported from.
func (s *Syncer) Current(ctx context.Context) ([]string, error) {
	recs, err := s.State.FindContentRepos(ctx)
	if err != nil {
		return nil, err
	}
	src := &Source{Repos: s.Repos, Dirs: s.Dirs}
	return src.ContentDirs(ctx, wod.ContentCommits(recs))
}
