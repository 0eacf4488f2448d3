package keyboardtest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
)

// Chords are the known chords Conformance presses, in order.
var Chords = [][]string{
	{"a"},
	{"shift", "a"},
	{"ret"},
	{"up"},
}

// Unknown is the key name Conformance expects every keyboard to refuse.
const Unknown = "no-such-key"

// Options tune ConformanceWith for slow keyboards.
type Options struct {
	// CallTimeout bounds each Press; 30 s when 0.
	CallTimeout time.Duration
	// Prompt bounds a call made with an already-cancelled context; 1 s
	// when 0.
	Prompt time.Duration
}

// Conformance checks k against the dut.Keyboard contract. It runs its
// checks as subtests, in order, on the same k.
func Conformance(t *testing.T, k dut.Keyboard) {
	t.Helper()
	ConformanceWith(t, k, Options{})
}

// ConformanceWith is Conformance with options.
func ConformanceWith(t *testing.T, k dut.Keyboard, o Options) {
	t.Helper()
	if o.CallTimeout == 0 {
		o.CallTimeout = 30 * time.Second
	}
	if o.Prompt == 0 {
		o.Prompt = time.Second
	}
	ctx := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(t.Context(), o.CallTimeout)
		t.Cleanup(cancel)
		return ctx
	}

	t.Run("KnownChords", func(t *testing.T) {
		for _, chord := range Chords {
			if err := k.Press(ctx(t), chord...); err != nil {
				t.Fatalf("Press(%q): %v", chord, err)
			}
		}
	})
	t.Run("UnknownKey", func(t *testing.T) {
		for _, chord := range [][]string{{Unknown}, {"ctrl", Unknown}} {
			err := k.Press(ctx(t), chord...)
			if err == nil {
				t.Errorf("Press(%q) succeeded; want an error naming %q", chord, Unknown)
			} else if !strings.Contains(err.Error(), Unknown) {
				t.Errorf("Press(%q) = %v; want an error naming %q", chord, err, Unknown)
			}
		}
	})
	t.Run("EmptyChord", func(t *testing.T) {
		if err := k.Press(ctx(t)); err == nil {
			t.Error("Press() with no keys succeeded")
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		cctx, cancel := context.WithCancel(t.Context())
		cancel()
		start := time.Now()
		err := k.Press(cctx, "a")
		if d := time.Since(start); d > o.Prompt {
			t.Errorf("Press with a cancelled context took %v; want at most %v", d, o.Prompt)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Press with a cancelled context = %v; want an error wrapping context.Canceled", err)
		}
	})
}
