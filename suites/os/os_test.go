package ossuite

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image/png"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/suites/sdk"
)

// The test image's facts, as its builder documents them.
const (
	bannerPattern = `Leviathan test OS \S+ booting \(kernel (\S+)\)`
	osID          = "leviathan-testos"
	dataDir       = "/mnt/data"
	leaseFile     = "/run/udhcpc.eth0.lease"
)

func token(t *testing.T) string {
	b := make([]byte, 8)
	rand.Read(b)
	return t.Name() + "-" + hex.EncodeToString(b)
}

// kv parses shell-style KEY=value lines, dropping quotes.
func kv(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok {
			m[k] = strings.Trim(v, `"'`)
		}
	}
	return m
}

func TestBootBannerOnSerial(t *testing.T) {
	d := sdk.Get(t)
	d.Require(t, dut.CapConsole)
	// The latest boot's banner: a worker's console log spans many boots.
	all := regexp.MustCompile(bannerPattern).FindAllStringSubmatch(d.SerialLog(t), -1)
	if all == nil {
		t.Fatalf("no boot banner matching %q on the console; last lines:\n%s", bannerPattern, d.SerialTail(t, 20))
	}
	m := all[len(all)-1]
	if got := d.Run(t, "uname -r"); got != m[1] {
		t.Errorf("banner names kernel %q, the running kernel is %q", m[1], got)
	}
}

func TestOSRelease(t *testing.T) {
	d := sdk.Get(t)
	rel := kv(d.Run(t, "cat /etc/os-release"))
	if rel["ID"] != osID {
		t.Errorf("ID = %q, want %q", rel["ID"], osID)
	}
	for _, k := range []string{"NAME", "VERSION_ID", "PRETTY_NAME"} {
		if rel[k] == "" {
			t.Errorf("os-release has no %s", k)
		}
	}
}

