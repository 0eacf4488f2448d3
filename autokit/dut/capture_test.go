package dut

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"testing"
	"time"
)

func TestCaptureExpect(t *testing.T) {
	var c Capture
	go func() {
		for _, s := range []string{"booting\r\n", "login: ", "ready\n"} {
			time.Sleep(5 * time.Millisecond)
			c.Write([]byte(s))
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	off, m, err := c.Expect(ctx, 0, regexp.MustCompile(`login: `))
	if err != nil || m != "login: " || off != int64(len("booting\r\nlogin: ")) {
		t.Fatalf("Expect = %d, %q, %v", off, m, err)
	}
	if _, _, err := c.Expect(ctx, off, regexp.MustCompile(`ready`)); err != nil {
		t.Fatal(err)
	}
}

func TestCaptureExpectTimeoutCarriesTail(t *testing.T) {
	var c Capture
	c.Write([]byte("one\ntwo\nKernel panic - not syncing\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, _, err := c.Expect(ctx, 0, regexp.MustCompile(`never`))
	var ee *ExpectError
	if !errors.As(err, &ee) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ExpectError wrapping deadline", err)
	}
	if ee.Tail != "one\ntwo\nKernel panic - not syncing" {
		t.Fatalf("tail = %q", ee.Tail)
	}
}

func TestCaptureFollow(t *testing.T) {
	var c Capture
	c.Write([]byte("abc"))
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error)
	go func() { done <- c.Follow(ctx, 1, &lockedBuf{b: &out}) }()
	c.Write([]byte("def"))
	deadline := time.Now().Add(5 * time.Second)
	for c.Len() != 6 || (&lockedBuf{b: &out}).String() != "bcdef" {
		if time.Now().After(deadline) {
			t.Fatalf("followed %q", out.String())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow = %v", err)
	}
}

func TestTailLines(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\r\nb", 5, "a\nb"},
		{"", 3, ""},
	} {
		if got := TailLines([]byte(tc.in), tc.n); got != tc.want {
			t.Errorf("TailLines(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
