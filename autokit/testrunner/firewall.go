package testrunner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// bridgeOption names the Linux bridge Docker creates for a network.
const bridgeOption = "com.docker.network.bridge.name"

// bridgePrefix starts the name of every job network's bridge, so rules and
// leftovers are recognisable ("lvt-" and 8 hex digits: under the 15
// characters an interface name may have).
const bridgePrefix = "lvt-"

func newBridgeName() string {
	var b [4]byte
	rand.Read(b[:])
	return bridgePrefix + hex.EncodeToString(b[:])
}

// hostFirewall closes the host to a job network: an internal Docker
// network has no route off the host, but the host's own services (on any
// of its addresses) still answer a container through the network's
// gateway, because Docker's isolation rules filter forwarded traffic only.
// Two INPUT rules fix that: accept the worker forwarder's port from the
// bridge, drop everything else from it. They need root (CAP_NET_ADMIN)
// and iptables.
type hostFirewall struct {
	bridge string
	rules  [][]string
}

// errNoFirewall says why the host could not be closed to the testrunner.
var errNoFirewall = errors.New("testrunner: the host's services are reachable from the container: closing them needs root and iptables")

// closeHost adds the rules for bridge, letting only TCP to port through.
func closeHost(ctx context.Context, bridge string, port int) (*hostFirewall, error) {
	if os.Geteuid() != 0 {
		return nil, errNoFirewall
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		return nil, errNoFirewall
	}
	f := &hostFirewall{bridge: bridge}
	// Inserted at the top in reverse order: ACCEPT ends up above DROP.
	for _, rule := range [][]string{
		{"INPUT", "-i", bridge, "-j", "DROP"},
		{"INPUT", "-i", bridge, "-p", "tcp", "--dport", strconv.Itoa(port), "-j", "ACCEPT"},
	} {
		if err := iptables(ctx, append([]string{"-I"}, append(rule[:1:1], append([]string{"1"}, rule[1:]...)...)...)...); err != nil {
			f.open(context.WithoutCancel(ctx))
			return nil, err
		}
		f.rules = append(f.rules, rule)
	}
	return f, nil
}

// open removes the rules closeHost added.
func (f *hostFirewall) open(ctx context.Context) error {
	var errs []error
	for _, rule := range f.rules {
		if err := iptables(ctx, append([]string{"-D"}, rule...)...); err != nil {
			errs = append(errs, err)
		}
	}
	f.rules = nil
	return errors.Join(errs...)
}

// removeBridgeRules deletes every INPUT rule naming bridge (what a killed
// Run left behind). Best effort: nothing to do without root.
func removeBridgeRules(ctx context.Context, bridge string) error {
	if os.Geteuid() != 0 || !strings.HasPrefix(bridge, bridgePrefix) {
		return nil
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		return nil
	}
	out, err := exec.CommandContext(ctx, "iptables", "-w", "-S", "INPUT").Output()
	if err != nil {
		return fmt.Errorf("testrunner: listing INPUT rules: %w", err)
	}
	var errs []error
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "-A" || !strings.Contains(" "+line+" ", " -i "+bridge+" ") {
			continue
		}
		errs = append(errs, iptables(ctx, append([]string{"-D"}, f[1:]...)...))
	}
	return errors.Join(errs...)
}

func iptables(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "iptables", append([]string{"-w"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("testrunner: iptables %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
