package dispatch

import "sync"

// broadcast wakes every waiter of a key at once. A waiter takes the
// channel before checking for work, so a notification between the check
// and the wait is never lost.
type broadcast struct {
	mu sync.Mutex
	ch map[string]chan struct{}
}

func newBroadcast() *broadcast { return &broadcast{ch: map[string]chan struct{}{}} }

// wait returns a channel closed at the next notify of key.
func (b *broadcast) wait(key string) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.ch[key]
	if !ok {
		c = make(chan struct{})
		b.ch[key] = c
	}
	return c
}

// notify wakes the waiters of key.
func (b *broadcast) notify(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.ch[key]; ok {
		close(c)
		delete(b.ch, key)
	}
}

// notifyAll wakes every waiter, of every key.
func (b *broadcast) notifyAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for key, c := range b.ch {
		close(c)
		delete(b.ch, key)
	}
}
