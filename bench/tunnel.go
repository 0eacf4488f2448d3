package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/balena/leviathan-action/internal/benchrow"
)

// dutSSHPort is the DUT's own SSH port (the test image's, and balenaOS's).
const dutSSHPort = 22222

// tunnelFigures are one tunnel-vs-direct comparison.
type tunnelFigures struct {
	directMBps, tunnelMBps       []float64
	directConnect, tunnelConnect []time.Duration
}

// tunnelBench boots a DUT and copies mib MiB into `cat >/dev/null` over
// SSH, rounds times each way, taking turns: through a worker tunnel
// (client.Dial to the DUT's SSH port) and directly to the DUT's SSH
// address (QEMU's forward on the host's loopback) — the connection a
// suite on the bench would use. It also times connect + SSH handshake.
func tunnelBench(ctx context.Context, build, img string, mib, rounds, connects int) (*tunnelFigures, error) {
	dir, err := os.MkdirTemp(build, "bench-tunnel-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	c, addr, keyPath, stop, err := bootDUT(ctx, dir, img)
	if err != nil {
		return nil, err
	}
	defer stop()
	pem, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return nil, err
	}
	cfg := &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 30 * time.Second}
	direct := func() (net.Conn, error) { return net.DialTimeout("tcp", addr.SSH, 10*time.Second) }
	tunnel := func() (net.Conn, error) { return c.Dial(ctx, dutSSHPort) }
	payload := make([]byte, 1<<20)
	rand.Read(payload)

	f := &tunnelFigures{}
	type side struct {
		name string
		dial func() (net.Conn, error)
		into *[]time.Duration
	}
	for i := range connects {
		sides := []side{{"direct", direct, &f.directConnect}, {"tunnel", tunnel, &f.tunnelConnect}}
		if i%2 == 1 { // take turns at going first
			sides[0], sides[1] = sides[1], sides[0]
		}
		for _, side := range sides {
			t := time.Now()
			sc, err := sshOver(side.dial, cfg)
			if err != nil {
				return nil, fmt.Errorf("%s connect %d: %w", side.name, i+1, err)
			}
			*side.into = append(*side.into, time.Since(t))
			sc.Close()
		}
	}
	for i := range rounds {
		order := []bool{false, true}
		if i%2 == 1 {
			order = []bool{true, false}
		}
		for _, viaTunnel := range order {
			dial, into := direct, &f.directMBps
			if viaTunnel {
				dial, into = tunnel, &f.tunnelMBps
			}
			mbps, err := copyOver(dial, cfg, payload, mib)
			if err != nil {
				return nil, fmt.Errorf("copy (tunnel %v) round %d: %w", viaTunnel, i+1, err)
			}
			*into = append(*into, mbps)
			fmt.Printf("  tunnel round %d: %-7s %6.1f MB/s\n", i+1, map[bool]string{false: "direct", true: "tunnel"}[viaTunnel], mbps)
		}
	}
	return f, nil
}

// sshOver opens an SSH client over a connection from dial.
func sshOver(dial func() (net.Conn, error), cfg *ssh.ClientConfig) (*ssh.Client, error) {
	conn, err := dial()
	if err != nil {
		return nil, err
	}
	cc, chans, reqs, err := ssh.NewClientConn(conn, "dut", cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return ssh.NewClient(cc, chans, reqs), nil
}

// copyOver writes mib MiB into `cat >/dev/null` on the DUT over a fresh
// SSH connection and returns MB/s, from the first byte to cat's exit.
func copyOver(dial func() (net.Conn, error), cfg *ssh.ClientConfig, payload []byte, mib int) (float64, error) {
	sc, err := sshOver(dial, cfg)
	if err != nil {
		return 0, err
	}
	defer sc.Close()
	s, err := sc.NewSession()
	if err != nil {
		return 0, err
	}
	defer s.Close()
	in, err := s.StdinPipe()
	if err != nil {
		return 0, err
	}
	if err := s.Start("cat >/dev/null"); err != nil {
		return 0, err
	}
	t := time.Now()
	for range mib {
		if _, err := in.Write(payload); err != nil {
			return 0, err
		}
	}
	in.Close()
	if err := s.Wait(); err != nil && err != io.EOF {
		return 0, err
	}
	return float64(mib) * (1 << 20) / 1e6 / time.Since(t).Seconds(), nil
}

// printTunnel prints the tunnel figures as the bench's table rows.
func printTunnel(f *tunnelFigures, mib int) {
	dm, tm := medianF(f.directMBps), medianF(f.tunnelMBps)
	// Each round's two copies met the same machine weather: the figure is
	// the median of the per-round ratios, with their spread.
	ratios := make([]float64, len(f.tunnelMBps))
	for i := range ratios {
		ratios[i] = 100 * f.tunnelMBps[i] / f.directMBps[i]
	}
	fmt.Printf("%-44s %9.1fMB/s %20s %4.1fMB/s %13.0f%% (target ≥ 80 %%; per-round ratios %.0f–%.0f %%)\n",
		fmt.Sprintf("tunnel: copy %d MiB over SSH (median of %d)", mib, len(f.tunnelMBps)),
		tm, "direct to the DUT", dm, medianF(ratios), minF(ratios), maxF(ratios))
	dc, tc := median(f.directConnect), median(f.tunnelConnect)
	fmt.Printf("%-44s %10.1fms %20s %5.1fms %+12.1fms\n",
		fmt.Sprintf("tunnel: connect + SSH handshake (median of %d)", len(f.tunnelConnect)), ms(tc), "direct", ms(dc), ms(tc-dc))
	record(benchrow.Row{What: fmt.Sprintf("tunnel: SSH copy of %d MiB vs direct", mib), Leviathan: fmt.Sprintf("%.1f MB/s", tm),
		Baseline: fmt.Sprintf("%.1f MB/s", dm), Result: fmt.Sprintf("%.0f %%", medianF(ratios)),
		Spread: fmt.Sprintf("%.0f/%.0f/%.0f %%", minF(ratios), medianF(ratios), maxF(ratios)), Target: "≥ 80 %", Met: benchrow.Judge(medianF(ratios) >= 80)})
	record(benchrow.Row{What: "tunnel: connect + SSH handshake vs direct", Leviathan: fmt.Sprintf("%.1f ms", ms(tc)),
		Baseline: fmt.Sprintf("%.1f ms", ms(dc)), Result: fmt.Sprintf("%+.1f ms", ms(tc-dc))})
}

func medianF(v []float64) float64 {
	d := make([]time.Duration, len(v))
	for i, x := range v {
		d[i] = time.Duration(x * 1e6)
	}
	return float64(median(d)) / 1e6
}

func minF(v []float64) float64 { return minMax(v, func(a, b float64) bool { return a < b }) }
func maxF(v []float64) float64 { return minMax(v, func(a, b float64) bool { return a > b }) }

func minMax(v []float64, better func(a, b float64) bool) float64 {
	m := v[0]
	for _, x := range v[1:] {
		if better(x, m) {
			m = x
		}
	}
	return m
}
