package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wod-dev/wod/app"
	"github.com/wod-dev/wod/config"
	"github.com/wod-dev/wod/loadtest"
)

func loadtestCmd(e *env) *cobra.Command {
	var o loadtest.Options
	asJSON := false
	cmd := &cobra.Command{
		Use:   "loadtest --workshop WKSHP-X -n N [--rate R]",
		Short: "Play participants against a running wod and measure each step",
		Long: "Plays N participants against a running wod (--server, default --public-url), as hubtraf does against\n" +
			"a JupyterHub: each registers through the API for --workshop, waits for its seat, logs in to the hub\n" +
			"with the password it got, opens its notebook server, runs --code in a kernel and ends its session.\n" +
			"It prints, per step, how many made it and the p50/p90/p99/max seconds, and the errors met. The\n" +
			"participants are real registrations (wod-loadtest-<run>-<n>@--email-domain, company \"wod loadtest\n" +
			"<run>\") on real seats: run it before the event, on the event's workshop or a copy of it. Needs an\n" +
			"operator token (--token or WOD_TOKEN; operators are not rate limited). With --wait, participants\n" +
			"who find the workshop full join its waiting line and the report adds the time they stood in it\n" +
			"(step \"wait\"; \"ready\" then includes it). Exit status 1 if a participant failed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Server = e.cfg.Agent.Server
			if o.Server == "" {
				o.Server = e.cfg.PublicURL
			}
			if o.Token == "" {
				o.Token = os.Getenv("WOD_TOKEN")
			}
			if o.Token == "" {
				return fmt.Errorf("wod loadtest needs an operator token: --token or WOD_TOKEN (wod token create --role moderator)")
			}
			o.Logger = app.NewLogger(&e.cfg, e.stderr)
			rep, err := loadtest.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				printReport(e, o, rep)
			}
			if rep.Succeeded < rep.Participants {
				return fmt.Errorf("%d of %d participants failed", rep.Participants-rep.Succeeded, rep.Participants)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Token, "token", "", "an operator's API token (prefer WOD_TOKEN)")
	f.StringVar(&o.Workshop, "workshop", "", "the workshop the participants register for")
	f.IntVarP(&o.Participants, "participants", "n", 10, "how many participants")
	f.Float64Var(&o.Rate, "rate", 0, "registrations per second (0: all at once, as a room does when told to start)")
	f.StringVar(&o.Code, "code", "import platform; print(sum(range(10**6)), platform.python_version())",
		"Python run in each participant's kernel (empty: no kernel)")
	f.StringVar(&o.EmailDomain, "email-domain", "example.org", "domain of the participants' addresses")
	f.DurationVar(&o.Think, "think", 0, "how long a participant takes from credentials to logging in (reading the mail)")
	f.DurationVar(&o.Poll, "poll", 500*time.Millisecond, "how often a registration's state is read")
	f.DurationVar(&o.Timeout, "participant-timeout", 10*time.Minute, "how long one participant may take, start to end")
	f.BoolVar(&o.Keep, "keep", false, "leave the sessions running instead of ending them")
	f.BoolVar(&o.Wait, "wait", false, "participants who find the workshop full join its waiting line (and the report says how long they waited)")
	f.IntVar(&o.Warm, "warm", 0, "wait until the workshop has this many warm seats before the participants start (set its pool first: warm: in wod.yml or PATCH /api/v1/workshops/{slug})")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.MarkFlagRequired("workshop")
	return uses(cmd, config.UseConfig, config.UseClient)
}

func printReport(e *env, o loadtest.Options, rep *loadtest.Report) {
	fmt.Fprintf(e.stdout, "run %s: %d of %d participants made it through %s in %.1f s\n",
		rep.Run, rep.Succeeded, rep.Participants, rep.Workshop, rep.Seconds)
	if rep.WarmSeconds > 0 {
		fmt.Fprintf(e.stdout, "they started once %d warm seats were ready (%.1f s of waiting for the pool)\n", o.Warm, rep.WarmSeconds)
	}
	if rep.Waited > 0 {
		fmt.Fprintf(e.stdout, "%d of them stood in the waiting line (step \"wait\": time in line)\n", rep.Waited)
	}
	fmt.Fprintln(e.stdout)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "step\tok\tfailed\tp50 s\tp90 s\tp99 s\tmax s\t")
	for _, s := range rep.Stages {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t\n", s.Stage, s.OK, s.Failed, s.P50, s.P90, s.P99, s.Max)
	}
	if s := rep.ToOpen; s != nil {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t\n", s.Stage, s.OK, s.Failed, s.P50, s.P90, s.P99, s.Max)
	}
	tw.Flush()
	if len(rep.Errors) > 0 {
		fmt.Fprintln(e.stdout, "\nerrors:")
		for _, er := range rep.Errors {
			fmt.Fprintf(e.stdout, "  %4d × %-8s %s\n", er.Count, er.Stage, strings.TrimSpace(er.Error))
		}
	}
}
