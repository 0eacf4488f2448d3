package sshexec

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Race tunes DialRace. The zero value is the defaults.
type Race struct {
	// Every is how often another attempt starts while none has heard the
	// server yet (default 100 ms).
	Every time.Duration
	// BannerWait is how long one attempt waits for the server's first
	// bytes before it is given up (default 1 s; each later attempt waits
	// 100 ms longer, up to 5 s, for a slow link).
	BannerWait time.Duration
	// HandshakeWait bounds an attempt's handshake once the server has
	// spoken (default 15 s: a DUT without hardware crypto under load).
	HandshakeWait time.Duration
}

func (r Race) withDefaults() Race {
	if r.Every <= 0 {
		r.Every = 100 * time.Millisecond
	}
	if r.BannerWait <= 0 {
		r.BannerWait = time.Second
	}
	if r.HandshakeWait <= 0 {
		r.HandshakeWait = 15 * time.Second
	}
	return r
}

// errNoBanner is an attempt's cause when the server said nothing in time.
var errNoBanner = errors.New("the server sent nothing (no SSH banner)")

// DialRace connects like Dial to a DUT that may still be booting. It keeps
// attempts overlapping: while no attempt has heard the server's banner it
// starts another one every r.Every, and each attempt that hears nothing
// within its banner wait is dropped. The first connection whose handshake
// completes wins and the others are closed.
//
// One attempt at a time is not enough at boot: a connection made while
// the DUT's network is coming up can be accepted in front of it (QEMU's
// user network, a NAT or a proxy accepts at once and loses the SYN it
// passes on), and then waits for a retransmission — a second or more —
// though the server has been listening since shortly after. With attempts
// overlapping, the first one made after the server listens answers.
//
// Once an attempt has heard the banner no more start (a guest slow to
// finish one handshake would only be slowed further) unless it fails. When
// ctx ends first, DialRace returns the most telling error: the last
// handshake's failure if any attempt reached the server, else the last
// connection error.
func DialRace(ctx context.Context, addr string, signer ssh.Signer, r Race) (*Conn, error) {
	if signer == nil {
		return nil, &DialError{Addr: addr, Err: errors.New("no signer")}
	}
	r = r.withDefaults()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type event struct {
		heard bool // the server spoke; a final event follows
		c     *Conn
		err   error
	}
	events := make(chan event)
	heard := 0
	send := func(ev event) bool {
		select {
		case events <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	start := func(n int) {
		wait := min(r.BannerWait+time.Duration(n)*100*time.Millisecond, 5*time.Second)
		go func() {
			c, err := raceAttempt(ctx, addr, signer, wait, r.HandshakeWait, func() { send(event{heard: true}) })
			if !send(event{c: c, err: err}) && c != nil {
				c.Close() // another attempt won
			}
		}()
	}

	tick := time.NewTicker(r.Every)
	defer tick.Stop()
	var lastDial, lastHandshake error
	start(0)
	for n := 1; ; {
		select {
		case ev := <-events:
			switch {
			case ev.heard:
				heard++
				continue
			case ev.err == nil:
				return ev.c, nil
			case ctx.Err() != nil:
				continue // cut short by the end: says nothing of the DUT
			}
			var he *handshakeError
			if errors.As(ev.err, &he) {
				heard--
				lastHandshake = he.err
			} else {
				lastDial = ev.err
			}
		case <-tick.C:
			if heard == 0 {
				start(n)
				n++
			}
		case <-ctx.Done():
			err := lastHandshake
			if err == nil {
				err = lastDial
			}
			if err == nil {
				err = ctx.Err()
			}
			return nil, &DialError{Addr: addr, Err: fmt.Errorf("%w (still not connected when the wait ended: %v)", err, ctx.Err())}
		}
	}
}

// handshakeError is an attempt that heard the server and then failed.
type handshakeError struct{ err error }

func (e *handshakeError) Error() string { return e.err.Error() }

// raceAttempt is one of DialRace's attempts: a connection that must hear
// the server within bannerWait and then finish its handshake within
// handshakeWait. heard is called once, when the server's first bytes
// arrive.
func raceAttempt(ctx context.Context, addr string, signer ssh.Signer, bannerWait, handshakeWait time.Duration, heard func()) (*Conn, error) {
	// ctx's deadline is not passed down: the dialer would act on it a
	// moment before ctx reports it, and the attempt's timeout would pass
	// for the DUT's answer. The attempt ends when ctx has.
	actx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	defer context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })()
	var d net.Dialer
	nc, err := d.DialContext(actx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	var timer *time.Timer
	bc := &bannerConn{Conn: nc}
	bc.first = func() {
		// The banner wait becomes the handshake's, unless it ran out.
		if timer.Stop() {
			timer.Reset(handshakeWait)
		}
		heard()
	}
	timer = time.AfterFunc(bannerWait, func() {
		if bc.spoken() {
			cancel(fmt.Errorf("no SSH handshake within %v of the server's banner", handshakeWait))
		} else {
			cancel(errNoBanner)
		}
	})
	defer timer.Stop()
	c, err := handshake(actx, bc, addr, signer)
	// DialRace names the address itself: keep only the cause.
	if de := (*DialError)(nil); errors.As(err, &de) {
		err = de.Err
	}
	if err != nil && bc.spoken() {
		return nil, &handshakeError{err: err}
	}
	return c, err
}

// bannerConn calls first once, when the first bytes arrive.
type bannerConn struct {
	net.Conn
	first func()
	once  sync.Once
	mu    sync.Mutex
	done  bool
}

func (b *bannerConn) Read(p []byte) (int, error) {
	n, err := b.Conn.Read(p)
	if n > 0 {
		b.once.Do(func() {
			b.mu.Lock()
			b.done = true
			b.mu.Unlock()
			b.first()
		})
	}
	return n, err
}

func (b *bannerConn) spoken() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.done
}
