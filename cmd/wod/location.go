package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/app"
	"github.com/wod-dev/wod/config"
)

// locationCmd manages locations from the shell. Like `wod user add` and
// `wod workshop import`, it works on the database directly (--db), through
// the same operator service as the API, with the same checks and audit
// events: it needs no running server, so that a bare control plane can be
// set up before its first start. (`wod workshop sync` is the one command
// that calls a running server, because only the server holds the clones.)
func locationCmd(e *env) *cobra.Command {
	cmd := uses(&cobra.Command{Use: "location", Short: "Manage locations (JupyterHub hosts and their seats)",
		Long: "Adds, lists, changes and removes locations, and mints their agents' tokens, as the API\n" +
			"(/api/v1/locations) and the admin pages do. It works on the database (--db) directly: no running\n" +
			"server is needed; a running server sees the change at once."}, config.UseConfig, config.UseDB, config.UseData)
	cmd.AddCommand(locationAddCmd(e), locationListCmd(e), locationSetCmd(e), locationRemoveCmd(e), locationTokenCmd(e))
	return cmd
}

func locationAddCmd(e *env) *cobra.Command {
	var l wod.Location
	cmd := &cobra.Command{
		Use:   "add NAME --hub-url URL --students N [--base-student-id B] [--kind legacy --backend-email ADDR]",
		Short: "Add a location with its seats, all free",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withStore(cmd.Context(), func(a *app.App) error {
				l.Name = args[0]
				if err := a.Operator().CreateLocation(cmd.Context(), cliCaller, &l); err != nil {
					return explain(err)
				}
				fmt.Fprintf(e.stdout, "location %s added: %d seats (student%d..student%d), hub %s\n", l.Name, l.Students,
					l.StudentID(1), l.StudentID(l.Students), orDash(l.HubURL))
				fmt.Fprintf(e.stdout, "next: wod location agent-token %s, for its agent (WOD_AGENT_TOKEN)\n", l.Name)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&l.HubURL, "hub-url", "", "the hub's public URL, as participants reach it")
	cmd.Flags().IntVar(&l.Students, "students", 0, "student accounts (seats): student1..studentN")
	cmd.Flags().IntVar(&l.BaseStudentID, "base-student-id", 0, "offset of this location's student numbers in the global ids (the original's basestdid)")
	kindFlags(cmd, (*string)(&l.Kind), &l.BackendEmail, &l.BackendSMTP)
	cmd.MarkFlagRequired("hub-url")
	cmd.MarkFlagRequired("students")
	return cmd
}

func locationListCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List the locations with their seats and their agents' state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withStore(cmd.Context(), func(a *app.App) error {
				ls, err := a.DB.FindLocations(cmd.Context())
				if err != nil {
					return err
				}
				now := a.Clock.Now()
				for _, l := range ls {
					l.SetAgentState(now, e.cfg.AgentStale)
				}
				if asJSON {
					if ls == nil {
						ls = []*wod.Location{}
					}
					enc := json.NewEncoder(e.stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(ls)
				}
				return printLocations(e, a, ls, now)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON, as GET /api/v1/locations answers")
	return cmd
}

func printLocations(e *env, a *app.App, ls []*wod.Location, now time.Time) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tHUB URL\tSTUDENTS\tBASE ID\tAGENT\tLAST HEARTBEAT")
	for _, l := range ls {
		beat := "never"
		if l.LastHeartbeat != nil {
			beat = now.Sub(*l.LastHeartbeat).Round(time.Second).String() + " ago"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", l.Name, orDash(l.HubURL), l.Students, l.BaseStudentID, l.AgentState, beat)
	}
	if len(ls) == 0 {
		fmt.Fprintln(tw, "(none: add one with wod location add NAME --hub-url URL --students N)")
	}
	return tw.Flush()
}

// kindFlags are the flags of what serves a location: a wod agent, or an
// original backend driven by command mails ("Moving from the original").
func kindFlags(cmd *cobra.Command, kind, email, smtp *string) {
	cmd.Flags().StringVar(kind, "kind", "", "what serves the location: agent (a wod agent, the default) or legacy (an original backend, driven by command mails)")
	cmd.Flags().StringVar(email, "backend-email", "", "a legacy location's command mail address (the original's WODUSER@backend)")
	cmd.Flags().StringVar(smtp, "backend-smtp", "", "a legacy location's Postfix as host[:port] (default: the address's domain, port 10025)")
}

func locationSetCmd(e *env) *cobra.Command {
	var hubURL, kind, backendEmail, backendSMTP string
	var students, base int
	cmd := &cobra.Command{
		Use:   "set NAME [--hub-url URL] [--students N] [--base-student-id B] [--kind K] [--backend-email ADDR]",
		Short: "Change a location's hub URL, seats, base student id or kind",
		Long: "Changes what is given and leaves the rest. Growing --students adds free seats; shrinking is\n" +
			"refused while a seat or a workshop's range is above the new count.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var upd wod.LocationUpdate
			if cmd.Flags().Changed("hub-url") {
				upd.HubURL = &hubURL
			}
			if cmd.Flags().Changed("students") {
				upd.Students = &students
			}
			if cmd.Flags().Changed("base-student-id") {
				upd.BaseStudentID = &base
			}
			if cmd.Flags().Changed("kind") {
				k := wod.LocationKind(kind)
				upd.Kind = &k
			}
			if cmd.Flags().Changed("backend-email") {
				upd.BackendEmail = &backendEmail
			}
			if cmd.Flags().Changed("backend-smtp") {
				upd.BackendSMTP = &backendSMTP
			}
			if upd == (wod.LocationUpdate{}) {
				return fmt.Errorf("nothing to change: give --hub-url, --students, --base-student-id, --kind, --backend-email or --backend-smtp")
			}
			return e.withStore(cmd.Context(), func(a *app.App) error {
				l, err := a.Operator().UpdateLocation(cmd.Context(), cliCaller, args[0], upd)
				if err != nil {
					return explain(err)
				}
				fmt.Fprintf(e.stdout, "location %s: %d seats (student%d..student%d), hub %s\n", l.Name, l.Students,
					l.StudentID(1), l.StudentID(l.Students), orDash(l.HubURL))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&hubURL, "hub-url", "", "the hub's public URL, as participants reach it")
	cmd.Flags().IntVar(&students, "students", 0, "student accounts (seats)")
	cmd.Flags().IntVar(&base, "base-student-id", 0, "offset of this location's student numbers in the global ids")
	kindFlags(cmd, &kind, &backendEmail, &backendSMTP)
	return cmd
}

func locationRemoveCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a location that holds no seat, no workshop and no history",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withStore(cmd.Context(), func(a *app.App) error {
				if err := a.Operator().DeleteLocation(cmd.Context(), cliCaller, args[0]); err != nil {
					return explain(err)
				}
				fmt.Fprintf(e.stdout, "location %s removed\n", args[0])
				return nil
			})
		},
	}
}

func locationTokenCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "agent-token NAME",
		Short: "Mint the location's agent token and print it, once",
		Long: "Mints a new token for the location's agent and prints it on standard output, the only time it\n" +
			"is shown (the database keeps its hash). A previous token stops working at once: restart the\n" +
			"agent with the new one (WOD_AGENT_TOKEN).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withStore(cmd.Context(), func(a *app.App) error {
				tok, err := a.Operator().IssueAgentToken(cmd.Context(), cliCaller, args[0])
				if err != nil {
					return explain(err)
				}
				fmt.Fprintln(e.stdout, tok)
				return nil
			})
		},
	}
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
