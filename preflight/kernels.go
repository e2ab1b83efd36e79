package preflight

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/config"
	"github.com/wod-dev/wod/content"
	"github.com/wod-dev/wod/store"
)

// checkKernels lists the kernels that workshops' notebooks need and their
// hub lacks. A missing kernel of an active workshop FAILs: its
// participants would open notebooks on "kernel not found", which is an
// event that does not work, what this command is run to prevent. It only
// WARNs when that is not certain: the workshops' activity is unknown (the
// agent role reads the content, not the catalogue) or the location's agent
// never reported its kernels.
func (c *Checker) checkKernels(ctx context.Context, role string, add addCheck) {
	ws, fromDB := c.kernelWorkshops(ctx, role)
	if ws == nil {
		add("kernels", Skip, "no workshops to look at (no catalogue yet, no --content)")
		return
	}
	var locs map[int64]*wod.Location
	if fromDB && role == config.RoleServer {
		locs = c.locations(ctx)
	}
	missing, unknown := 0, map[string]bool{}
	checked := 0
	for _, w := range ws {
		if w.ContentDir == "" {
			continue
		}
		needs := content.Kernels(os.DirFS(filepath.Join(w.ContentDir, w.Slug)))
		if len(needs) == 0 {
			continue
		}
		checked++
		where, has, known := "this host", c.hostHas, c.HostKernels != nil
		if role == config.RoleServer {
			l := locs[w.LocationID]
			if l == nil {
				continue
			}
			where, known = l.Name, l.Kernels != nil
			has = func(k string) bool { h, _ := l.HasKernel(k); return h }
			if !known {
				unknown[l.Name] = true
				continue
			}
		}
		if !known {
			continue
		}
		status := Fail
		if !fromDB {
			status = Warn // active or not, nobody here knows
		}
		for _, line := range content.MissingKernels(w.Slug, needs, where, has) {
			add("kernels", status, "%s", line)
			missing++
		}
	}
	for _, name := range sortedKeys(unknown) {
		add("kernels", Warn, "location %s has not reported its kernels (its agent has not run since wod learnt to): unknown", name)
	}
	if missing == 0 && len(unknown) == 0 {
		what := "the active workshops"
		if !fromDB {
			what = "the workshops of --content"
		}
		add("kernels", OK, "%s have every kernel their notebooks need (%d with notebooks)", what, checked)
	}
}

// kernelWorkshops are the workshops to check: the catalogue's active ones
// when the role has the database, else those of --content.
func (c *Checker) kernelWorkshops(ctx context.Context, role string) (ws []*wod.Workshop, fromDB bool) {
	if role != config.RoleAgent {
		if db := c.openDB(ctx); db != nil {
			defer db.Close()
			active := true
			all, _, err := db.FindWorkshops(ctx, wod.WorkshopFilter{Active: &active, Page: wod.Page{Limit: wod.MaxLimit}})
			if err == nil {
				return append([]*wod.Workshop{}, all...), true
			}
		}
	}
	if len(c.Config.Content) == 0 {
		return nil, false
	}
	all, err := content.Load(c.Config.Content)
	if err != nil {
		return nil, false // the content check says why
	}
	return all, false
}

// locations are the catalogue's locations by id.
func (c *Checker) locations(ctx context.Context) map[int64]*wod.Location {
	db := c.openDB(ctx)
	if db == nil {
		return nil
	}
	defer db.Close()
	ls, err := db.FindLocations(ctx)
	if err != nil {
		return nil
	}
	m := map[int64]*wod.Location{}
	for _, l := range ls {
		m[l.ID] = l
	}
	return m
}

// openDB opens an existing database, or returns nil (checkDatabase says
// why).
func (c *Checker) openDB(ctx context.Context) *store.DB {
	if path, ok := strings.CutPrefix(c.Config.DB, "sqlite:"); ok {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	clock := c.Clock
	if clock == nil {
		clock = wod.SystemClock{}
	}
	db, err := store.Open(ctx, c.Config.DB, clock)
	if err != nil {
		return nil
	}
	if cur, latest, err := db.MigrationVersions(ctx); err != nil || cur != latest {
		db.Close()
		return nil // an older schema lacks columns the queries read
	}
	return db
}

func (c *Checker) hostHas(k string) bool { return slices.Contains(c.HostKernels, k) }

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
