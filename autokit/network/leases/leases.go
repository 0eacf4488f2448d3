package leases

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// Lease is one IPv4 DHCP lease.
type Lease struct {
	// Expiry is when the lease ends; the zero Time for an infinite lease.
	Expiry   time.Time
	MAC      net.HardwareAddr
	IP       netip.Addr
	Hostname string // empty when the client sent none
	ClientID string // empty when the client sent none
}

// SyntaxError is a line Parse could not read.
type SyntaxError struct {
	Line int
	Text string
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("leases: line %d: %s: %q", e.Line, e.Msg, e.Text)
}

// maxLine bounds a line; dnsmasq's are well under 1 KiB.
const maxLine = 64 << 10

// Parse reads a lease file. It returns the leases read before the first
// malformed line together with a *SyntaxError for that line.
func Parse(r io.Reader) ([]Lease, error) {
	var out []Lease
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	n := 0
	for sc.Scan() {
		n++
		text := sc.Text()
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		if f[0] == "duid" {
			continue
		}
		if len(f) != 5 {
			return out, &SyntaxError{Line: n, Text: text, Msg: fmt.Sprintf("%d fields, want 5 (expiry mac ip hostname client-id)", len(f))}
		}
		exp, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || exp < 0 {
			return out, &SyntaxError{Line: n, Text: text, Msg: "expiry is not seconds since the epoch"}
		}
		ip, err := netip.ParseAddr(f[2])
		if err != nil {
			return out, &SyntaxError{Line: n, Text: text, Msg: "address is not an IP address"}
		}
		if !ip.Is4() {
			continue // a DHCPv6 lease: its second field is an IAID, not a MAC
		}
		mac, err := net.ParseMAC(f[1])
		if err != nil {
			return out, &SyntaxError{Line: n, Text: text, Msg: "hardware address is malformed"}
		}
		l := Lease{MAC: mac, IP: ip, Hostname: star(f[3]), ClientID: star(f[4])}
		if exp != 0 {
			l.Expiry = time.Unix(exp, 0)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("leases: line %d: %w", n+1, err)
	}
	return out, nil
}

func star(s string) string {
	if s == "*" {
		return ""
	}
	return s
}

// Format writes leases in the lease file's format (for tests and tools).
func Format(w io.Writer, ls []Lease) error {
	var b bytes.Buffer
	for _, l := range ls {
		var exp int64
		if !l.Expiry.IsZero() {
			exp = l.Expiry.Unix()
		}
		fmt.Fprintf(&b, "%d %s %s %s %s\n", exp, l.MAC, l.IP, orStar(l.Hostname), orStar(l.ClientID))
	}
	_, err := w.Write(b.Bytes())
	return err
}

func orStar(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

// Newest returns the lease that expires last among those for mac (all
// leases when mac is nil), and false when there is none. Infinite leases
// count as the newest.
func Newest(ls []Lease, mac net.HardwareAddr) (Lease, bool) {
	var best Lease
	found := false
	for _, l := range ls {
		if mac != nil && !bytes.Equal(l.MAC, mac) {
			continue
		}
		if !found || later(l.Expiry, best.Expiry) {
			best, found = l, true
		}
	}
	return best, found
}

// later reports whether a is at or after b, infinity (zero) last.
func later(a, b time.Time) bool {
	switch {
	case a.IsZero():
		return true
	case b.IsZero():
		return false
	}
	return !a.Before(b)
}

// Read parses the lease file at path. A file that does not exist yet
// (the server has granted nothing) reads as no leases.
func Read(path string) ([]Lease, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("leases: %w", err)
	}
	ls, err := Parse(bytes.NewReader(b))
	if err != nil {
		return ls, fmt.Errorf("leases: %s: %w", path, err)
	}
	return ls, nil
}

// WaitError is returned by Wait when no lease appeared in time.
type WaitError struct {
	Path      string
	Interface string
	MAC       net.HardwareAddr // nil when any DUT would do
	Leases    int              // how many other leases the file held
	Err       error            // the context's error, or a read error
}

func (e *WaitError) Error() string {
	who := "any DUT"
	if e.MAC != nil {
		who = "MAC " + e.MAC.String()
	}
	return fmt.Sprintf("leases: no DHCP lease for %s on %s in %s (%d other leases): %v", who, e.Interface, e.Path, e.Leases, e.Err)
}

func (e *WaitError) Unwrap() error { return e.Err }

// PollInterval is how often Wait rereads the lease file.
const PollInterval = 200 * time.Millisecond

// Wait rereads the lease file at path until it holds a lease for mac (any
// lease when mac is nil) and returns the newest such lease. iface only
// names the interface in the error. It gives up with a *WaitError when
// ctx ends or when alive (if not nil) returns an error — the DHCP server
// has died, say.
func Wait(ctx context.Context, path, iface string, mac net.HardwareAddr, alive func() error) (Lease, error) {
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	var readErr error
	for {
		ls, err := Read(path)
		if err == nil {
			if l, ok := Newest(ls, mac); ok {
				return l, nil
			}
		}
		// A malformed file may be one caught mid-rewrite: read it again,
		// and report it only if it never settles.
		readErr = err
		if alive != nil {
			if err := alive(); err != nil {
				return Lease{}, &WaitError{Path: path, Interface: iface, MAC: mac, Leases: len(ls), Err: err}
			}
		}
		select {
		case <-ctx.Done():
			err := ctx.Err()
			if readErr != nil {
				err = fmt.Errorf("%w (and the file does not parse: %w)", err, readErr)
			}
			return Lease{}, &WaitError{Path: path, Interface: iface, MAC: mac, Leases: len(ls), Err: err}
		case <-t.C:
		}
	}
}
