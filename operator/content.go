package operator

import (
	"context"
	"slices"
	"strings"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/content"
)

// The content import lives here rather than in package content: content
// reads and renders workshop folders and knows nothing of the store, while
// an import also picks a location, writes the catalogue and is audited,
// which is what this package does for every operator action.

// ContentSyncer follows the content repositories (gitcontent.Syncer).
type ContentSyncer interface {
	// Sync fetches the repositories and imports them (force: even when no
	// head moved), keeping the last good content live when that fails.
	Sync(ctx context.Context, force bool) ([]*wod.ContentRepo, []wod.ImportResult, error)
	// Kick asks for a sync soon, without waiting for it.
	Kick()
}

// HasContent says whether the server has content directories or
// repositories to import: the pages offer the import only then.
func (s *Service) HasContent() bool { return len(s.ContentDirs) > 0 || s.ContentSync != nil }

// FollowsRepos says whether the content comes from git repositories.
func (s *Service) FollowsRepos() bool { return s.ContentSync != nil }

// ReimportContent re-reads the server's content into the catalogue, as
// ImportContent does; new workshops go to the only location. With content
// repositories it syncs them (SyncContent).
func (s *Service) ReimportContent(ctx context.Context, by *wod.Caller) ([]wod.ImportResult, error) {
	if s.ContentSync != nil {
		_, res, err := s.SyncContent(ctx, by)
		return res, err
	}
	if !s.HasContent() {
		return nil, wod.Errorf(wod.EINVALID, "this server has no content directories configured (--content)")
	}
	return s.ImportContent(ctx, by, s.ContentDirs, "")
}

// SyncContent fetches the content repositories and imports them now, even
// when no head moved. A failure leaves the last good content live; it is
// returned (EINVALID, with the repositories' state) for the operator to
// read.
func (s *Service) SyncContent(ctx context.Context, by *wod.Caller) ([]*wod.ContentRepo, []wod.ImportResult, error) {
	if s.ContentSync == nil {
		return nil, nil, wod.Errorf(wod.EINVALID, "this server follows no content repository (--content-repo)")
	}
	repos, res, err := s.ContentSync.Sync(ctx, true)
	if by != nil {
		detail := "ok"
		if err != nil {
			detail = err.Error()
		}
		s.audit(ctx, by, "content.sync", "content", detail)
	}
	if err != nil && wod.ErrorCode(err) == wod.EINTERNAL && repos != nil {
		// The content or a fetch failed, not the server: say so plainly.
		return repos, nil, &wod.Error{Code: wod.EINVALID, Message: err.Error()}
	}
	return repos, res, err
}

// KickContentSync asks for a sync of the content repositories soon (a
// push webhook); false when the server follows none.
func (s *Service) KickContentSync() bool {
	if s.ContentSync == nil {
		return false
	}
	s.ContentSync.Kick()
	return true
}

// ContentStatus lists the content repositories with their commits, when
// they were synced and their last error; nil when there are none.
func (s *Service) ContentStatus(ctx context.Context) ([]*wod.ContentRepo, error) {
	if s.ContentSync == nil || s.ContentRepos == nil {
		return nil, nil
	}
	return s.ContentRepos.FindContentRepos(ctx)
}

// ImportContent loads the content directories (public first, overlays
// after), checks that every workshop renders for a sample student, and
// creates or updates their workshops, all or none; fields operators changed
// keep the operators' values. New workshops go to the named locations
// (comma-separated, the first one first), or to the only one; workshops
// already in the catalogue keep theirs, which are the operators' to change.
//
// by is nil when the platform imports on its own behalf, as wod server and
// wod up do at start and the content sync after a pull (which records its
// own content.sync event): that import leaves no audit event.
func (s *Service) ImportContent(ctx context.Context, by *wod.Caller, dirs []string, location string) ([]wod.ImportResult, error) {
	return s.importContent(ctx, by, dirs, location, s.Workshops.ImportWorkshops)
}

// ImportContentFrom is ImportContent of content pulled from git, on the
// platform's behalf: the repositories' state (the commits imported) is
// recorded in the import's own transaction.
func (s *Service) ImportContentFrom(ctx context.Context, dirs []string, location string, repos []*wod.ContentRepo) ([]wod.ImportResult, error) {
	return s.importContent(ctx, nil, dirs, location, func(ctx context.Context, ws []*wod.Workshop) ([]wod.ImportResult, error) {
		return s.Workshops.ImportWorkshopsFrom(ctx, ws, repos)
	})
}

