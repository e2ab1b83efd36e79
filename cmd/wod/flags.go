package main

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wod-dev/wod/config"
)

// usesKey is the cobra annotation naming the configuration uses a command
// takes (see config.Use); a command without one takes its parent's.
const usesKey = "wod-uses"

// uses declares the configuration flags cmd takes, and returns it.
func uses(cmd *cobra.Command, us ...config.Use) *cobra.Command {
	names := make([]string, len(us))
	for i, u := range us {
		names[i] = string(u)
	}
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[usesKey] = strings.Join(names, ",")
	return cmd
}

// commandUses are the uses of cmd, or of its nearest ancestor that names
// some.
func commandUses(cmd *cobra.Command) []config.Use {
	for c := cmd; c != nil; c = c.Parent() {
		if v, ok := c.Annotations[usesKey]; ok {
			var out []config.Use
			for _, n := range strings.Split(v, ",") {
				if n != "" {
					out = append(out, config.Use(n))
				}
			}
			return out
		}
	}
	return nil
}

// withFlags gives every command that runs the configuration flags of its
// uses, as flags of its own, and hides the help flag from the lists: a
// command's --help shows what it takes and nothing else.
func withFlags(cmd *cobra.Command, all *pflag.FlagSet) {
	cmd.InitDefaultHelpFlag()
	if f := cmd.Flags().Lookup("help"); f != nil {
		f.Hidden = true
	}
	if cmd.Runnable() {
		for _, f := range config.FlagsOf(all, commandUses(cmd)...) {
			if cmd.Flags().Lookup(f.Name) != nil {
				// A command's own flag would hide the setting: rename one.
				panic("wod " + cmd.Name() + ": flag --" + f.Name + " is both the command's and the configuration's")
			}
			cmd.Flags().AddFlag(f)
		}
	}
	for _, c := range cmd.Commands() {
		withFlags(c, all)
	}
}
