package relaytest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/relay"
)

// Conformance checks r, which has channels channels, against the
// dut.Relay contract.
func Conformance(t *testing.T, r dut.Relay, channels int) {
	t.Helper()
	ctx := t.Context()
	st, hasState := r.(relay.Stater)
	for ch := 1; ch <= channels; ch++ {
		for _, closed := range []bool{true, false} {
			if err := r.Set(ctx, ch, closed); err != nil {
				t.Fatalf("Set(%d, %v): %v", ch, closed, err)
			}
			if !hasState {
				continue
			}
			got, err := st.State(ctx, ch)
			if err != nil {
				t.Fatalf("State(%d) after Set(%d, %v): %v", ch, ch, closed, err)
			}
			if got != closed {
				t.Fatalf("State(%d) = %v after Set(%d, %v)", ch, got, ch, closed)
			}
		}
	}
	for _, ch := range []int{0, channels + 1} {
		if err := r.Set(ctx, ch, true); err == nil {
			t.Errorf("Set(%d, true) on a %d-channel relay succeeded", ch, channels)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := r.Set(cctx, 1, true); !errors.Is(err, context.Canceled) {
		t.Errorf("Set with a cancelled context = %v; want an error wrapping context.Canceled", err)
	}
	if hasState {
		if _, err := st.State(cctx, 1); !errors.Is(err, context.Canceled) {
			t.Errorf("State with a cancelled context = %v; want an error wrapping context.Canceled", err)
		}
	}
}

// Fake is an in-memory relay.
type Fake struct {
	N int // channels

	mu     sync.Mutex
	closed map[int]bool
}

var _ relay.StateRelay = (*Fake)(nil)

// Set implements dut.Relay.
func (f *Fake) Set(ctx context.Context, channel int, closed bool) error {
	if err := relay.CheckChannel("relaytest", channel, f.N); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("relaytest: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed == nil {
		f.closed = map[int]bool{}
	}
	f.closed[channel] = closed
	return nil
}

// State implements relay.Stater.
func (f *Fake) State(ctx context.Context, channel int) (bool, error) {
	if err := relay.CheckChannel("relaytest", channel, f.N); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("relaytest: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed[channel], nil
}