// importContent loads and checks dirs, places the workshops, and has save
// store them.
func (s *Service) importContent(ctx context.Context, by *wod.Caller, dirs []string, location string,
	save func(context.Context, []*wod.Workshop) ([]wod.ImportResult, error)) ([]wod.ImportResult, error) {
	ws, err := content.Load(dirs)
	if err != nil {
		return nil, err
	}
	needs, err := s.checkContent(ctx, ws, dirs)
	if err != nil {
		return nil, err
	}
	locs, ranges, err := s.importLocations(ctx, location)
	if err != nil {
		return nil, err
	}
	for _, w := range ws {
		w.LocationID = locs[0].ID
		w.LocationIDs, w.LocationRanges = nil, append([]wod.SeatRange(nil), ranges...)
		for _, l := range locs {
			w.LocationIDs = append(w.LocationIDs, l.ID)
		}
	}
	res, err := save(ctx, ws)
	if err != nil {
		return nil, err
	}
	if by != nil {
		s.audit(ctx, by, "workshop.import", "content", "")
	}
	s.warnMissingKernels(ctx, res, needs)
	return res, nil
}

// warnMissingKernels adds to each result the kernels its notebooks need
// that its location's hub lacks. A location whose agent never reported
// its kernels is not warned about: nobody knows yet (wod check says so).
func (s *Service) warnMissingKernels(ctx context.Context, res []wod.ImportResult, needs map[string][]content.KernelNeed) {
	ls, err := s.Locations.FindLocations(ctx)
	if err != nil {
		s.Logger.WarnContext(ctx, "import: the locations' kernels are unknown", "error", err)
		return
	}
	byID := map[int64]*wod.Location{}
	for _, l := range ls {
		byID[l.ID] = l
	}
	for i := range res {
		r := &res[i]
		if len(needs[r.Slug]) == 0 {
			continue
		}
		w, err := s.Workshops.FindWorkshop(ctx, r.Slug)
		if err != nil {
			continue
		}
		l := byID[w.LocationID]
		if l == nil || l.Kernels == nil {
			continue
		}
		r.Warnings = append(r.Warnings, content.MissingKernels(r.Slug, needs[r.Slug], l.Name, func(k string) bool {
			has, _ := l.HasKernel(k)
			return has
		})...)
	}
}

// checkContent renders every workshop for a sample student, in both modes,
// returns the kernels each one's notebooks need, and refuses them (StrictContent) or logs the report: an undefined variable
// or a notebook that is not JSON is found here, not by a participant
// waiting for an apology.
func (s *Service) checkContent(ctx context.Context, ws []*wod.Workshop, dirs []string) (map[string][]content.KernelNeed, error) {
	var fields []wod.FieldError
	needs := map[string][]content.KernelNeed{}
	for _, w := range ws {
		rep, err := content.CheckWorkshop(w, s.ContentVars, dirs)
		if err != nil {
			return nil, err
		}
		needs[w.Slug] = rep.Kernels
		for _, p := range rep.Problems {
			fields = append(fields, wod.FieldError{Field: w.Slug, Message: p.String()})
		}
		if !rep.OK() && !s.StrictContent {
			s.Logger.WarnContext(ctx, "content would not render", "workshop", w.Slug, "report", rep.String())
		}
	}
	if len(fields) > 0 && s.StrictContent {
		return nil, &wod.Error{Code: wod.EINVALID, Fields: fields, Message: "content would not render for a student " +
			"(give the missing variables with --var KEY=VALUE, or import anyway with --content-check warn)"}
	}
	return needs, nil
}

// importLocations are the locations new workshops of an import go to: the
// named ones (comma-separated, each "name" or "name:MIN-MAX" with its own
// seat range), or the only one.
func (s *Service) importLocations(ctx context.Context, specs string) ([]*wod.Location, []wod.SeatRange, error) {
	var out []*wod.Location
	var ranges []wod.SeatRange
	for spec := range strings.SplitSeq(specs, ",") {
		if strings.TrimSpace(spec) == "" {
			continue
		}
		name, r, err := wod.ParseLocationSpec(spec)
		if err != nil {
			return nil, nil, wod.Errorf(wod.EINVALID, "--location %v", err)
		}
		l, err := s.importLocation(ctx, name)
		if err != nil {
			return nil, nil, err
		}
		if !slices.ContainsFunc(out, func(o *wod.Location) bool { return o.ID == l.ID }) {
			out, ranges = append(out, l), append(ranges, r)
		}
	}
	if len(out) > 0 {
		return out, ranges, nil
	}
	l, err := s.importLocation(ctx, "")
	if err != nil {
		return nil, nil, err
	}
	return []*wod.Location{l}, []wod.SeatRange{{}}, nil
}

// importLocation is the named location, or (no name) the only one.
func (s *Service) importLocation(ctx context.Context, name string) (*wod.Location, error) {
	if name != "" {
		return s.Locations.FindLocation(ctx, name)
	}
	l, n, err := s.onlyLocation(ctx)
	if err != nil || l != nil {
		return l, err
	}
	if n == 0 {
		return nil, wod.Errorf(wod.EINVALID, "there is no location yet to put workshops at: run wod up once "+
			"(it creates the location %q) or add one with wod location add NAME --hub-url URL --students N "+
			"(or POST /api/v1/locations)", LocalLocation)
	}
	return nil, wod.Errorf(wod.EINVALID, "there are %d locations; say which one new workshops go to with --location", n)
}
