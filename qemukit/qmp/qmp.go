// Package qmp is a thin client for the QEMU Machine Protocol: it connects
// to a QMP socket, negotiates capabilities and runs commands one at a time.
// Asynchronous events are passed to an optional handler; nothing else is
// interpreted.
package qmp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Error is an error QEMU answered a command with.
type Error struct {
	Command string
	Class   string `json:"class"`
	Desc    string `json:"desc"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("qmp: %s: %s (%s)", e.Command, e.Desc, e.Class)
}

// Event is an asynchronous QMP event.
type Event struct {
	Name string          `json:"event"`
	Data json.RawMessage `json:"data"`
}

// Conn is a QMP connection. Commands are serialised.
type Conn struct {
	conn    net.Conn
	mu      sync.Mutex // one command at a time
	replies chan reply
	events  func(Event)
	done    chan struct{}
	err     error
	seq     int64 // the last command's id; c.mu held
}

type reply struct {
	Return json.RawMessage `json:"return"`
	Error  *Error          `json:"error"`
	// ID echoes the command's id, so a late reply to a command whose
	// caller gave up is not taken for the next command's.
	ID *int64 `json:"id"`
}

type message struct {
	reply
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
	QMP   json.RawMessage `json:"QMP"`
}

// Dial connects to the QMP unix socket at path, retrying until it appears
// or ctx ends, and negotiates capabilities. onEvent may be nil.
func Dial(ctx context.Context, path string, onEvent func(Event)) (*Conn, error) {
	var nc net.Conn
	for {
		var d net.Dialer
		var err error
		nc, err = d.DialContext(ctx, "unix", path)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("qmp: connecting to %s: %w (last error: %v)", path, ctx.Err(), err)
		case <-time.After(2 * time.Millisecond):
		}
	}
	c := &Conn{conn: nc, replies: make(chan reply), events: onEvent, done: make(chan struct{})}
	sc := bufio.NewScanner(nc)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	if !sc.Scan() {
		nc.Close()
		return nil, fmt.Errorf("qmp: no greeting from %s: %v", path, sc.Err())
	}
	go c.read(sc)
	if err := c.Execute(ctx, "qmp_capabilities", nil, nil); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Conn) read(sc *bufio.Scanner) {
	defer close(c.done)
	for sc.Scan() {
		var m message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			continue
		}
		if m.Event != "" {
			if c.events != nil {
				c.events(Event{Name: m.Event, Data: m.Data})
			}
			continue
		}
		c.replies <- m.reply
	}
	c.err = sc.Err()
	if c.err == nil {
		c.err = errors.New("qmp: connection closed by QEMU")
	}
}

// Execute runs command with args (nil for none) and decodes its return
// value into result (nil to discard).
func (c *Conn) Execute(ctx context.Context, command string, args, result any) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("qmp: %s: %w", command, err) // not sent
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	id := c.seq
	req := map[string]any{"execute": command, "id": id}
	if args != nil {
		req["arguments"] = args
	}
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("qmp: %s: %w", command, err)
	}
	// Every command sets its own write deadline: an earlier command's must
	// not outlive it (the zero time clears it).
	dl, _ := ctx.Deadline()
	c.conn.SetWriteDeadline(dl)
	if _, err := c.conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("qmp: sending %s: %w", command, err)
	}
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("qmp: %s: %w", command, ctx.Err())
		case <-c.done:
			return fmt.Errorf("qmp: %s: %w", command, c.err)
		case r := <-c.replies:
			if r.ID != nil && *r.ID != id {
				continue // the reply to an earlier command given up on
			}
			if r.Error != nil {
				r.Error.Command = command
				return r.Error
			}
			if result != nil {
				if err := json.Unmarshal(r.Return, result); err != nil {
					return fmt.Errorf("qmp: decoding the reply to %s: %w", command, err)
				}
			}
			return nil
		}
	}
}

// Done is closed when QEMU closes the connection.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close closes the connection.
func (c *Conn) Close() error { return c.conn.Close() }
