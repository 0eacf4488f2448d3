package worker_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestSerialLog(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	ctx := ctxT(t, 5*time.Second)
	e.d.Print("hello ")
	e.d.Print("world\n")
	for _, tc := range []struct {
		offset  int64
		want    string
		wantEnd int64
	}{
		{0, "hello world\n", 12},
		{6, "world\n", 12},
		{12, "", 12},
		{100, "", 12}, // past the end: nothing, from the end
	} {
		p, end, err := c.SerialLog(ctx, tc.offset)
		if err != nil || string(p) != tc.want || end != tc.wantEnd {
			t.Errorf("SerialLog(%d) = %q, %d, %v; want %q, %d", tc.offset, p, end, err, tc.want, tc.wantEnd)
		}
	}
}

func TestFollowSerial(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	e.d.Print("early\n")
	ctx, cancel := context.WithCancel(ctxT(t, 10*time.Second))
	var out lockedBuffer
	done := make(chan error, 1)
	go func() { done <- c.FollowSerial(ctx, 2, &out) }()
	eventually(t, "the captured part", func() bool { return out.String() == "rly\n" })
	e.d.Print("late\n")
	eventually(t, "live output", func() bool { return out.String() == "rly\nlate\n" })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("FollowSerial = %v; want context.Canceled", err)
	}
}

func TestExpect(t *testing.T) {
	e := newEnv(t)
	c := e.client(t) // no lease needed
	ctx := ctxT(t, 10*time.Second)
	e.d.Print("U-Boot\nStarting kernel\n")
	go func() {
		time.Sleep(20 * time.Millisecond)
		e.d.Print("login: ")
	}()
	res, err := c.Expect(ctx, `log(in|out): `, 0, 5*time.Second)
	if err != nil || res.Match != "login: " || res.Offset != int64(len("U-Boot\nStarting kernel\nlogin: ")) {
		t.Fatalf("Expect = %+v, %v", res, err)
	}
	_, err = c.Expect(ctx, `never`, res.Offset, 100*time.Millisecond)
	wantStatus(t, err, http.StatusGatewayTimeout, `console never printed "never"`, "Starting kernel\nlogin: ")
	_, err = c.Expect(ctx, `(`, 0, time.Second)
	wantStatus(t, err, http.StatusBadRequest, "pattern")
}

func TestSerialWrite(t *testing.T) {
	e := newEnv(t)
	c := e.leased(t)
	if err := c.SerialWrite(ctxT(t, 5*time.Second), []byte("root\n")); err != nil {
		t.Fatal(err)
	}
	if got := string(e.d.Input()); got != "root\n" {
		t.Fatalf("console input %q", got)
	}
}
