package kernel

import (
	"fmt"
	"sync"

	"github.com/go-zeromq/zmq4"
)

// socket serialises writes to one ZeroMQ socket: replies, iopub messages
// and input requests come from several goroutines.
type socket struct {
	name string
	zs   zmq4.Socket
	mu   sync.Mutex
}

func (s *socket) send(sg *Signer, m Message) error {
	frames, err := sg.Encode(m)
	if err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.zs.SendMulti(zmq4.NewMsgFrom(frames...)); err != nil {
		return fmt.Errorf("%s: sending %s: %w", s.name, m.Header.MsgType, err)
	}
	return nil
}
