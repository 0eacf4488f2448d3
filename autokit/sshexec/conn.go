package sshexec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// User is the user commands run as.
const User = "root"

// closeGrace is how long Run waits for a cancelled session to wind down
// before it gives up on the whole connection.
const closeGrace = 2 * time.Second

// ErrNoExitStatus is wrapped by a RunError when the command ended without
// reporting an exit status, typically because the connection was lost.
var ErrNoExitStatus = errors.New("sshexec: the command ended without an exit status (the connection was lost?)")

// errOpenSession marks a RunError where the command never started, so it
// is safe to retry on a fresh connection.
var errOpenSession = errors.New("opening a session")

// DialError is returned when a connection to the DUT cannot be made.
type DialError struct {
	Addr string
	Err  error
}

// Error implements error.
func (e *DialError) Error() string {
	return fmt.Sprintf("sshexec: cannot connect to %s@%s: %v", User, e.Addr, e.Err)
}

// Unwrap returns the underlying error.
func (e *DialError) Unwrap() error { return e.Err }

// RunError is returned when a command could not be run to completion:
// the session could not be opened, the context ended, or the connection
// dropped. A command that exits with a non-zero status is not an error.
type RunError struct {
	Command string
	Addr    string
	Err     error
}

// Error implements error.
func (e *RunError) Error() string {
	return fmt.Sprintf("sshexec: %q on %s: %v", e.Command, e.Addr, e.Err)
}

// Unwrap returns the underlying error.
func (e *RunError) Unwrap() error { return e.Err }

// SignalError is returned when the command was killed by a signal.
type SignalError struct {
	Command string
	Addr    string
	// Signal is the signal's name without "SIG" ("KILL", "SEGV").
	Signal string
	// Message is the server's explanation, if any.
	Message string
}

// Error implements error.
func (e *SignalError) Error() string {
	msg := fmt.Sprintf("sshexec: %q on %s was killed by signal %s", e.Command, e.Addr, e.Signal)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Conn is a persistent SSH connection to one DUT. It is safe for
// concurrent use: each Run has its own session.
type Conn struct {
	addr     string
	client   *ssh.Client
	done     chan struct{} // closed when the connection is gone
	lastUsed atomic.Int64  // unix nanoseconds
}

// Dial connects to the SSH server at addr (host:port) as User with signer.
// ctx bounds the TCP connection and the SSH handshake, not the life of the
// connection.
func Dial(ctx context.Context, addr string, signer ssh.Signer) (*Conn, error) {
	if signer == nil {
		return nil, &DialError{Addr: addr, Err: errors.New("no signer")}
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &DialError{Addr: addr, Err: err}
	}
	return handshake(ctx, nc, addr, signer)
}

// handshake runs the SSH handshake on nc, bounded by ctx, and returns the
// connection; nc is closed when it fails.
func handshake(ctx context.Context, nc net.Conn, addr string, signer ssh.Signer) (*Conn, error) {
	// The handshake knows no context: unblock it by expiring the deadline
	// when ctx ends.
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	cfg := &ssh.ClientConfig{
		User: User,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		// DUT host keys change on every flash; see the package doc.
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
	}
	cc, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if !stop() || ctx.Err() != nil {
		if err == nil {
			cc.Close()
		}
		nc.Close()
		return nil, &DialError{Addr: addr, Err: fmt.Errorf("ssh handshake: %w", context.Cause(ctx))}
	}
	if err != nil {
		nc.Close()
		return nil, &DialError{Addr: addr, Err: err}
	}
	nc.SetDeadline(time.Time{})
	c := &Conn{addr: addr, client: ssh.NewClient(cc, chans, reqs), done: make(chan struct{})}
	c.touch()
	go func() {
		c.client.Wait()
		close(c.done)
	}()
	return c, nil
}

// Addr is the address the connection was dialled to.
func (c *Conn) Addr() string { return c.addr }

// Alive reports whether the connection is still open as far as is known.
func (c *Conn) Alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// Close closes the connection and every session on it.
func (c *Conn) Close() error {
	err := c.client.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (c *Conn) touch() { c.lastUsed.Store(time.Now().UnixNano()) }

func (c *Conn) idle() time.Duration { return time.Since(time.Unix(0, c.lastUsed.Load())) }

// Ping sends a keepalive request and waits for the answer. A connection
// that does not answer before ctx ends is closed.
func (c *Conn) Ping(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
		errc <- err
	}()
	select {
	case err := <-errc:
		if err != nil {
			c.Close()
			return &RunError{Command: "keepalive", Addr: c.addr, Err: err}
		}
		c.touch()
		return nil
	case <-ctx.Done():
		c.Close()
		return &RunError{Command: "keepalive", Addr: c.addr, Err: ctx.Err()}
	}
}

// Run runs cmd in one new session and returns its exit status. stdin may
// be nil (the command sees an empty input); stdout and stderr may be nil
// (output is discarded). A non-zero exit status is not an error. A command
// killed by a signal returns a *SignalError; when ctx ends the session is
// closed and a *RunError wrapping ctx's error is returned. Run does not
// return before the last write to stdout or stderr.
func (c *Conn) Run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	c.touch()
	defer c.touch()
	fail := func(err error) (int, error) {
		return -1, &RunError{Command: cmd, Addr: c.addr, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	sess, err := c.newSession(ctx)
	if err != nil {
		return fail(err)
	}
	defer sess.Close()
	sess.Stdout = stdout
	sess.Stderr = stderr
	var in io.WriteCloser
	if stdin != nil {
		if in, err = sess.StdinPipe(); err != nil {
			return fail(err)
		}
	}
	if err := sess.Start(cmd); err != nil {
		return fail(fmt.Errorf("starting: %w", err))
	}
	if in != nil {
		go func() {
			io.Copy(in, stdin)
			in.Close()
		}()
	}
	waitc := make(chan error, 1)
	go func() { waitc <- sess.Wait() }()
	select {
	case err = <-waitc:
	case <-ctx.Done():
		sess.Signal(ssh.SIGKILL)
		sess.Close()
		select {
		case <-waitc:
		case <-time.After(closeGrace):
			// The peer does not answer: the connection is wedged.
			c.Close()
			<-waitc
		}
		return fail(ctx.Err())
	}
	var exit *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit) && exit.Signal() != "":
		return -1, &SignalError{Command: cmd, Addr: c.addr, Signal: exit.Signal(), Message: exit.Msg()}
	case errors.As(err, &exit):
		return exit.ExitStatus(), nil
	case errors.As(err, &missing):
		return fail(ErrNoExitStatus)
	default:
		return fail(err)
	}
}

// newSession opens a session, giving up when ctx ends or the connection
// drops.
func (c *Conn) newSession(ctx context.Context) (*ssh.Session, error) {
	type result struct {
		s   *ssh.Session
		err error
	}
	resc := make(chan result, 1)
	go func() {
		s, err := c.client.NewSession()
		resc <- result{s, err}
	}()
	select {
	case r := <-resc:
		if r.err != nil {
			return nil, fmt.Errorf("%w: %w", errOpenSession, r.err)
		}
		return r.s, nil
	case <-ctx.Done():
		go func() {
			if r := <-resc; r.s != nil {
				r.s.Close()
			}
		}()
		return nil, fmt.Errorf("%w: %w", errOpenSession, ctx.Err())
	}
}

var (
	_ error = (*DialError)(nil)
	_ error = (*RunError)(nil)
	_ error = (*SignalError)(nil)
)
