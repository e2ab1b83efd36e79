package ssh

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeys checks the host's key as sshkernel (paramiko with its
// known_hosts loaded and AutoAddPolicy) and OpenSSH's
// StrictHostKeyChecking=accept-new do: a host never seen is trusted and
// recorded in ~/.ssh/known_hosts, a host whose key changed is refused.
// Students meet a lab appliance for the first time in a notebook, where
// nobody could answer a fingerprint question anyway; a changed key is the
// one case worth stopping for.
type hostKeys struct {
	userFile string // ~/.ssh/known_hosts, where new hosts are added
	files    []string
	notice   func(string)

	mu sync.Mutex
}

func newHostKeys(home string, notice func(string)) *hostKeys {
	user := filepath.Join(home, ".ssh", "known_hosts")
	h := &hostKeys{userFile: user, notice: notice}
	for _, f := range []string{user, filepath.Join(home, ".ssh", "known_hosts2"), "/etc/ssh/ssh_known_hosts"} {
		if _, err := os.Stat(f); err == nil {
			h.files = append(h.files, f)
		}
	}
	return h
}

// known returns the callback of the known_hosts files, nil when there are
// none.
func (h *hostKeys) known() (ssh.HostKeyCallback, error) {
	if len(h.files) == 0 {
		return nil, nil
	}
	cb, err := knownhosts.New(h.files...)
	if err != nil {
		return nil, fmt.Errorf("reading known hosts: %w", err)
	}
	return cb, nil
}

// algorithms lists the key types known for addr, so that the server is
// asked for a key that can be compared (an RSA key on file and an ed25519
// key offered would otherwise look like a changed key). Empty for an
// unknown host: any type will do.
func (h *hostKeys) algorithms(addr string) []string {
	cb, err := h.known()
	if cb == nil || err != nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if err := cb(addr, &net.TCPAddr{}, probeKey{}); !errors.As(err, &ke) {
		return nil
	}
	var algos []string
	for _, k := range ke.Want {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			algos = append(algos, t)
		}
	}
	slices.Sort(algos)
	return slices.Compact(algos)
}

// check is the ssh.HostKeyCallback.
func (h *hostKeys) check(addr string, remote net.Addr, key ssh.PublicKey) error {
	cb, err := h.known()
	if err != nil {
		return err
	}
	if cb != nil {
		err = cb(addr, remote, key)
		var ke *knownhosts.KeyError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &ke) && len(ke.Want) > 0:
			host := knownhosts.Normalize(addr)
			return fmt.Errorf("the host key of %s has changed (it now offers %s %s; %s line %d has another): "+
				"if the host was reinstalled, remove the old key in a terminal with: ssh-keygen -R '%s'",
				host, key.Type(), ssh.FingerprintSHA256(key), ke.Want[0].Filename, ke.Want[0].Line, host)
		case !errors.As(err, &ke):
			return err
		}
	}
	return h.add(addr, key)
}

// add records a new host in ~/.ssh/known_hosts, with OpenSSH's words.
func (h *hostKeys) add(addr string, key ssh.PublicKey) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	host := knownhosts.Normalize(addr)
	line := knownhosts.Line([]string{host}, key) + "\n"
	if err := os.MkdirAll(filepath.Dir(h.userFile), 0o700); err != nil {
		return fmt.Errorf("recording the host key: %w", err)
	}
	f, err := os.OpenFile(h.userFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("recording the host key: %w", err)
	}
	_, err = f.WriteString(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("recording the host key: %w", err)
	}
	if !slices.Contains(h.files, h.userFile) {
		h.files = append(h.files, h.userFile)
	}
	h.notice(fmt.Sprintf("Warning: Permanently added '%s' (%s) to the list of known hosts.", host, keyName(key)))
	return nil
}

// keyName is the short name OpenSSH prints for a key type.
func keyName(key ssh.PublicKey) string {
	switch key.Type() {
	case ssh.KeyAlgoED25519:
		return "ED25519"
	case ssh.KeyAlgoRSA:
		return "RSA"
	case ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521:
		return "ECDSA"
	}
	return key.Type()
}

// probeKey is a key no host has: checking it against known_hosts lists the
// keys on file for a host.
type probeKey struct{}

func (probeKey) Type() string                        { return "wod-probe" }
func (probeKey) Marshal() []byte                     { return []byte("wod-probe") }
func (probeKey) Verify([]byte, *ssh.Signature) error { return errors.New("probe key") }
