package replay

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
)

// play answers an upgraded call: it takes over the connection, answers
// 101 as the worker does, and plays the recorded stream — the DUT side's
// chunks written in order, between them as many of the caller's bytes
// read as were recorded, and compared. st.done is closed once the
// recorded bytes were exchanged.
func (h *Handler) play(rw http.ResponseWriter, r *http.Request, c *call, st *callState) {
	played := false
	done := func() {
		if !played {
			played = true
			close(st.done)
		}
	}
	defer done()
	if !isUpgrade(r) {
		writeError(rw, api.CodeBadRequest, "replay: a tunnel is an HTTP upgrade: send Connection: Upgrade and Upgrade: "+api.TunnelProtocol+" (the Go client does)")
		return
	}
	cc, brw, err := http.NewResponseController(rw).Hijack()
	if err != nil {
		writeError(rw, api.CodeInternal, fmt.Sprintf("replay: taking over the connection for the tunnel: %v", err))
		return
	}
	defer cc.Close()
	brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + api.TunnelProtocol + "\r\n\r\n")
	if err := brw.Flush(); err != nil {
		return
	}
	p := player{h: h, c: c, st: st, conn: cc, r: brw.Reader}
	p.run()
	done()
	p.finish()
}

// player plays one recorded stream over a taken-over connection. Its
// reader reads the caller's bytes as they come and compares them with the
// recorded ones, while the DUT side's chunks are written in order, each
// once the caller's bytes recorded before it have been read (or the
// caller stalled: see stall) — so that neither side's writing waits on
// the other's.
type player struct {
	h    *Handler
	c    *call
	st   *callState
	conn net.Conn
	r    *bufio.Reader // the connection's reader, holding what the caller sent early

	mu   sync.Mutex
	cond *sync.Cond
	// read counts the caller's bytes read so far, written the DUT's
	// chunks written; quiet is set once the caller stopped sending
	// (closed, silent past the timeout, or all recorded bytes read).
	read     int64
	lastRead time.Time
	written  int
	quiet    bool
	noted    bool
}

// stall is how long the DUT's next chunk waits for caller bytes recorded
// before it while the caller sends nothing: a recorder may note a chunk
// it wrote a moment after the caller's answer to it, and the caller then
// waits for it.
const stall = 100 * time.Millisecond

// progress publishes how many chunks, in order, have been played.
// p.mu is held.
func (p *player) progressLocked() {
	var cum int64
	dut, n := 0, len(p.c.rec.Stream)
	for i, ch := range p.c.rec.Stream {
		if ch.FromDUT {
			if dut >= p.written {
				n = i
				break
			}
			dut++
			continue
		}
		cum += int64(len(ch.Data))
		if p.read < cum {
			n = i
			break
		}
	}
	p.h.setProgress(p.st, n)
}

func (p *player) run() {
	p.cond = sync.NewCond(&p.mu)
	var want []byte
	for _, ch := range p.c.rec.Stream {
		if !ch.FromDUT {
			want = append(want, ch.Data...)
		}
	}
	p.mu.Lock()
	p.progressLocked() // the caller's bytes before the DUT's first
	p.mu.Unlock()
	go p.readCaller(want)
	// Wake the waits below now and then, to see whether the caller
	// stalled.
	tick := time.NewTicker(stall / 4)
	defer tick.Stop()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-tick.C:
				p.mu.Lock()
				p.cond.Broadcast()
				p.mu.Unlock()
			case <-stop:
				return
			}
		}
	}()
	var before int64 // the caller's bytes recorded before the chunk
	for _, ch := range p.c.rec.Stream {
		if !ch.FromDUT {
			before += int64(len(ch.Data))
			continue
		}
		p.mu.Lock()
		waiting := time.Now()
		for p.read < before && !p.quiet && time.Since(latest(p.lastRead, waiting)) < stall {
			p.cond.Wait()
		}
		p.mu.Unlock()
		p.conn.SetWriteDeadline(time.Now().Add(p.h.o.streamTimeout))
		if _, err := p.conn.Write(ch.Data); err != nil {
			p.diverge(fmt.Sprintf("the caller stopped reading (%v)", err))
			break
		}
		p.mu.Lock()
		p.written++
		p.progressLocked()
		p.mu.Unlock()
	}
	p.mu.Lock()
	for !p.quiet {
		p.cond.Wait()
	}
	p.mu.Unlock()
}

// readCaller reads the caller's bytes until the recorded ones, want, are
// all read or the caller stops sending.
func (p *player) readCaller(want []byte) {
	defer func() {
		p.mu.Lock()
		p.quiet = true
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	buf := make([]byte, 64<<10)
	var read int64
	for read < int64(len(want)) {
		p.conn.SetReadDeadline(time.Now().Add(p.h.o.streamTimeout))
		n, err := p.r.Read(buf[:min(int64(len(buf)), int64(len(want))-read)])
		if n > 0 {
			if i := firstDiff(buf[:n], want[read:read+int64(n)]); i >= 0 {
				at := read + int64(i)
				p.diverge(fmt.Sprintf("the caller sent different bytes at byte %d: %q where the recording holds %q", at, around(buf[:n], i), around(want, int(at))))
			}
			read += int64(n)
			p.mu.Lock()
			p.read, p.lastRead = read, time.Now()
			p.progressLocked()
			p.cond.Broadcast()
			p.mu.Unlock()
		}
		if err != nil {
			why := "closed its end"
			if errors.Is(err, os.ErrDeadlineExceeded) {
				why = fmt.Sprintf("sent nothing for %s", p.h.o.streamTimeout)
			} else if !errors.Is(err, io.EOF) {
				why = err.Error()
			}
			p.diverge(fmt.Sprintf("the caller %s after %d bytes; the recording holds %d more", why, read, int64(len(want))-read))
			return
		}
	}
}

// finish ends the connection as the DUT's end would: it stops sending,
// lets the caller finish for a moment, and closes.
func (p *player) finish() {
	if cw, ok := p.conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	p.conn.SetReadDeadline(time.Now().Add(time.Second))
	io.Copy(io.Discard, p.r)
}

// diverge notes the stream's first difference.
func (p *player) diverge(what string) {
	p.mu.Lock()
	first := !p.noted
	p.noted = true
	p.mu.Unlock()
	if !first {
		return
	}
	name := "connection to listener"
	if p.c.route == "GET "+api.PathTunnel {
		name = "tunnel to port " + p.c.req.query.Get(api.QueryPort)
	}
	rec := p.c.describe()
	p.h.note(Divergence{Request: p.c.req.describe(), Recorded: rec,
		Message: fmt.Sprintf("replay: %s (%s): %s", name, rec, what)})
}

// around is the few bytes of b about index i.
func around(b []byte, i int) []byte {
	return b[max(i-12, 0):min(i+12, len(b))]
}

// latest is the later of a and b.
func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// firstDiff is the index of the first byte where a and b differ, -1 when
// none does.
func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}
