package screentest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
)

// Options tune ConformanceWith for slow screens.
type Options struct {
	// CallTimeout bounds each Screenshot; 30 s when 0.
	CallTimeout time.Duration
	// Prompt bounds a call made with an already-cancelled context; 1 s
	// when 0.
	Prompt time.Duration
	// Repeat is how many screenshots the Repeated check takes in a row; 3
	// when 0.
	Repeat int
}

// Conformance checks s against the dut.Screen contract. It runs its checks
// as subtests, in order, on the same s.
func Conformance(t *testing.T, s dut.Screen) {
	t.Helper()
	ConformanceWith(t, s, Options{})
}

// ConformanceWith is Conformance with options.
func ConformanceWith(t *testing.T, s dut.Screen, o Options) {
	t.Helper()
	if o.CallTimeout == 0 {
		o.CallTimeout = 30 * time.Second
	}
	if o.Prompt == 0 {
		o.Prompt = time.Second
	}
	if o.Repeat == 0 {
		o.Repeat = 3
	}
	shot := func(t *testing.T, what string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), o.CallTimeout)
		defer cancel()
		b, err := s.Screenshot(ctx)
		if err != nil {
			t.Fatalf("%s: Screenshot: %v", what, err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: Screenshot returned %d bytes that do not decode as a PNG: %v", what, len(b), err)
		}
		if sz := img.Bounds().Size(); sz.X <= 0 || sz.Y <= 0 {
			t.Fatalf("%s: Screenshot returned a %dx%d frame; want a non-empty one", what, sz.X, sz.Y)
		}
	}

	t.Run("PNG", func(t *testing.T) { shot(t, "first") })
	t.Run("Repeated", func(t *testing.T) {
		for i := range o.Repeat {
			shot(t, fmt.Sprintf("screenshot %d", i+1))
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		start := time.Now()
		b, err := s.Screenshot(ctx)
		if d := time.Since(start); d > o.Prompt {
			t.Errorf("Screenshot with a cancelled context took %v; want at most %v", d, o.Prompt)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Screenshot with a cancelled context = %d bytes, %v; want an error wrapping context.Canceled", len(b), err)
		}
	})
	t.Run("AfterCancel", func(t *testing.T) {
		// A cancelled call must leave the screen usable.
		shot(t, "after a cancelled call")
	})
}
