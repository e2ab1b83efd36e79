package config

import (
	"slices"

	"github.com/spf13/pflag"
)

// A Use is a group of flags that commands take together. Each flag is
// defined once, in Register, with the uses it belongs to; each command
// names the uses it takes, and its --help lists those flags only. The
// environment and the configuration file set every flag whatever the
// command, so one /etc/wod file serves all of them.
type Use string

// The uses. A flag may belong to several.
const (
	UseConfig  Use = "config"  // --config and the logger: every command that reads the configuration
	UseDB      Use = "db"      // the database: --db
	UseData    Use = "data"    // the data directory (the SQLite file, keys, clones, the managed hub's state)
	UseServe   Use = "serve"   // the control plane's service: listen address, portal, engine, rehearsals
	UseContent Use = "content" // where the content comes from: directories and repositories
	UseImport  Use = "import"  // what an import checks the content with: variables, strictness
	UseMail    Use = "mail"    // the outbox's delivery
	UseBrand   Use = "brand"   // how the organiser presents itself on pages and in mails
	UseClient  Use = "client"  // reaching a running server: its URL
	UseLink    Use = "link"    // an agent's link to its server: URL and token
	UseHost    Use = "host"    // the agent's host: students, hub, guard, kernels, LDAP
	UseLocal   Use = "local"   // wod up's own location: its hub URL and seats
	UseLegacy  Use = "legacy"  // the original api-db's intake (wod agent --legacy-api)
)

// The uses of each role, which `wod check` and `wod install` take too.
var (
	ServerUses = []Use{UseConfig, UseDB, UseData, UseServe, UseContent, UseImport, UseMail, UseBrand}
	UpUses     = []Use{UseConfig, UseDB, UseData, UseServe, UseContent, UseImport, UseMail, UseBrand, UseHost, UseLocal}
	AgentUses  = []Use{UseConfig, UseData, UseContent, UseImport, UseLink, UseHost, UseLegacy}
)

// AllRoles are the uses of every role together.
func AllRoles() []Use {
	var out []Use
	for _, u := range slices.Concat(ServerUses, UpUses, AgentUses) {
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// usesAnnotation is the pflag annotation that carries a flag's uses.
const usesAnnotation = "wod-uses"

// flagDefs collects the flags of Register, each in a set of its own so
// that its uses can be attached once it is defined.
type flagDefs struct {
	sets []*pflag.FlagSet
	uses [][]Use
}

// in returns where to define one flag that belongs to uses.
func (d *flagDefs) in(uses ...Use) *pflag.FlagSet {
	fs := pflag.NewFlagSet("", pflag.ContinueOnError)
	d.sets, d.uses = append(d.sets, fs), append(d.uses, uses)
	return fs
}

// into moves every flag defined into fs, with its uses.
func (d *flagDefs) into(fs *pflag.FlagSet) {
	for i, set := range d.sets {
		names := make([]string, len(d.uses[i]))
		for j, u := range d.uses[i] {
			names[j] = string(u)
		}
		set.VisitAll(func(f *pflag.Flag) {
			if f.Annotations == nil {
				f.Annotations = map[string][]string{}
			}
			f.Annotations[usesAnnotation] = names
			fs.AddFlag(f)
		})
	}
}

// Uses are the uses a flag belongs to (none for a flag Register did not
// define).
func Uses(f *pflag.Flag) []Use {
	var out []Use
	for _, n := range f.Annotations[usesAnnotation] {
		out = append(out, Use(n))
	}
	return out
}

// FlagsOf returns the flags of fs that belong to any of uses, in fs's
// order.
func FlagsOf(fs *pflag.FlagSet, uses ...Use) []*pflag.Flag {
	var out []*pflag.Flag
	fs.VisitAll(func(f *pflag.Flag) {
		for _, u := range Uses(f) {
			if slices.Contains(uses, u) {
				out = append(out, f)
				return
			}
		}
	})
	return out
}
