package main

import (
	"fmt"
	"github.com/wod-dev/wod/app"
	"github.com/wod-dev/wod/config"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wod-dev/wod/legacy/apidbimport"
)

func importLegacyCmd(e *env) *cobra.Command {
	var dryRun, live bool
	cmd := uses(&cobra.Command{
		Use:   "import-legacy postgres://USER@HOST/DB",
		Short: "Import an original Workshops-on-Demand api-db: locations, workshops, history, operators",
		Long: "Reads the original api-db's PostgreSQL database and imports into wod's store (--db): its locations\n" +
			"(with basestdid, so student ids stay the same), its workshops' settings onto the workshops of the\n" +
			"same notebook imported from content, its finished customers as past registrations (dates,\n" +
			"completion, badges: statistics and badge counts continue) and its admins and moderators with\n" +
			"their passwords (bcrypt, replaced by argon2id at their first login). Customers still live on the\n" +
			"original are counted, not imported: let the site drain them, then run the import again, or take\n" +
			"them over with --live (stop the original's api-db first: its loop would still end them). Running\n" +
			"it again changes nothing already imported. --dry-run prints what it would do.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !strings.HasPrefix(args[0], "postgres://") && !strings.HasPrefix(args[0], "postgresql://") {
				return fmt.Errorf("import-legacy needs the original api-db's address as postgres://USER@HOST/DB")
			}
			return e.withStore(cmd.Context(), func(a *app.App) error {
				opt := apidbimport.Options{DryRun: dryRun, Live: live}
				if live {
					// Taken-over students' passwords are kept encrypted, as
					// wod's own (the server's key in --data).
					if err := a.OpenKeys(); err != nil {
						return err
					}
					opt.Encrypt = a.Keys.Encrypt
				}
				rep, err := apidbimport.Import(cmd.Context(), args[0], a.DB, opt)
				if rep != nil {
					rep.Print(e.stdout)
				}
				return err
			})
		},
	}, config.UseConfig, config.UseDB, config.UseData)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what the import would do and change nothing")
	cmd.Flags().BoolVar(&live, "live", false, "also take over the customers running on the original: their sessions go on, on the same accounts, ended by wod")
	return cmd
}
