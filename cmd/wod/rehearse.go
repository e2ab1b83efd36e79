package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/rehearsal"
)

func rehearseCmd(e *env) *cobra.Command {
	var token string
	var asJSON bool
	var poll time.Duration
	cmd := &cobra.Command{
		Use:   "rehearse WKSHP-X...",
		Short: "Have the robot participant run workshops on the running server, cell by cell",
		Long: "Asks the running server (--server, default --public-url) to rehearse each workshop, one after the\n" +
			"other: a robot participant takes a spare seat, logs in to the hub, runs every notebook cell by cell,\n" +
			"and the seat is cleaned up as usual (the completion measured there must be 100 % when every cell\n" +
			"ran). It follows the progress and prints a table per workshop (notebook, cell, status, duration,\n" +
			"error or first output line). Needs an operator token (--token or WOD_TOKEN). Exit status 1 if a\n" +
			"rehearsal failed.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := &rehearsal.Client{BaseURL: e.cfg.Agent.Server, Token: token, HTTP: &http.Client{Timeout: time.Minute}}
			if c.BaseURL == "" {
				c.BaseURL = e.cfg.PublicURL
			}
			if c.Token == "" {
				c.Token = os.Getenv("WOD_TOKEN")
			}
			if c.Token == "" {
				return fmt.Errorf("wod workshop rehearse needs an operator token: --token or WOD_TOKEN (wod token create --role moderator)")
			}
			var all []*wod.Rehearsal
			failed := 0
			for _, slug := range args {
				h, err := c.Start(cmd.Context(), slug)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "%s: rehearsal %d started on seat of registration %d\n", slug, h.ID, deref(h.RegistrationID))
				h, err = c.Follow(cmd.Context(), h, poll, func(cur *wod.Rehearsal) {
					if n := len(cur.Notebooks); n > 0 {
						nb := cur.Notebooks[n-1]
						fmt.Fprintf(e.stderr, "%s: %s, %d cells\n", slug, nb.Path, len(nb.Cells))
					}
				})
				if err != nil {
					return err
				}
				if h.State != wod.RehearsalPassed {
					failed++
				}
				all = append(all, h)
				if !asJSON {
					if err := rehearsal.WriteReport(e.stdout, h); err != nil {
						return err
					}
				}
			}
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(all); err != nil {
					return err
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d rehearsals failed", failed, len(args))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&token, "token", "", "an operator's API token (prefer WOD_TOKEN)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the rehearsals as JSON")
	cmd.Flags().DurationVar(&poll, "poll", time.Second, "how often the progress is read")
	return cmd
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
