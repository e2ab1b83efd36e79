package jupyterhub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wod-dev/wod/testenv"
)

// ruleBase stands in for PAM under the throttle's methods, in the hub's own
// Python: each check takes a few real milliseconds (so that attempts
// overlap), the right password is "right", and it notes how many checks
// of each address ran at once. The client address is the handler itself,
// the clock and the delays are the test's.
const ruleBase = `
import logging, sys
logging.basicConfig(stream=sys.stderr)
_clock = [1000.0]
_wod_now = lambda: _clock[0]
_slept = []
async def _fake_sleep(seconds):
    _slept.append(seconds)
    await asyncio.sleep(0)
_wod_sleep = _fake_sleep
_wod_client = lambda handler: handler

class _Base:
    log = logging.getLogger("rule")
    in_pam = collections.Counter()
    most_in_pam = collections.Counter()
    checks = collections.Counter()
    async def get_authenticated_user(self, handler, data):
        _Base.in_pam[handler] += 1
        _Base.checks[handler] += 1
        _Base.most_in_pam[handler] = max(_Base.most_in_pam[handler], _Base.in_pam[handler])
        try:
            await asyncio.sleep(0.005)
            return {"name": data["username"]} if data["password"] == "right" else None
        finally:
            _Base.in_pam[handler] -= 1

class _Rule(_Base):
`

// ruleDriver plays the scenarios and prints their outcomes as JSON.
const ruleDriver = `
async def attempt(auth, addr, user, password):
    try:
        r = await auth.get_authenticated_user(addr, {"username": user, "password": password})
        return "ok" if r else "invalid"
    except web.HTTPError as e:
        text = e.log_message % e.args
        scope = "busy" if "at once" in text else "user" if "for this user name" in text else "address"
        assert e.status_code == 429 and int(e.headers["Retry-After"]) > 0, (e.status_code, e.headers)
        return "refused-" + scope

def tally(outcomes):
    return dict(collections.Counter(outcomes))

async def burst(auth, addr, tries):
    return tally(await asyncio.gather(*(attempt(auth, addr, u, p) for u, p in tries)))

async def main():
    out = {}
    auth = _Rule()
    # A room behind one address: 30 at once, 4 of them with a typo.
    tries = [("s%d" % i, "right") for i in range(30)] + [("s%d" % i, "typo") for i in range(4)]
    out["room"] = await burst(auth, "room", tries)
    out["room_most_in_pam"] = _Base.most_in_pam["room"]
    # The same room again: its successes counted nothing.
    out["room_again"] = await burst(auth, "room", [("s%d" % i, "right") for i in range(30)])

    # One student's password guessed from one address, one try at a time.
    del _slept[:]
    out["guess"] = [await attempt(auth, "guesser", "alice", "wrong%d" % i) for i in range(7)]
    out["guess_delays"] = list(_slept)
    out["guess_right_password"] = await attempt(auth, "guesser", "ALICE", "right")
    out["guess_other_name"] = await attempt(auth, "guesser", "bob", "right")
    out["guess_other_address"] = await attempt(auth, "elsewhere", "alice", "right")

    # The same, 20 at once: no more reach PAM than the limit.
    out["guess_burst"] = await burst(auth, "burst", [("carol", "wrong%d" % i) for i in range(20)])
    out["guess_burst_checks"] = _Base.checks["burst"]

    # A success clears the name's failures from that address, not the address's.
    seq = [await attempt(auth, "typist", "dave", "wrong") for _ in range(4)]
    seq.append(await attempt(auth, "typist", "dave", "right"))
    seq += [await attempt(auth, "typist", "dave", "wrong") for _ in range(4)]
    out["reset"] = seq
    out["reset_address_failures"] = auth._wod_addresses["typist"].count(_wod_now())

    # A spray of wrong passwords over 40 names at once, from one address.
    out["spray"] = await burst(auth, "sprayer", [("v%d" % i, "wrong") for i in range(40)])
    out["spray_checks"] = _Base.checks["sprayer"]
    out["spray_most_in_pam"] = _Base.most_in_pam["sprayer"]
    out["spray_right_password"] = await attempt(auth, "sprayer", "s1", "right")
    out["spray_other_address"] = await attempt(auth, "room", "s1", "right")

    # The blocks end after _WOD_BLOCK_FOR, and old failures stop counting.
    _clock[0] += _WOD_BLOCK_FOR + 1
    out["later_sprayer"] = await attempt(auth, "sprayer", "s1", "right")
    out["later_guesser"] = await attempt(auth, "guesser", "alice", "right")

    # A flood from one address: the attempts waiting for their turn are
    # bounded, per user name and per address; the others are refused at once.
    out["flood_name"] = await burst(auth, "flooder", [("mallory", "right")] * 100)
    out["flood_address"] = await burst(auth, "crowd", [("c%d" % i, "right") for i in range(1100)])
    print(json.dumps(out))

asyncio.run(main())
`

