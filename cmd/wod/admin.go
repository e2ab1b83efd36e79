package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/app"
	"github.com/wod-dev/wod/config"
	"github.com/wod-dev/wod/content"
	"github.com/wod-dev/wod/operator"
)

func migrateCmd(e *env) *cobra.Command {
	return uses(&cobra.Command{
		Use:   "migrate",
		Short: "Bring the database schema up to date",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withStore(cmd.Context(), func(a *app.App) error {
				_, latest, err := a.DB.MigrationVersions(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "database schema at version %d (%s)\n", latest, a.DB.Dialect())
				return nil
			})
		},
	}, config.UseConfig, config.UseDB, config.UseData)
}

// cliCaller is who acts from the command line, in the audit trail and as
// the creator of tokens.
var cliCaller = &wod.Caller{Name: "cli", Role: wod.RoleAdmin}

func userCmd(e *env) *cobra.Command {
	cmd := uses(&cobra.Command{Use: "user", Short: "Manage operators (admin UI and API users)"}, config.UseConfig, config.UseDB, config.UseData)
	var role string
	add := &cobra.Command{
		Use:   "add NAME --role admin|moderator",
		Short: "Add an operator",
		Long: "Adds an operator. The password is read from standard input (first line) when it is not a\n" +
			"terminal; otherwise one is generated and printed, once.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := readPassword(e.stdin)
			if err != nil {
				return err
			}
			return e.withStore(cmd.Context(), func(a *app.App) error {
				u, generated, err := a.Operator().CreateUser(cmd.Context(), cliCaller,
					operator.NewUser{Username: args[0], Role: wod.Role(role), Password: pw})
				if err != nil {
					return explain(err)
				}
				if generated != "" {
					fmt.Fprintf(e.stdout, "user %s (%s) created; password: %s\n", u.Username, u.Role, generated)
				} else {
					fmt.Fprintf(e.stdout, "user %s (%s) created\n", u.Username, u.Role)
				}
				return nil
			})
		},
	}
	add.Flags().StringVar(&role, "role", "", "admin or moderator")
	add.MarkFlagRequired("role")
	cmd.AddCommand(add)
	return cmd
}

// readPassword takes the first line of stdin when it is piped; "" when
// stdin is a terminal or empty, for the service to generate one.
func readPassword(stdin io.Reader) (string, error) {
	if isTerminal(stdin) || stdin == nil {
		return "", nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func tokenCmd(e *env) *cobra.Command {
	cmd := uses(&cobra.Command{Use: "token", Short: "Manage API tokens"}, config.UseConfig, config.UseDB, config.UseData)
	var role, name, expires string
	create := &cobra.Command{
		Use:   "create --role admin|moderator",
		Short: "Create an API bearer token and print it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withStore(cmd.Context(), func(a *app.App) error {
				_, tok, err := a.Operator().CreateToken(cmd.Context(), cliCaller,
					operator.TokenSpec{Name: name, Role: wod.Role(role), ExpiresIn: expires})
				if err != nil {
					return explain(err)
				}
				fmt.Fprintln(e.stdout, tok)
				return nil
			})
		},
	}
	create.Flags().StringVar(&role, "role", "", "admin or moderator")
	create.Flags().StringVar(&name, "name", "cli", "what the token is for")
	create.Flags().StringVar(&expires, "expires-in", "", "lifetime such as 720h (default: no expiry)")
	create.MarkFlagRequired("role")
	cmd.AddCommand(create)
	return cmd
}

