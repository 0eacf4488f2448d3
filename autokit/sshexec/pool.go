package sshexec

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// ErrClosed is returned by a Pool after Close.
var ErrClosed = errors.New("sshexec: the pool is closed")

// Pool keeps one Conn per address and redials when a connection is dead
// (the DUT rebooted). It is safe for concurrent use.
type Pool struct {
	signer   ssh.Signer
	log      *slog.Logger
	idlePing time.Duration
	pingWait time.Duration

	mu     sync.Mutex
	closed bool
	slots  map[string]*slot
}

// slot is one address's connection; sem serialises dialling.
type slot struct {
	sem  chan struct{}
	conn *Conn // guarded by Pool.mu
}

// PoolOption configures a Pool.
type PoolOption func(*Pool)

// WithLogger sends the pool's few log lines (dial, redial) to log.
func WithLogger(log *slog.Logger) PoolOption {
	return func(p *Pool) {
		if log != nil {
			p.log = log
		}
	}
}

// WithIdlePing makes Get check a connection idle for longer than d with a
// keepalive request answered within wait before handing it out (default:
// idle 5 s, wait 2 s). d = 0 checks every time.
func WithIdlePing(d, wait time.Duration) PoolOption {
	return func(p *Pool) { p.idlePing, p.pingWait = d, wait }
}

// NewPool returns a Pool that authenticates with signer.
func NewPool(signer ssh.Signer, opts ...PoolOption) *Pool {
	p := &Pool{
		signer:   signer,
		log:      slog.New(slog.DiscardHandler),
		idlePing: 5 * time.Second,
		pingWait: 2 * time.Second,
		slots:    make(map[string]*slot),
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Get returns the live connection to addr, dialling one when there is none
// or the previous one is dead. ctx bounds the dial.
func (p *Pool) Get(ctx context.Context, addr string) (*Conn, error) {
	return p.get(ctx, addr, func(ctx context.Context) (*Conn, error) { return Dial(ctx, addr, p.signer) })
}

// Connect makes sure addr has a live connection, dialling it with
// DialRace (see there) when it has none: the way to wait for a DUT that is
// booting. Run and Get then use the connection it made.
func (p *Pool) Connect(ctx context.Context, addr string, r Race) error {
	_, err := p.get(ctx, addr, func(ctx context.Context) (*Conn, error) { return DialRace(ctx, addr, p.signer, r) })
	return err
}

// get returns addr's live connection or makes one with dial.
func (p *Pool) get(ctx context.Context, addr string, dial func(context.Context) (*Conn, error)) (*Conn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	s := p.slots[addr]
	if s == nil {
		s = &slot{sem: make(chan struct{}, 1)}
		p.slots[addr] = s
	}
	p.mu.Unlock()

	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, &DialError{Addr: addr, Err: ctx.Err()}
	}
	defer func() { <-s.sem }()

	p.mu.Lock()
	c := s.conn
	p.mu.Unlock()
	if c != nil && c.Alive() {
		if c.idle() < p.idlePing {
			return c, nil
		}
		pctx, cancel := context.WithTimeout(ctx, p.pingWait)
		err := c.Ping(pctx)
		cancel()
		if err == nil {
			return c, nil
		}
		p.log.Info("ssh connection went silent; redialling", "addr", addr, "err", err)
	} else if c != nil {
		p.log.Info("ssh connection closed; redialling", "addr", addr)
	}
	if c != nil {
		c.Close()
	}

	c, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return nil, ErrClosed
	}
	s.conn = c
	p.log.Debug("ssh connected", "addr", addr)
	return c, nil
}

// Run runs cmd on addr's connection, as Conn.Run. When the pooled
// connection turns out to be dead before the command started, Run redials
// once and tries again.
func (p *Pool) Run(ctx context.Context, addr, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	for attempt := 0; ; attempt++ {
		c, err := p.Get(ctx, addr)
		if err != nil {
			return -1, err
		}
		code, err := c.Run(ctx, cmd, stdin, stdout, stderr)
		if err != nil && attempt == 0 && errors.Is(err, errOpenSession) && ctx.Err() == nil {
			p.forget(addr, c)
			continue
		}
		return code, err
	}
}

// forget closes c and drops it if it is still addr's connection.
func (p *Pool) forget(addr string, c *Conn) {
	p.mu.Lock()
	if s := p.slots[addr]; s != nil && s.conn == c {
		s.conn = nil
	}
	p.mu.Unlock()
	c.Close()
}

// Reset closes every connection; the next Get dials afresh. Use it when
// the DUT is powered off or reflashed.
func (p *Pool) Reset() {
	p.mu.Lock()
	var conns []*Conn
	for _, s := range p.slots {
		if s.conn != nil {
			conns = append(conns, s.conn)
			s.conn = nil
		}
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// Close closes every connection and makes further Gets fail with
// ErrClosed.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.Reset()
	return nil
}
