package kernel

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
)

// delimiter separates the routing identities from the message proper.
var delimiter = []byte("<IDS|MSG>")

// ErrBadSignature is a message whose HMAC does not match the key: it is
// dropped, never acted on.
var ErrBadSignature = errors.New("kernel: bad message signature")

// Signer signs and checks messages with the connection's key. An empty key
// means no signing (and no check), as the protocol says.
type Signer struct {
	key     []byte
	newHash func() hash.Hash
}

// NewSigner returns the signer of scheme ("hmac-sha256" or
// "hmac-sha512") with key.
func NewSigner(scheme, key string) (*Signer, error) {
	s := &Signer{key: []byte(key)}
	switch scheme {
	case "hmac-sha256", "":
		s.newHash = sha256.New
	case "hmac-sha512":
		s.newHash = sha512.New
	default:
		return nil, fmt.Errorf("kernel: unsupported signature scheme %q", scheme)
	}
	return s, nil
}

func (s *Signer) sign(frames [][]byte) []byte {
	if len(s.key) == 0 {
		return nil
	}
	m := hmac.New(s.newHash, s.key)
	for _, f := range frames {
		m.Write(f)
	}
	sum := m.Sum(nil)
	out := make([]byte, hex.EncodedLen(len(sum)))
	hex.Encode(out, sum)
	return out
}

// Encode returns the frames of m, signed.
func (s *Signer) Encode(m Message) ([][]byte, error) {
	header, err := json.Marshal(m.Header)
	if err != nil {
		return nil, fmt.Errorf("encoding header: %w", err)
	}
	parent, err := json.Marshal(m.ParentHeader)
	if err != nil {
		return nil, fmt.Errorf("encoding parent header: %w", err)
	}
	meta := []byte(m.Metadata)
	if len(meta) == 0 {
		meta = []byte("{}")
	}
	content := []byte(m.Content)
	if len(content) == 0 {
		content = []byte("{}")
	}
	parts := [][]byte{header, parent, meta, content}
	frames := make([][]byte, 0, len(m.Identities)+6+len(m.Buffers))
	frames = append(frames, m.Identities...)
	frames = append(frames, delimiter, s.sign(parts))
	frames = append(frames, parts...)
	frames = append(frames, m.Buffers...)
	return frames, nil
}

// Decode parses frames into a message, checking the signature.
func (s *Signer) Decode(frames [][]byte) (Message, error) {
	var m Message
	i := 0
	for i < len(frames) && !bytes.Equal(frames[i], delimiter) {
		i++
	}
	if i == len(frames) {
		return m, errors.New("kernel: message without <IDS|MSG> delimiter")
	}
	if len(frames) < i+6 {
		return m, fmt.Errorf("kernel: message of %d frames is too short", len(frames))
	}
	m.Identities = frames[:i]
	sig, parts := frames[i+1], frames[i+2:i+6]
	if len(s.key) != 0 && !hmac.Equal(sig, s.sign(parts)) {
		return m, ErrBadSignature
	}
	if err := json.Unmarshal(parts[0], &m.Header); err != nil {
		return m, fmt.Errorf("kernel: header: %w", err)
	}
	if err := json.Unmarshal(parts[1], &m.ParentHeader); err != nil {
		return m, fmt.Errorf("kernel: parent header: %w", err)
	}
	m.Metadata = json.RawMessage(parts[2])
	m.Content = json.RawMessage(parts[3])
	m.Buffers = frames[i+6:]
	return m, nil
}
