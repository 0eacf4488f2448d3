package qmp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// fakeQEMU speaks enough QMP on a unix socket: a greeting, then a reply
// (and sometimes an event first) to every command.
func fakeQEMU(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "qmp.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte(`{"QMP": {"version": {}, "capabilities": []}}` + "\n"))
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			var req struct {
				Execute string `json:"execute"`
			}
			json.Unmarshal(sc.Bytes(), &req)
			switch req.Execute {
			case "query-status":
				c.Write([]byte(`{"event": "RESUME", "data": {}}` + "\n"))
				c.Write([]byte(`{"return": {"status": "running"}}` + "\n"))
			case "bogus":
				c.Write([]byte(`{"error": {"class": "CommandNotFound", "desc": "The command bogus has not been found"}}` + "\n"))
			default:
				c.Write([]byte(`{"return": {}}` + "\n"))
			}
		}
	}()
	return sock
}

func TestExecute(t *testing.T) {
	var events []string
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	c, err := Dial(ctx, fakeQEMU(t), func(e Event) { events = append(events, e.Name) })
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The dial's deadline has passed: later commands must not inherit it.
	time.Sleep(60 * time.Millisecond)
	var st struct {
		Status string `json:"status"`
	}
	if err := c.Execute(context.Background(), "query-status", nil, &st); err != nil || st.Status != "running" {
		t.Fatalf("query-status = %+v, %v", st, err)
	}
	if len(events) != 1 || events[0] != "RESUME" {
		t.Errorf("events %v", events)
	}
	var qe *Error
	if err := c.Execute(context.Background(), "bogus", nil, nil); !errors.As(err, &qe) || qe.Class != "CommandNotFound" {
		t.Fatalf("bogus = %v", err)
	}
}

func TestDialTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := Dial(ctx, filepath.Join(t.TempDir(), "none.sock"), nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial = %v", err)
	}
}
