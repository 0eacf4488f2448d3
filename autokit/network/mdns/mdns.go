package mdns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// group is the mDNS IPv4 multicast group and port.
const group = "224.0.0.251:5353"

// The resend backoff: the first query goes at once, the next after
// firstWait, each wait doubling up to maxWait.
const (
	firstWait = 250 * time.Millisecond
	maxWait   = 2 * time.Second
)

// Option tunes Resolve.
type Option func(*options)

type options struct {
	log *slog.Logger
}

// WithLogger logs each query and each ignored packet at debug level.
// Silent by default.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// NoAnswerError is returned by Resolve when ctx ended before an answer
// came. It carries what was seen on the way.
type NoAnswerError struct {
	Name      string        // the name asked for, e.g. dut.local
	Interface string        // the interface asked on
	Waited    time.Duration // from the first query to the end
	Queries   int           // queries sent
	Ignored   int           // packets received and ignored (other names, other interfaces, malformed)
	SendErr   error         // the last failed send, if any
	Err       error         // the context's error
}

func (e *NoAnswerError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mdns: no mDNS answer for %s on %s within %s (%d queries, %d other packets ignored)",
		e.Name, e.Interface, round(e.Waited), e.Queries, e.Ignored)
	fmt.Fprintf(&b, ": %v", e.Err)
	if e.SendErr != nil {
		fmt.Fprintf(&b, "; the last query failed: %v", e.SendErr)
	}
	if errors.Is(e.Err, context.DeadlineExceeded) {
		b.WriteString("; is avahi (or another mDNS responder) running on the DUT and publishing that name, is UDP 5353 allowed to the DUT and its reply back?")
	}
	return b.String()
}

func (e *NoAnswerError) Unwrap() error { return e.Err }

func round(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// Resolve returns the IPv4 address that name has on the link of the
// interface iface, asking by mDNS until an answer comes or ctx ends; give
// ctx a deadline. The name asked for is LocalName(name). When ctx ends
// first the error is a *NoAnswerError wrapping ctx's error.
func Resolve(ctx context.Context, iface, name string, opts ...Option) (netip.Addr, error) {
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(&o)
	}
	host, err := LocalName(name)
	if err != nil {
		return netip.Addr{}, err
	}
	if err := ctx.Err(); err != nil {
		return netip.Addr{}, fmt.Errorf("mdns: resolving %s on %s: %w", host, iface, err)
	}
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("mdns: resolving %s: no interface %s on this host: %w", host, iface, err)
	}
	if ifi.Flags&net.FlagUp == 0 {
		return netip.Addr{}, fmt.Errorf("mdns: resolving %s: interface %s is down", host, iface)
	}
	if ifi.Flags&net.FlagMulticast == 0 {
		return netip.Addr{}, fmt.Errorf("mdns: resolving %s: interface %s does not do multicast", host, iface)
	}
	c, err := listen(ifi)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("mdns: resolving %s on %s: %w", host, iface, err)
	}
	defer c.Close()
	return exchange(ctx, c, ifi, host+".", netip.MustParseAddrPort(group), o.log)
}

// LocalName is the name Resolve asks for when given name: name itself
// when it ends in .local, name.local when it has no dot ("dut" is
// dut.local). Other names are an error: mDNS answers only for .local.
func LocalName(name string) (string, error) {
	s := strings.TrimSuffix(strings.TrimSpace(name), ".")
	if !strings.Contains(s, ".") {
		s += ".local"
	}
	if _, ok := dns.IsDomainName(s); !ok || strings.ContainsAny(s, " \t\\") || strings.HasPrefix(s, ".") || strings.Contains(s, "..") {
		return "", fmt.Errorf("mdns: %q is not a host name such as dut or dut.local", name)
	}
	if !strings.HasSuffix(strings.ToLower(s), ".local") {
		return "", fmt.Errorf("mdns: %q is not in .local; mDNS answers only for .local names", name)
	}
	return s, nil
}

// exchange asks for fqdn by sending to dst on c until an answer arrives
// on ifi or ctx ends. Resolve sends to the mDNS group; tests send to a
// player on the loopback.
func exchange(ctx context.Context, c *net.UDPConn, ifi *net.Interface, fqdn string, dst netip.AddrPort, log *slog.Logger) (netip.Addr, error) {
	id := uint16(rand.UintN(1<<16-1)) + 1 // never 0: an mDNS responder's own multicast replies carry 0
	q, err := query(fqdn, id)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("mdns: %w", err)
	}
	name := strings.TrimSuffix(fqdn, ".")
	// A cancelled ctx interrupts the read at once.
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Now()) })
	defer stop()

	start := time.Now()
	wait := firstWait
	var next time.Time // when the next query goes; now for the first
	ne := &NoAnswerError{Name: name, Interface: ifi.Name}
	buf := make([]byte, 9000) // mDNS allows jumbo-frame-sized messages
	oob := make([]byte, 128)
	for {
		if now := time.Now(); !now.Before(next) {
			if _, err := c.WriteToUDPAddrPort(q, dst); err != nil {
				ne.SendErr = err
				log.Debug("mdns query failed", "name", name, "interface", ifi.Name, "err", err)
			} else {
				log.Debug("mdns query", "name", name, "interface", ifi.Name, "to", dst, "id", id)
			}
			ne.Queries++
			next = now.Add(wait)
			wait = min(2*wait, maxWait)
		}
		c.SetReadDeadline(next)
		// After the deadline is set: a cancel from here on moves it to now.
		if err := ctx.Err(); err != nil {
			ne.Waited, ne.Err = time.Since(start), err
			return netip.Addr{}, ne
		}
		n, oobn, _, from, err := c.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return netip.Addr{}, fmt.Errorf("mdns: resolving %s on %s: %w", name, ifi.Name, err)
		}
		if in := ifindex(oob[:oobn]); in != ifi.Index {
			ne.Ignored++
			log.Debug("mdns: ignored a packet from another interface", "from", from, "ifindex", in, "want", ifi.Index)
			continue
		}
		a, err := answer(buf[:n], fqdn, id)
		if err != nil {
			ne.Ignored++
			log.Debug("mdns: ignored a packet", "from", from, "why", err)
			continue
		}
		log.Debug("mdns answer", "name", name, "interface", ifi.Name, "address", a, "from", from)
		return a, nil
	}
}
