package testenv

import (
	"testing"
)

// recorder stands for a test: it records whether the helper skipped or
// failed it, without ending the calling goroutine.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}
func (r *recorder) Skip(args ...any) {
	r.skipped = true
	r.msg = args[0].(string)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = true
	r.msg = format
}

func TestMissingSkipsUnlessRequired(t *testing.T) {
	const env = "WOD_TEST_REQUIRE_TESTENV_SELFTEST"
	t.Setenv(env, "")
	r := &recorder{TB: t}
	Missing(r, env, "no %s here", "thing")
	if !r.skipped || r.failed || r.msg != "no thing here" {
		t.Fatalf("without the switch: skipped %v failed %v %q; want a skip", r.skipped, r.failed, r.msg)
	}
	t.Setenv(env, "1")
	r = &recorder{TB: t}
	Missing(r, env, "no %s here", "thing")
	if r.skipped || !r.failed {
		t.Fatalf("with the switch: skipped %v failed %v; want a failure", r.skipped, r.failed)
	}
}

func TestCommandFindsAnInstalledProgram(t *testing.T) {
	r := &recorder{TB: t}
	if p := Command(r, RequireRoot, "sh", "always there"); p == "" || r.skipped || r.failed {
		t.Fatalf("sh: %q skipped %v failed %v", p, r.skipped, r.failed)
	}
	r = &recorder{TB: t}
	Command(r, "WOD_TEST_REQUIRE_TESTENV_SELFTEST", "wod-no-such-program", "none")
	if !r.skipped {
		t.Fatal("a missing program did not skip")
	}
}
