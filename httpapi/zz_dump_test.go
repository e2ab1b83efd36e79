package httpapi_test

import (
	"os"
	"testing"

	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/store/storetest"
)

func TestZZDumpOpenAPI(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock, 0)
		r := e.do("GET", "/api/v1/openapi.json", "", nil)
		os.WriteFile(os.Getenv("DUMP"), r.raw, 0o644)
	})
}
