package workertest_test

import (
	"context"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/worker/workertest"
)

func TestClock(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Date(2025, 11, 25, 10, 0, 0, 0, time.UTC)
	c := workertest.NewClock(start)
	fired := make(chan string, 3)
	c.AfterFunc(time.Second, func() { fired <- "1s" })
	stop := c.AfterFunc(2*time.Second, func() { fired <- "2s" })
	c.AfterFunc(3*time.Second, func() { fired <- "3s" })
	if err := c.WaitFor(ctx, 3); err != nil {
		t.Fatal(err)
	}
	c.Advance(999 * time.Millisecond)
	if got := c.Waiting(); got != 3 {
		t.Fatalf("%d waiting before their time, want 3", got)
	}
	c.Advance(time.Millisecond)
	if got := <-fired; got != "1s" || !c.Now().Equal(start.Add(time.Second)) {
		t.Fatalf("fired %s at %v, want 1s at %v", got, c.Now(), start.Add(time.Second))
	}
	if !stop() || stop() {
		t.Fatal("stop of a waiting function: want true once, then false")
	}
	c.Advance(time.Hour)
	if got := <-fired; got != "3s" {
		t.Fatalf("fired %s, want 3s (2s was stopped)", got)
	}
	if c.Waiting() != 0 || len(fired) != 0 {
		t.Fatalf("%d still waiting, %d more fired; want none", c.Waiting(), len(fired))
	}
	short, cancelShort := context.WithCancel(ctx)
	cancelShort()
	if err := c.WaitFor(short, 1); err == nil {
		t.Fatal("WaitFor with nothing scheduled and an ended context succeeded")
	}
}
