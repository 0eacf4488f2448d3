package nmshared

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/hostcmd"
	"github.com/balena/leviathan-action/autokit/network/leases"
)

func cfg() Config {
	return Config{Interface: "eth1", Subnet: "10.42.0.1/24", SSHPort: 22222, LeaseDir: "/nm", Timeout: time.Minute}
}

func notFound(c hostcmd.Call) ([]byte, error) {
	if slices.Contains(c.Args, "delete") {
		return nil, &hostcmd.ExitError{Args: c.Args, Code: exitNotFound, Err: errors.New("exit status 10")}
	}
	return nil, nil
}

func TestWiredCommands(t *testing.T) {
	f := &hostcmd.Fake{Reply: notFound}
	var logs strings.Builder
	n, err := New(cfg(), WithRunner(f.Run), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f.Reply = nil
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"nmcli connection delete id leviathan-eth1",
		"nmcli connection add con-name leviathan-eth1 ifname eth1 type ethernet connection.autoconnect no ipv4.method shared ipv4.addresses 10.42.0.1/24 ipv6.method disabled",
		"nmcli --wait 29 connection up id leviathan-eth1",
		"nmcli connection delete id leviathan-eth1",
	}
	got := f.Lines()
	if len(got) == 4 && strings.HasPrefix(got[2], "nmcli --wait 30 ") {
		got[2] = strings.Replace(got[2], "30", "29", 1) // the deadline is measured, not fixed
	}
	if !slices.Equal(got, want) {
		t.Errorf("commands:\n got %q\nwant %q", got, want)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "does not filter the DUT's traffic") {
		t.Errorf("Start did not warn that the DUT can reach the testbot; logs:\n%s", logs.String())
	}
}

func TestWifiAPCommands(t *testing.T) {
	c := cfg()
	c.Interface = "wlan0"
	c.WifiSSID = "leviathan-ap"
	c.WifiPSK = "s3cret-passphrase"
	c.Connection = "dut-ap"
	n, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"connection", "add", "con-name", "dut-ap", "ifname", "wlan0",
		"type", "wifi", "ssid", "leviathan-ap",
		"802-11-wireless.mode", "ap", "802-11-wireless.band", "bg",
		"wifi-sec.key-mgmt", "wpa-psk", "wifi-sec.proto", "rsn", "wifi-sec.pairwise", "ccmp", "wifi-sec.group", "ccmp",
		"wifi-sec.psk", "s3cret-passphrase",
		"connection.autoconnect", "no", "ipv4.method", "shared", "ipv4.addresses", "10.42.0.1/24", "ipv6.method", "disabled"}
	if got := n.AddArgs(); !slices.Equal(got, want) {
		t.Errorf("AddArgs:\n got %q\nwant %q", got, want)
	}
}

func TestPSKRedacted(t *testing.T) {
	c := cfg()
	c.WifiSSID, c.WifiPSK = "ap", "s3cret-passphrase"
	f := &hostcmd.Fake{Reply: func(c hostcmd.Call) ([]byte, error) {
		if slices.Contains(c.Args, "add") {
			return nil, &hostcmd.ExitError{Args: c.Args, Code: 4, Err: errors.New("exit status 4"), Output: "Error: failed"}
		}
		return nil, nil
	}}
	n, _ := New(c, WithRunner(f.Run))
	err := n.Start(t.Context())
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "<redacted>") {
		t.Fatalf("err = %v, want a failure with the PSK redacted", err)
	}
}

func TestOldConnectionDeleteFails(t *testing.T) {
	f := &hostcmd.Fake{Reply: func(c hostcmd.Call) ([]byte, error) {
		return nil, &hostcmd.ExitError{Args: c.Args, Code: 8, Err: errors.New("exit status 8"), Output: "Error: NetworkManager is not running."}
	}}
	n, _ := New(cfg(), WithRunner(f.Run))
	err := n.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "NetworkManager is not running") {
		t.Fatalf("err = %v", err)
	}
	if len(f.Calls) != 1 {
		t.Errorf("went on after the first failure: %q", f.Lines())
	}
}

