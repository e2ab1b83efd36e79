package secret

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestKeysPersistWithTightPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k1, err := LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{SigningKeyFile, EncryptionKeyFile} {
		info, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode %v, want 0600", f, info.Mode().Perm())
		}
	}
	k2, err := LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(k1.Signing) != string(k2.Signing) || string(k1.Encryption) != string(k2.Encryption) {
		t.Fatal("keys changed between starts")
	}
	if string(k1.Signing) == string(k1.Encryption) {
		t.Fatal("signing and encryption keys are equal")
	}
	// Readable by others: refused.
	os.Chmod(filepath.Join(dir, SigningKeyFile), 0o644)
	if _, err := LoadOrCreateKeys(dir); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Fatalf("world-readable key: %v", err)
	}
	os.Chmod(filepath.Join(dir, SigningKeyFile), 0o600)
	// Garbage: refused with a clear message that does not print the content.
	os.WriteFile(filepath.Join(dir, EncryptionKeyFile), []byte("supersecretgarbage"), 0o600)
	_, err = LoadOrCreateKeys(dir)
	if err == nil || strings.Contains(err.Error(), "supersecret") || !strings.Contains(err.Error(), "hexadecimal") {
		t.Fatalf("bad key file: %v", err)
	}
}

func TestPasswords(t *testing.T) {
	h, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$") {
		t.Fatalf("hash %q is not argon2id", h)
	}
	if !CheckPassword("correct horse battery staple", h) || CheckPassword("wrong", h) || CheckPassword("x", "") {
		t.Fatal("password check is wrong")
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Fatalf("hash %q does not have wod's parameters", h)
	}
}

// The tests' cheap hashes are still argon2id, and a hash records its
// parameters: either Hasher checks the other's hashes.
func TestCheapHasher(t *testing.T) {
	cheap := CheapHasher()
	h, err := cheap.Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("cheap hash %q", h)
	}
	if !CheckPassword("correct horse battery staple", h) || CheckPassword("wrong", h) ||
		!cheap.Check("correct horse battery staple", h) || cheap.Check("wrong", h) || cheap.Check("x", "") {
		t.Fatal("check of a cheap hash is wrong")
	}
	full, err := Hasher{}.Hash("another one")
	if err != nil {
		t.Fatal(err)
	}
	if !cheap.Check("another one", full) || cheap.Check("another", full) {
		t.Fatal("the cheap Hasher does not check a hash with wod's parameters")
	}
}

func TestTokensAndStudentPasswords(t *testing.T) {
	tok, prefix, hash := NewToken()
	if !strings.HasPrefix(tok, "wod_") || len(tok) != 30 || !strings.HasPrefix(tok, prefix) || len(hash) != 32 {
		t.Fatalf("token %q prefix %q", tok, prefix)
	}
	if string(HashToken(tok)) != string(hash) {
		t.Fatal("hash is not stable")
	}
	seen := map[string]bool{}
	for range 1000 {
		p := StudentPassword()
		if len(p) != 12 || strings.ContainsAny(p, "0O1lI") || seen[p] {
			t.Fatalf("student password %q", p)
		}
		seen[p] = true
	}
}

func TestEncryptAndSign(t *testing.T) {
	k, err := LoadOrCreateKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := k.Encrypt("s3cret-pw")
	if err != nil || strings.Contains(string(sealed), "s3cret") {
		t.Fatalf("encrypt: %v", err)
	}
	if p, err := k.Decrypt(sealed); err != nil || p != "s3cret-pw" {
		t.Fatalf("decrypt: %q %v", p, err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := k.Decrypt(sealed); err == nil {
		t.Fatal("tampered ciphertext decrypted")
	}
	sig := k.Sign("status", "42")
	if !k.Verify("status", "42", sig) || k.Verify("status", "43", sig) || k.Verify("end", "42", sig) {
		t.Fatal("signature check is wrong")
	}
}

// The original api-db's operator hashes come from pgcrypto's
// crypt(pw, gen_salt('bf')); wod import-legacy brings them over.
func TestBcryptHashesFromTheOriginal(t *testing.T) {
	// crypt('MotDePasse', gen_salt('bf')) in PostgreSQL (pgcrypto, cost 6).
	hash, err := bcrypt.GenerateFromPassword([]byte("MotDePasse"), 6)
	if err != nil {
		t.Fatal(err)
	}
	h := CheapHasher()
	if !h.Check("MotDePasse", string(hash)) || h.Check("motdepasse", string(hash)) {
		t.Error("a bcrypt hash is not checked as bcrypt")
	}
	if !NeedsRehash(string(hash)) {
		t.Error("a bcrypt hash is kept after a login")
	}
	argon, err := h.Hash("MotDePasse")
	if err != nil {
		t.Fatal(err)
	}
	if NeedsRehash(argon) {
		t.Error("an argon2id hash would be replaced at every login")
	}
	// Something that is neither never matches.
	if h.Check("x", "$1$abc$def") || h.Check("", "$2a$") {
		t.Error("a malformed hash matched")
	}
}
