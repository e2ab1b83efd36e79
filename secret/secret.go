// Package secret holds wod's cryptography: the keys generated on first start,
// people's password hashes (argon2id), API and session tokens (only their
// hashes are stored), encryption of student passwords at rest (AES-GCM) and
// signed links for participants.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/alexedwards/argon2id"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Keys are the server's secrets. They never appear in logs or errors.
type Keys struct {
	// Signing authenticates links sent to participants (status, end now).
	Signing []byte
	// Encryption protects student passwords at rest.
	Encryption []byte
}

// Key files inside the data directory.
const (
	SigningKeyFile    = "signing.key"
	EncryptionKeyFile = "encryption.key"
)

// LoadOrCreateKeys reads the keys from dir, generating each missing one with
// crypto/rand and writing it with 0600 permissions. A key file that others
// can read is refused: a secret that leaked must be rotated, not used.
func LoadOrCreateKeys(dir string) (*Keys, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	signing, err := loadOrCreateKey(filepath.Join(dir, SigningKeyFile))
	if err != nil {
		return nil, err
	}
	enc, err := loadOrCreateKey(filepath.Join(dir, EncryptionKeyFile))
	if err != nil {
		return nil, err
	}
	return &Keys{Signing: signing, Encryption: enc}, nil
}

func loadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key := make([]byte, 32)
		rand.Read(key)
		// O_EXCL: two processes starting together must not each write a
		// different key; the loser reads the winner's.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return loadOrCreateKey(path)
		}
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", path, err)
		}
		_, werr := f.WriteString(hex.EncodeToString(key) + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return nil, fmt.Errorf("key %s: %w", path, werr)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key %s is readable by others (mode %v); run chmod 600 on it, and rotate it if it may have leaked",
			path, info.Mode().Perm())
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("key %s is not 64 hexadecimal digits; remove it to generate a new one (student passwords encrypted with it will be lost)", path)
	}
	return key, nil
}

// argonParams follow RFC 9106's second recommended option, sized for a
// login form rather than for bulk hashing.
var argonParams = &argon2id.Params{Memory: 64 * 1024, Iterations: 3, Parallelism: 2, SaltLength: 16, KeyLength: 32}

// Hasher hashes and checks people's passwords with argon2id. The zero
// Hasher uses wod's parameters (argonParams), and nothing in configuration
// or flags can change them: the only other Hasher is CheapHasher, for tests.
// A hash keeps its parameters, so any Hasher checks a hash made by another.
type Hasher struct {
	params *argon2id.Params
}

// CheapHasher is for tests only: argon2id at its smallest (64 KiB, one
// pass), so that tests which log operators in do not spend seconds per
// hash under the race detector. Production code never calls it.
func CheapHasher() Hasher {
	return Hasher{params: &argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}
}

func (h Hasher) p() *argon2id.Params {
	if h.params == nil {
		return argonParams
	}
	return h.params
}