func workshopCmd(e *env) *cobra.Command {
	cmd := uses(&cobra.Command{Use: "workshop", Short: "Manage the catalogue's workshops"}, config.UseConfig, config.UseDB, config.UseData)
	var locations []string
	imp := &cobra.Command{
		Use:   "import DIR...",
		Short: "Import workshops from content directories (public first, private overlays after)",
		Long: "Reads the WKSHP-* folders of each DIR and creates or updates their workshops, all or nothing.\n" +
			"A later DIR overrides a folder of the same name in an earlier one. Fields an operator changed at\n" +
			"runtime keep the operator's value. New workshops go to --location (several: repeat it or separate\n" +
			"them with commas; the first is the workshop's first location), or to the only location. Workshops\n" +
			"already in the catalogue keep their locations: change them on the admin page or with PATCH.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withStore(cmd.Context(), func(a *app.App) error {
				res, err := importAndReport(cmd.Context(), a, cliCaller, args, strings.Join(locations, ","))
				if err != nil {
					return err
				}
				for _, r := range res {
					line := fmt.Sprintf("%-10s %s", r.Action, r.Slug)
					if len(r.Changed) > 0 {
						line += "  changed: " + strings.Join(r.Changed, ", ")
					}
					if len(r.Kept) > 0 {
						line += "  kept (operator's): " + strings.Join(r.Kept, ", ")
					}
					fmt.Fprintln(e.stdout, line)
					for _, w := range r.Warnings {
						fmt.Fprintln(e.stdout, "  warning: "+w)
					}
				}
				return nil
			})
		},
	}
	uses(imp, config.UseConfig, config.UseDB, config.UseData, config.UseImport)
	imp.Flags().StringSliceVar(&locations, "location", nil, "location of new workshops (repeatable or comma-separated: offered at each; name:MIN-MAX gives it its own seat range; default: the only one)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List workshops with their state and free seats",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withStore(cmd.Context(), func(a *app.App) error {
				ws, _, err := a.DB.FindWorkshops(cmd.Context(), wod.WorkshopFilter{Page: wod.Page{Limit: wod.MaxLimit}})
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%-32s %-8s %-9s %-6s %s\n", "SLUG", "ACTIVE", "SEATS", "FREE", "TITLE")
				for _, w := range ws {
					fmt.Fprintf(e.stdout, "%-32s %-8v %-9s %-6d %s\n", w.Slug, w.Active,
						fmt.Sprintf("%d-%d", w.SeatMin, w.SeatMax), w.SeatsFree, w.Title)
				}
				return nil
			})
		},
	}
	test := &cobra.Command{
		Use:   "test DIR/WKSHP-X...",
		Short: "Render workshops for a sample student and report what would break",
		Long: "Renders every templated file of each workshop folder as the agent would (both as a workshop and\n" +
			"as a challenge), with the configured variables (--var, branding), and reports every undefined\n" +
			"variable and every rendered notebook that is not valid JSON, with file and line. Exit status 1 if any.\n" +
			"It also lists the kernels the notebooks run on and warns of those this host lacks (its Jupyter path,\n" +
			"with wod's own kernels counted as the agent installs them).",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a := &app.App{Config: &e.cfg, Logger: app.NewLogger(&e.cfg, e.stderr)}
			bad := 0
			host := a.HostKernels()
			for _, dir := range args {
				rep, err := testWorkshop(dir, a.NotebookVars(), e.cfg.Content)
				if err != nil {
					return explain(err)
				}
				fmt.Fprint(e.stdout, rep.String())
				if !strings.HasSuffix(rep.String(), "\n") {
					fmt.Fprintln(e.stdout)
				}
				bad += len(rep.Problems)
				printKernels(e, rep, host)
			}
			if bad > 0 {
				return fmt.Errorf("%d problems", bad)
			}
			return nil
		},
	}
	uses(test, config.UseConfig, config.UseImport, config.UseContent)
	cmd.AddCommand(imp, list, test, uses(rehearseCmd(e), config.UseConfig, config.UseClient),
		uses(syncCmd(e), config.UseConfig, config.UseClient))
	return cmd
}

// printKernels says which kernels the workshop's notebooks run on and
// which of them this host lacks. A missing kernel is a warning, not a
// problem: the machine that tests content need not be the hub's host.
func printKernels(e *env, rep content.Report, host []string) {
	if len(rep.Kernels) == 0 {
		return
	}
	fmt.Fprintf(e.stdout, "%s: kernels %s\n", rep.Workshop, strings.Join(content.KernelNames(rep.Kernels), ", "))
	for _, line := range content.MissingKernels(rep.Workshop, rep.Kernels, "this host", func(k string) bool {
		return slices.Contains(host, k)
	}) {
		fmt.Fprintln(e.stdout, "  warning: "+line)
	}
}

// testWorkshop checks a workshop folder, and its wod.yml when it has one
// (an appliance workshop needs its appliance's address, the scripts it
// compiles are looked up in the folder's content directory, then in the
// configured ones).
func testWorkshop(dir string, vars content.Vars, contentDirs []string) (content.Report, error) {
	yml := filepath.Join(dir, "wod.yml")
	data, err := os.ReadFile(yml)
	if errors.Is(err, fs.ErrNotExist) {
		return content.Check(dir, vars)
	}
	if err != nil {
		return content.Report{}, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return content.Report{}, err
	}
	w, err := content.ParseWorkshop(yml, filepath.Base(abs), data)
	if err != nil {
		return content.Report{}, err
	}
	w.ContentDir = filepath.Dir(abs)
	dirs := append([]string{w.ContentDir}, contentDirs...)
	return content.CheckWorkshop(w, vars, dirs)
}

// importAndReport imports the content directories and logs what changed.
// by is the CLI's caller for `wod workshop import` (audited as an operator's
// import) and nil for the imports wod server and wod up make at start, as
// the platform itself.
func importAndReport(ctx context.Context, a *app.App, by *wod.Caller, dirs []string, location string) ([]wod.ImportResult, error) {
	res, err := a.Operator().ImportContent(ctx, by, dirs, location)
	if err != nil {
		return nil, explain(err)
	}
	n := map[string]int{}
	for _, r := range res {
		n[r.Action]++
	}
	a.Logger.Info("content imported", "dirs", strings.Join(dirs, ","), "created", n["created"],
		"updated", n["updated"], "unchanged", n["unchanged"])
	return res, nil
}

// explain spells out an application error with its field problems, one per
// line, for a terminal.
func explain(err error) error {
	var b strings.Builder
	b.WriteString(wod.ErrorMessage(err))
	if wod.ErrorCode(err) == wod.EINTERNAL {
		return err
	}
	if we := asWodError(err); we != nil {
		for _, f := range we.Fields {
			fmt.Fprintf(&b, "\n  %s: %s", f.Field, f.Message)
		}
	}
	return fmt.Errorf("%s", b.String())
}
