package gointerp

import (
	"os"
	"strings"
)

// gomacro predates go/types' Alias nodes: with Go 1.23's default
// gotypesalias=1, fast.New panics on a *types.Alias. A `//go:debug` line
// only works in a main package, so the setting is made at run time, which
// the runtime honours for GODEBUG changes made with os.Setenv.
const aliasSetting = "gotypesalias=0"

// disableTypeAliases turns gotypesalias off for this process and returns
// the GODEBUG without that setting, for the commands a cell starts.
func disableTypeAliases() (forChildren string) {
	var kept []string
	for _, s := range strings.Split(os.Getenv("GODEBUG"), ",") {
		if s = strings.TrimSpace(s); s != "" && !strings.HasPrefix(s, "gotypesalias=") {
			kept = append(kept, s)
		}
	}
	forChildren = strings.Join(kept, ",")
	os.Setenv("GODEBUG", strings.Join(append(kept, aliasSetting), ","))
	return forChildren
}