// Hash returns an argon2id PHC string for a person's password.
func (h Hasher) Hash(password string) (string, error) {
	hash, err := argon2id.CreateHash(password, h.p())
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

// Check reports whether password matches hash, at the cost of the hash's
// own parameters. With an empty hash (no such user) it still spends the
// time of a comparison with the Hasher's parameters, so that an unknown
// name takes as long as a wrong password.
func (h Hasher) Check(password, hash string) bool {
	if hash == "" {
		// What ComparePasswordAndHash costs: the key derivation (the salt
		// does not matter, the result is thrown away).
		p := h.p()
		argon2.IDKey([]byte(password), make([]byte, p.SaltLength), p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
		return false
	}
	if isBcrypt(hash) {
		return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
	}
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	return err == nil && ok
}

// isBcrypt tells the original api-db's operator hashes (pgcrypto's
// crypt(pw, gen_salt('bf')): $2a$, or $2b$/$2y$ from other bcrypts), which
// wod import-legacy brings over so that operators keep their passwords.
func isBcrypt(hash string) bool {
	return strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$") || strings.HasPrefix(hash, "$2y$")
}

// NeedsRehash reports whether a hash that just matched should be replaced
// by an argon2id one: an imported bcrypt hash is, at its first login.
func NeedsRehash(hash string) bool { return !strings.HasPrefix(hash, "$argon2id$") }

// HashPassword is Hasher{}.Hash: wod's parameters.
func HashPassword(password string) (string, error) { return Hasher{}.Hash(password) }

// CheckPassword is Hasher{}.Check: wod's parameters.
func CheckPassword(password, hash string) bool { return Hasher{}.Check(password, hash) }

// NewToken returns a new API token secret ("wod_" and 26 base32 characters,
// 130 bits), its display prefix and its hash for storage.
func NewToken() (token, prefix string, hash []byte) {
	token = "wod_" + rand.Text()
	return token, token[:8], HashToken(token)
}

// HashToken hashes a high-entropy secret (token, session id) for storage
// and lookup. A fast hash is right here: the input is random, not a password.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// StudentPassword returns a password a participant can type: 12 characters
// from an alphabet without look-alikes (no 0/O, 1/l/I).
func StudentPassword() string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 12)
	for i := range b {
		b[i] = alphabet[randIndex(len(alphabet))]
	}
	return string(b)
}

// randIndex returns a uniform random index below n, without modulo bias.
func randIndex(n int) int {
	limit := 256 - 256%n
	var b [1]byte
	for {
		rand.Read(b[:])
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}

// Encrypt seals plaintext with AES-256-GCM under the encryption key.
func (k *Keys) Encrypt(plaintext string) ([]byte, error) {
	aead, err := k.aead()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, []byte(plaintext), nil), nil
}

// Decrypt opens what Encrypt sealed.
func (k *Keys) Decrypt(sealed []byte) (string, error) {
	aead, err := k.aead()
	if err != nil {
		return "", err
	}
	if len(sealed) < aead.NonceSize() {
		return "", errors.New("decrypt: ciphertext too short")
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], nil)
	if err != nil {
		return "", errors.New("decrypt: ciphertext does not match the encryption key")
	}
	return string(plain), nil
}

func (k *Keys) aead() (cipher.AEAD, error) {
	block, err := aes.NewCipher(k.Encryption)
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	return cipher.NewGCM(block)
}

// Sign returns a URL-safe MAC of the purpose and the message, so that a
// link made for one purpose cannot serve another.
func (k *Keys) Sign(purpose, message string) string {
	m := hmac.New(sha256.New, k.Signing)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(message))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:20])
}

// Verify reports whether sig is Sign(purpose, message), in constant time.
func (k *Keys) Verify(purpose, message, sig string) bool {
	return hmac.Equal([]byte(k.Sign(purpose, message)), []byte(sig))
}

// StatusToken signs a registration id for the participant's links (status
// page, end now): whoever holds the token may see the registration.
func (k *Keys) StatusToken(id int64) string {
	msg := strconv.FormatInt(id, 10)
	return msg + "." + k.Sign("status", msg)
}

// ParseStatusToken returns the registration id of a valid token.
func (k *Keys) ParseStatusToken(token string) (int64, bool) {
	msg, sig, ok := strings.Cut(token, ".")
	if !ok || !k.Verify("status", msg, sig) {
		return 0, false
	}
	id, err := strconv.ParseInt(msg, 10, 64)
	return id, err == nil
}

// Derive returns a 32-byte key for one purpose, made from the signing key:
// a key handed to another scheme (the legacy routes' JWTs) cannot sign
// wod's own links, nor theirs ours.
func (k *Keys) Derive(purpose string) []byte {
	m := hmac.New(sha256.New, k.Signing)
	m.Write([]byte("derive\x00"))
	m.Write([]byte(purpose))
	return m.Sum(nil)
}