func TestUpFailsDeletes(t *testing.T) {
	f := &hostcmd.Fake{Reply: func(c hostcmd.Call) ([]byte, error) {
		if slices.Contains(c.Args, "up") {
			return nil, &hostcmd.ExitError{Args: c.Args, Code: 4, Err: errors.New("exit status 4")}
		}
		return nil, nil
	}}
	n, _ := New(cfg(), WithRunner(f.Run))
	if err := n.Start(t.Context()); err == nil {
		t.Fatal("Start succeeded")
	}
	if l := f.Lines(); l[len(l)-1] != "nmcli connection delete id leviathan-eth1" {
		t.Errorf("the failed connection was not deleted: %q", l)
	}
}

func TestBadConfig(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Interface = "" }, "NETWORK_INTERFACE"},
		{func(c *Config) { c.Subnet = "10.42.0.0/24" }, "NETWORK_SUBNET"},
		{func(c *Config) { c.WifiSSID = "ap"; c.WifiPSK = "short" }, "NETWORK_WIFI_PSK"},
		{func(c *Config) { c.WifiPSK = "longenough" }, "NETWORK_WIFI_SSID"},
		{func(c *Config) { c.WifiSSID = "ap"; c.WifiPSK = "longenough"; c.WifiBand = "6ghz" }, "NETWORK_WIFI_BAND"},
		{func(c *Config) { c.DUTMAC = "zz" }, "NETWORK_DUT_MAC"},
		{func(c *Config) { c.MDNSName = "dut.example.com" }, "NETWORK_MDNS_NAME"},
	} {
		c := cfg()
		tc.edit(&c)
		if _, err := New(c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want one naming %s", err, tc.want)
		}
	}
}

func TestAddressFromNMLeases(t *testing.T) {
	c := cfg()
	c.LeaseDir = t.TempDir()
	c.DUTMAC = "52:54:00:12:34:56"
	os.WriteFile(filepath.Join(c.LeaseDir, "dnsmasq-eth1.leases"), []byte("1700000100 52:54:00:12:34:56 10.42.0.23 balena *\n1700000200 52:54:00:00:00:01 10.42.0.24 other *\n"), 0o644)
	n, _ := New(c)
	a, err := n.Address(t.Context())
	if err != nil || a.IP != "10.42.0.23" || a.SSH != "10.42.0.23:22222" || a.Gateway != "10.42.0.1" {
		t.Fatalf("Address = %+v, %v", a, err)
	}
}

// TestNoLeaseNoMDNS checks that with NETWORK_MDNS_NAME set a missing
// lease is followed by mDNS, and that the error names both failures. lo
// does not do multicast, so mDNS fails at once.
func TestNoLeaseNoMDNS(t *testing.T) {
	c := cfg()
	c.Interface = "lo"
	c.LeaseDir = t.TempDir()
	c.MDNSName = "dut"
	n, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 400*time.Millisecond)
	defer cancel()
	_, err = n.Address(ctx)
	var we *leases.WaitError
	if !errors.As(err, &we) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want one wrapping the lease wait error and context.DeadlineExceeded", err)
	}
	for _, want := range []string{"nmshared: ", "no DHCP lease", "mdns: resolving dut.local: interface lo does not do multicast"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestRealNetworkManager needs NetworkManager; it only checks that nmcli
// answers, since creating a shared connection would change the host.
func TestRealNetworkManager(t *testing.T) {
	if _, err := exec.LookPath("nmcli"); err != nil {
		t.Skip("nmcli is not installed (NetworkManager is absent on this machine)")
	}
	out, err := exec.Command("nmcli", "-t", "-f", "RUNNING", "general").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "running") {
		t.Skipf("NetworkManager is not running: %v %s", err, out)
	}
	if iface := os.Getenv("LEVIATHAN_NMSHARED_TEST_INTERFACE"); iface == "" {
		t.Skip("set LEVIATHAN_NMSHARED_TEST_INTERFACE to a spare interface NetworkManager may share")
	} else {
		c := cfg()
		c.Interface = iface
		c.LeaseDir = "/var/lib/NetworkManager"
		c.Subnet = "10.251.9.1/24"
		n, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