func TestKernelMatchesImage(t *testing.T) {
	d := sdk.Get(t)
	var manifest struct {
		Kernel  string `json:"kernel"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal([]byte(d.Run(t, "cat /mnt/boot/image.json")), &manifest); err != nil {
		t.Fatalf("image.json on the boot partition: %v", err)
	}
	if got := d.Run(t, "uname -r"); got != manifest.Kernel {
		t.Errorf("running kernel %q, the image was built with %q", got, manifest.Kernel)
	}
	if rel := kv(d.Run(t, "cat /etc/os-release")); rel["VERSION_ID"] != manifest.Version {
		t.Errorf("os-release VERSION_ID %q, image version %q", rel["VERSION_ID"], manifest.Version)
	}
}

func TestHostnameFromConfig(t *testing.T) {
	d := sdk.Get(t)
	var cfg struct {
		Hostname string `json:"hostname"`
	}
	if err := json.Unmarshal([]byte(d.Run(t, "cat /mnt/boot/config.json")), &cfg); err != nil {
		t.Fatalf("config.json on the boot partition: %v", err)
	}
	if want := d.Contract.Hostname; want != "" && cfg.Hostname != want {
		t.Errorf("config.json hostname %q, the worker provisioned %q", cfg.Hostname, want)
	}
	if got := d.Run(t, "hostname"); got != cfg.Hostname {
		t.Errorf("hostname %q, config.json says %q", got, cfg.Hostname)
	}
}

func TestSSHKeyOnlyAuth(t *testing.T) {
	d := sdk.Get(t)
	// The SSH client's randomness (its key exchange, its packets) follows
	// the DUT's boot, so that a replay sends the recorded bytes over the
	// tunnel (docs/replay.md).
	d.ReplayableRandom(t)
	// The worker's own commands prove key authentication works.
	if got := d.Run(t, "echo key-auth-ok"); got != "key-auth-ok" {
		t.Fatalf("echo through SSH = %q", got)
	}
	// Connect as a client on the bench would, through the worker's
	// tunnel: it works wherever the suite runs (the testrunner container
	// included) and reaches the DUT's own SSH port.
	conn := d.Dial(t, dutSSHPort)
	defer conn.Close()
	cfg := &ssh.ClientConfig{
		User:            "root",
		Auth:            []ssh.AuthMethod{ssh.Password("leviathan"), ssh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) { return []string{"leviathan"}, nil })},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         10 * time.Second,
	}
	c, _, _, err := ssh.NewClientConn(conn, "dut", cfg)
	if err == nil {
		c.Close()
		t.Fatal("the DUT accepted a password login")
	}
	if !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("password login failed for another reason than authentication: %v", err)
	}
	if strings.Contains(err.Error(), "password") {
		t.Errorf("the DUT offered password authentication: %v", err)
	}
}

// dutSSHPort is where the test OS image (and balenaOS) serves SSH.
const dutSSHPort = 22222

func TestDHCPAddress(t *testing.T) {
	d := sdk.Get(t)
	lease := kv(d.Run(t, "cat "+leaseFile))
	if net.ParseIP(lease["ip"]) == nil {
		t.Fatalf("no address in the DHCP lease %s: %v", leaseFile, lease)
	}
	want := d.Address(t).IP
	if lease["ip"] != want {
		t.Errorf("DHCP lease ip %s, the worker reports the DUT at %s", lease["ip"], want)
	}
	if ifc := d.Run(t, "ip -4 addr show dev eth0"); !strings.Contains(ifc, lease["ip"]+"/") {
		t.Errorf("eth0 does not carry the leased address %s:\n%s", lease["ip"], ifc)
	}
	if net.ParseIP(lease["router"]) == nil {
		t.Fatalf("the DHCP lease names no router: %v", lease)
	}
	if route := d.Run(t, "ip route show default"); !strings.Contains(route, "via "+lease["router"]+" ") {
		t.Errorf("default route %q does not use the DHCP router %s", route, lease["router"])
	}
}

// TestServesFileToDUT is a small stand-in for an OS update: the test
// serves a file, the DUT fetches it from the address the worker gave and
// its copy must hash the same.
func TestServesFileToDUT(t *testing.T) {
	d := sdk.Get(t)
	d.ReplayableRandom(t) // the payload, as recorded, in a replay
	payload := make([]byte, 4<<20)
	rand.Read(payload)
	sum := sha256.Sum256(payload)
	l := d.Listen(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		http.ServeContent(rw, r, "update.img", time.Time{}, bytes.NewReader(payload))
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	out := d.Run(t, "wget -q -O /tmp/update.img http://"+l.DUTAddress()+"/update.img && sha256sum /tmp/update.img && rm /tmp/update.img")
	if got, _, _ := strings.Cut(out, " "); got != hex.EncodeToString(sum[:]) {
		t.Fatalf("the DUT's copy hashes to %q, the served file to %x", out, sum)
	}
}

func TestExecStreamsAndExitCode(t *testing.T) {
	d := sdk.Get(t)
	r, err := d.Exec(t.Context(), "echo to-stdout; echo to-stderr >&2; exit 3")
	if err != nil {
		t.Fatal(err)
	}
	if r.Stdout != "to-stdout\n" || r.Stderr != "to-stderr\n" || r.ExitCode != 3 {
		t.Fatalf("got %+v", r)
	}
}

func TestDataPartitionSurvivesReboot(t *testing.T) {
	d := sdk.Get(t)
	d.ReplayableRandom(t) // the token, as recorded, in a replay
	tok := token(t)
	d.Run(t, "grep -q ' "+dataDir+" ' /proc/mounts && echo "+tok+" > "+dataDir+"/reboot-token && sync")
	d.Reboot(t)
	if got := d.Run(t, "cat "+dataDir+"/reboot-token"); got != tok {
		t.Fatalf("after a reboot the data partition holds %q, want %q", got, tok)
	}
}

func TestHardPowerCut(t *testing.T) {
	d := sdk.Get(t)
	d.Require(t, dut.CapPower)
	d.ReplayableRandom(t) // the token, as recorded, in a replay
	tok := token(t)
	d.Run(t, "echo "+tok+" > "+dataDir+"/power-token && sync")
	d.PowerCycle(t)
	if got := d.Run(t, "cat "+dataDir+"/power-token"); got != tok {
		t.Fatalf("after a power cut the data partition holds %q, want the synced %q", got, tok)
	}
}

func TestSerialConsoleShell(t *testing.T) {
	d := sdk.Get(t)
	d.Require(t, dut.CapConsole)
	mark := d.SerialMark(t)
	// The shell, not the echo of the line, computes 42.
	d.SerialWrite(t, "\recho serial-$((6*7))\r")
	d.Expect(t, mark, `serial-42`, 30*time.Second)
}

func TestScreenshot(t *testing.T) {
	d := sdk.Get(t)
	d.Require(t, dut.CapScreen)
	b, err := d.Client.Screenshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if r := img.Bounds(); r.Dx() < 320 || r.Dy() < 200 {
		t.Errorf("screenshot is %dx%d", r.Dx(), r.Dy())
	}
}

func TestKeyboardCtrlAltDelete(t *testing.T) {
	d := sdk.Get(t)
	d.Require(t, dut.CapKeyboard)
	before := d.BootID(t)
	if err := d.Client.Press(t.Context(), "ctrl", "alt", "delete"); err != nil {
		t.Fatalf("pressing ctrl-alt-delete: %v", err)
	}
	d.WaitReboot(t, before)
}