// TestLoginThrottleRule plays the throttle's rule, the Python the hub runs,
// over a stand-in for PAM: a room's burst passes; guessing one name is
// delayed then refused, one at a time or all at once; a success clears the
// name's failures only; a spray over many names stops at the address's
// limit, exactly, with at most addressPAMSlots checks at once.
func TestLoginThrottleRule(t *testing.T) {
	hub := testenv.Command(t, testenv.RequireRoot, "jupyterhub", "apt-get install jupyterhub")
	py := shebang(hub)
	if py == "" {
		testenv.Missing(t, testenv.RequireRoot, "cannot tell which Python runs jupyterhub (%s)", hub)
	}
	th, err := LoginThrottle{DelayAfter: 3, BlockAfter: 5, AddressBlockAfter: 12, BlockFor: 10 * time.Minute}.resolve()
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&src, format+"\n", args...) }
	if err := th.renderModule(line); err != nil {
		t.Fatal(err)
	}
	src.WriteString(ruleBase)
	th.renderMethods(line)
	src.WriteString(ruleDriver)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-I", "-c", src.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := map[string]any{
		"room":                 map[string]any{"ok": 30.0, "invalid": 4.0},
		"room_most_in_pam":     float64(addressPAMSlots),
		"room_again":           map[string]any{"ok": 30.0},
		"guess":                []any{"invalid", "invalid", "invalid", "invalid", "invalid", "refused-user", "refused-user"},
		"guess_delays":         []any{1.0, 2.0},
		"guess_right_password": "refused-user",
		"guess_other_name":     "ok",
		"guess_other_address":  "ok",
		"guess_burst":          map[string]any{"invalid": 5.0, "refused-user": 15.0},
		"guess_burst_checks":   5.0,
		"reset": []any{"invalid", "invalid", "invalid", "invalid", "ok",
			"invalid", "invalid", "invalid", "invalid"},
		"reset_address_failures": 8.0,
		"spray":                  map[string]any{"invalid": 12.0, "refused-address": 28.0},
		"spray_checks":           12.0,
		"spray_most_in_pam":      float64(addressPAMSlots),
		"spray_right_password":   "refused-address",
		"spray_other_address":    "ok",
		"later_sprayer":          "ok",
		"later_guesser":          "ok",
		"flood_name":             map[string]any{"ok": float64(1 + maxWaitingPerName), "refused-busy": float64(100 - 1 - maxWaitingPerName)},
		"flood_address": map[string]any{"ok": float64(addressPAMSlots + maxWaitingPerAddress),
			"refused-busy": float64(1100 - addressPAMSlots - maxWaitingPerAddress)},
	}
	for k, w := range want {
		if g, _ := json.Marshal(got[k]); string(g) != mustJSON(t, w) {
			t.Errorf("%s = %s, want %s", k, g, mustJSON(t, w))
		}
	}
	if t.Failed() {
		t.Logf("python's log:\n%s", stderr.String())
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
