package lti

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// KeyFile is the tool's signing key in the data directory: it signs the
// requests for the platforms' grade-book tokens, and its public half is
// served at JWKSPath for them to check.
const KeyFile = "lti.key"

// LoadOrCreateKey reads the tool's RSA key (PKCS #8 PEM) from path, creating
// a 2048-bit one with mode 0600 on first use. A key others can read is
// refused, as the server's other keys are.
func LoadOrCreateKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("lti key: %w", err)
	}
	if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("lti key %s has mode %v: others can read it (chmod 600)", path, info.Mode().Perm())
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("lti key %s: not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("lti key %s: %w", path, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("lti key %s: not an RSA key", path)
	}
	return rk, nil
}

func createKey(path string) (*rsa.PrivateKey, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("lti key: %w", err)
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("lti key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("lti key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadOrCreateKey(path) // another process made it first
	}
	if err != nil {
		return nil, fmt.Errorf("lti key: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return nil, fmt.Errorf("lti key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("lti key: %w", err)
	}
	return k, nil
}

// signingKey is the tool's key as a JWK, with its id (the thumbprint) and
// algorithm set.
func (t *Tool) signingKey() (jwk.Key, error) {
	if t.Key == nil {
		return nil, errors.New("the LTI tool has no signing key")
	}
	k, err := jwk.Import(t.Key)
	if err != nil {
		return nil, err
	}
	if err := jwk.AssignKeyID(k); err != nil {
		return nil, err
	}
	if err := k.Set(jwk.AlgorithmKey, jwa.RS256()); err != nil {
		return nil, err
	}
	return k, nil
}

// JWKS is the tool's public key set, as platforms fetch it.
func (t *Tool) JWKS() ([]byte, error) {
	k, err := t.signingKey()
	if err != nil {
		return nil, err
	}
	pub, err := k.PublicKey()
	if err != nil {
		return nil, err
	}
	if err := pub.Set(jwk.KeyUsageKey, "sig"); err != nil {
		return nil, err
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		return nil, err
	}
	return json.Marshal(set)
}
