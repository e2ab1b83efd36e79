package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
)

// MigrationsDigest identifies the migrations of the dialect this binary
// carries: a SHA-256 of their names and contents. The tests keep one
// migrated template database per digest, so that a change to any migration
// gets a template of its own.
func MigrationsDigest(d Dialect) (string, error) {
	dir := "migrations/" + string(d)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return "", fmt.Errorf("migrations digest: %w", err)
	}
	h := sha256.New()
	for _, e := range entries { // ReadDir sorts by name
		b, err := fs.ReadFile(migrations, dir+"/"+e.Name())
		if err != nil {
			return "", fmt.Errorf("migrations digest: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", e.Name(), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
