package kerneltest

import (
	"context"
	"sync"

	"github.com/wod-dev/wod/kernel"
)

// received is a message and the channel it came on.
type received struct {
	channel string
	msg     kernel.Message
}

// mailbox holds the messages received and not yet taken, so that a test
// can wait for the one it wants whatever order they come in.
type mailbox struct {
	mu     sync.Mutex
	msgs   []received
	notify chan struct{}
}

func newMailbox() *mailbox { return &mailbox{notify: make(chan struct{})} }

func (b *mailbox) put(channel string, m kernel.Message) {
	b.mu.Lock()
	b.msgs = append(b.msgs, received{channel, m})
	close(b.notify)
	b.notify = make(chan struct{})
	b.mu.Unlock()
}

// take removes and returns the first message that match accepts, waiting
// for one until ctx ends.
func (b *mailbox) take(ctx context.Context, match func(channel string, m kernel.Message) bool) (received, error) {
	for {
		b.mu.Lock()
		for i, r := range b.msgs {
			if match(r.channel, r.msg) {
				b.msgs = append(b.msgs[:i], b.msgs[i+1:]...)
				b.mu.Unlock()
				return r, nil
			}
		}
		wait := b.notify
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return received{}, ctx.Err()
		case <-wait:
		}
	}
}
