package operator

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wod-dev/wod"
)

// InitialAdminFile holds the generated password of the first admin, 0600,
// so that it never passes through a log.
const InitialAdminFile = "initial-admin-password"

// EnsureAdmin creates the user "admin" with a generated password when there
// is no user at all, so that a fresh installation can be logged in to. The
// password goes to InitialAdminFile in dataDir, whose path it returns; ""
// when there were users already.
func (s *Service) EnsureAdmin(ctx context.Context, dataDir string) (string, error) {
	us, err := s.Users.FindUsers(ctx)
	if err != nil || len(us) > 0 {
		return "", err
	}
	pw := generatePassword()
	hash, err := s.Passwords.Hash(pw)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dataDir, InitialAdminFile)
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write initial admin password: %w", err)
	}
	if err := s.Users.CreateUser(ctx, &wod.User{Username: "admin", Role: wod.RoleAdmin, PasswordHash: hash}); err != nil {
		os.Remove(path)
		return "", err
	}
	return path, nil
}
