package jupyterhub

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
)

// testStudent picks a free uid in lo..hi for a test's student account
// wodt<uid> and its hub group wodt-g<uid>; the test makes them (home and
// password are its own), and they are removed, with the student's
// processes, when it ends. Ranges stay above 63999: a wod up of cmd/wod's tests guards uids 52001–61203 and kills what has no registration.
func testStudent(t *testing.T, lo, hi int) (uid int, group, student string) {
	t.Helper()
	uid = freeUID(t, lo, hi)
	group, student = fmt.Sprintf("wodt-g%d", uid), fmt.Sprintf("wodt%d", uid)
	t.Cleanup(func() { run(t, "groupdel", group) })
	t.Cleanup(func() {
		killUID(uid)
		run(t, "userdel", student)
		os.RemoveAll(filepath.Join(RuntimeRoot, strconv.Itoa(uid)))
	})
	return uid, group, student
}

// freeUID finds an unused uid in [lo, hi] whose derived user and group
// names are unused too.
func freeUID(t *testing.T, lo, hi int) int {
	t.Helper()
	n := hi - lo + 1
	for k := range n {
		uid := lo + (os.Getpid()+k)%n
		_, errU := user.LookupId(strconv.Itoa(uid))
		_, errG := user.LookupGroupId(strconv.Itoa(uid))
		_, errN := user.Lookup(fmt.Sprintf("wodt%d", uid))
		_, errGN := user.LookupGroup(fmt.Sprintf("wodt-g%d", uid))
		if errU != nil && errG != nil && errN != nil && errGN != nil {
			return uid
		}
	}
	t.Fatalf("no free uid in %d..%d", lo, hi)
	return 0
}
