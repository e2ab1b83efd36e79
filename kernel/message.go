package kernel

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// ProtocolVersion is the Jupyter messaging protocol spoken here.
const ProtocolVersion = "5.3"

// Header is a message's header (and, as parent_header, the header of the
// request a message answers; the empty Header is sent as {}).
type Header struct {
	MsgID    string `json:"msg_id,omitempty"`
	Session  string `json:"session,omitempty"`
	Username string `json:"username,omitempty"`
	Date     string `json:"date,omitempty"`
	MsgType  string `json:"msg_type,omitempty"`
	Version  string `json:"version,omitempty"`
}

// Message is one Jupyter message: its routing identities (the frames
// before <IDS|MSG>), the header, the header of the message it answers,
// metadata, content (JSON) and binary buffers.
type Message struct {
	Identities   [][]byte
	Header       Header
	ParentHeader Header
	Metadata     json.RawMessage
	Content      json.RawMessage
	Buffers      [][]byte
}

// NewMessage makes a message of msgType in session answering parent (the
// zero Message for none), with content marshalled to JSON.
func NewMessage(session, msgType string, parent Message, content any) (Message, error) {
	c, err := json.Marshal(content)
	if err != nil {
		return Message{}, fmt.Errorf("message %s: %w", msgType, err)
	}
	return Message{
		Header: Header{
			MsgID:    newID(),
			Session:  session,
			Username: "kernel",
			Date:     time.Now().UTC().Format("2006-01-02T15:04:05.000000Z07:00"),
			MsgType:  msgType,
			Version:  ProtocolVersion,
		},
		ParentHeader: parent.Header,
		Metadata:     json.RawMessage("{}"),
		Content:      c,
	}, nil
}

// Decode unmarshals the content into v.
func (m Message) Decode(v any) error {
	if len(m.Content) == 0 {
		return nil
	}
	if err := json.Unmarshal(m.Content, v); err != nil {
		return fmt.Errorf("%s content: %w", m.Header.MsgType, err)
	}
	return nil
}

// newID is a random message or session id (UUID-shaped, as Jupyter's).
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// NewSessionID returns a fresh session id, for a client or a kernel run.
func NewSessionID() string { return newID() }
