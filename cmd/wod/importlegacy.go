package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wod-dev/wod/legacy/apidbimport"
)

func importLegacyCmd(e *env) *cobra.Command {
	var dryRun, live bool
	cmd := &cobra.Command{
		Use:   "import-legacy postgres://USER@HOST/DB",
		Short: "Import an original Workshops-on-Demand api-db: locations, workshops, history, operators",
		Long: "Reads the original api-db's PostgreSQL database and imports into wod's store (--db): its locations\n" +
			"(with basestdid, so student ids stay the same), its workshops' settings onto the workshops of the\n" +
			"same notebook imported from content, its finished customers as past registrations (dates,\n" +
			"completion, badges: statistics and badge counts continue) and its admins and moderators with\n" +
			"their passwords (bcrypt, replaced by argon2id at their first login). Customers still live on the\n" +
			"original are counted, not imported: let the site drain them, then run the import again. Running\n" +
			"it again changes nothing already imported. --dry-run prints what it would do.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !strings.HasPrefix(args[0], "postgres://") && !strings.HasPrefix(args[0], "postgresql://") {
				return fmt.Errorf("import-legacy needs the original api-db's address as postgres://USER@HOST/DB")
			}
			if live {
				return fmt.Errorf("--live is not supported yet: let the original drain its live customers, then import them as history")
			}
			a, err := e.open(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Close()
			rep, err := apidbimport.Import(cmd.Context(), args[0], a.DB, apidbimport.Options{DryRun: dryRun})
			if rep != nil {
				rep.Print(e.stdout)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what the import would do and change nothing")
	cmd.Flags().BoolVar(&live, "live", false, "also take over the customers still live on the original (not supported yet)")
	return cmd
}
