package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/httpapi"
)

func syncCmd(e *env) *cobra.Command {
	var token string
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Fetch the content repositories and import them now, on the running server",
		Long: "Asks the running server (--server, default --public-url) to fetch its content repositories\n" +
			"(--content-repo) and import them with the checks of any import, even when no branch moved, as its\n" +
			"timer (--content-sync) and the push webhook do. It prints each repository's live commit and what\n" +
			"the import did. When a fetch or the content fails, the last good content stays live, the operators\n" +
			"are alerted, and the command fails with the reason. Needs an operator token (--token or WOD_TOKEN).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			base := e.cfg.Agent.Server
			if base == "" {
				base = e.cfg.PublicURL
			}
			if token == "" {
				token = os.Getenv("WOD_TOKEN")
			}
			if token == "" {
				return fmt.Errorf("wod workshop sync needs an operator token: --token or WOD_TOKEN (wod token create --role admin)")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Minute)
			defer cancel()
			out, err := postSync(ctx, base, token)
			if err != nil {
				return err
			}
			for _, r := range out.Repos {
				fmt.Fprintf(e.stdout, "%-60s %s\n", repoName(r), orNone(r.Commit))
			}
			for _, r := range out.Results {
				line := fmt.Sprintf("%-10s %s", r.Action, r.Slug)
				if len(r.Changed) > 0 {
					line += "  changed: " + strings.Join(r.Changed, ", ")
				}
				fmt.Fprintln(e.stdout, line)
				for _, w := range r.Warnings {
					fmt.Fprintln(e.stdout, "  warning: "+w)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&token, "token", "", "an operator's API token (prefer WOD_TOKEN)")
	return cmd
}

type syncAnswer struct {
	Repos   []*wod.ContentRepo `json:"repos"`
	Results []wod.ImportResult `json:"results"`
}

// postSync calls POST /api/v1/content/sync and turns an error answer into
// its message, with the problems it lists.
func postSync(ctx context.Context, base, token string) (*syncAnswer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+httpapi.APIPrefix+"/content/sync", bytes.NewReader(nil))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("content sync: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("content sync: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var problem httpapi.ErrorBody
		msg := strings.TrimSpace(string(body))
		if json.Unmarshal(body, &problem) == nil && problem.Message != "" {
			msg = problem.Message
			for _, f := range problem.Errors {
				msg += "\n  " + f.Field + ": " + f.Message
			}
		}
		return nil, fmt.Errorf("content sync failed (%s): %s", resp.Status, msg)
	}
	var out syncAnswer
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("content sync: the server's answer: %w", err)
	}
	return &out, nil
}

func repoName(r *wod.ContentRepo) string {
	if r.Branch != "" {
		return r.URL + "#" + r.Branch
	}
	return r.URL
}

func orNone(commit string) string {
	if commit == "" {
		return "(nothing imported yet)"
	}
	return commit
}
