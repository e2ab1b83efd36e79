package preflight

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/store"
)

// checkDatabase opens the database without migrating it and compares its
// schema with this binary's.
func (c *Checker) checkDatabase(ctx context.Context, add addCheck) {
	if strings.HasPrefix(c.Config.DB, "sqlite:") {
		path := strings.TrimPrefix(c.Config.DB, "sqlite:")
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			add("database", OK, "%s does not exist yet: created at the first start", path)
			return
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
		add("database", Fail, "%v", err)
		return
	}
	defer db.Close()
	if err := db.Ping(ctx); err != nil {
		add("database", Fail, "%s does not answer: %v", db.Dialect(), err)
		return
	}
	cur, latest, err := db.MigrationVersions(ctx)
	switch {
	case err != nil:
		add("database", Fail, "%s answers, but its schema version is unknown: %v", db.Dialect(), err)
	case cur > latest:
		add("database", Fail, "%s schema at version %d, newer than this binary's %d: run the newer wod", db.Dialect(), cur, latest)
	case cur < latest:
		add("database", Warn, "%s schema at version %d, this binary brings it to %d at start (or wod migrate)", db.Dialect(), cur, latest)
	default:
		add("database", OK, "%s answers, schema current (version %d)", db.Dialect(), cur)
		checkLTI(ctx, db, add)
	}
}

// checkLTI fetches the key set of every registered learning platform: one
// that does not answer refuses every launch from its courses.
func checkLTI(ctx context.Context, db *store.DB, add addCheck) {
	ps, err := db.FindLTIPlatforms(ctx)
	if err != nil {
		add("lti", Fail, "%v", err)
		return
	}
	for _, p := range ps {
		set, err := jwk.Fetch(ctx, p.JWKSURL, jwk.WithHTTPClient(&http.Client{Timeout: 10 * time.Second}))
		switch {
		case err != nil:
			add("lti", Fail, "%s: its key set at %s: %v", p.Name, p.JWKSURL, err)
		case set.Len() == 0:
			add("lti", Fail, "%s: its key set at %s holds no key", p.Name, p.JWKSURL)
		default:
			grades := "no grade book (no token URL)"
			if p.TokenURL != "" {
				grades = "grades to " + p.TokenURL
			}
			add("lti", OK, "%s: %d key(s) at %s; %s", p.Name, set.Len(), p.JWKSURL, grades)
		}
	}
}
