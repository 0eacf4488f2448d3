package testimage_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/balena/leviathan-action/autokit/bootpart"
	"github.com/balena/leviathan-action/internal/testenv"
	"github.com/balena/leviathan-action/qemukit/testimage"
)

const (
	ovmfCode = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	ovmfVars = "/usr/share/OVMF/OVMF_VARS_4M.fd"
)

// tLogWriter sends each write to t.Logf with a prefix.
type tLogWriter struct {
	t      *testing.T
	prefix string
}

func (w tLogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Logf("%s%s", w.prefix, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// requireTools skips the test, saying why, when something the build or the
// boot needs is missing.
func requireTools(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping the image build and QEMU boot")
	}
	for _, tool := range []string{"apt-get", "apt-cache", "dpkg-deb", "qemu-system-x86_64"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: %v (apt-get install apt dpkg qemu-system-x86)", tool, err)
		}
	}
	for _, f := range []string{ovmfCode, ovmfVars} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("OVMF firmware missing: %v (apt-get install ovmf)", err)
		}
	}
}

// debCache is shared between runs so the packages are fetched once.
func debCache(t *testing.T) string {
	t.Helper()
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "leviathan", "debs")
}

// console is the guest's serial port: everything QEMU printed, searchable
// from a cursor, and a way to type.
type console struct {
	t     *testing.T
	mu    sync.Mutex
	buf   []byte
	pos   int // where the next expect starts looking
	grew  chan struct{}
	in    io.Writer
	start time.Time
}

func (c *console) pump(r io.Reader) {
	var line []byte
	chunk := make([]byte, 4096)
	for {
		n, err := r.Read(chunk)
		c.mu.Lock()
		c.buf = append(c.buf, chunk[:n]...)
		c.mu.Unlock()
		select {
		case c.grew <- struct{}{}:
		default:
		}
		for _, b := range chunk[:n] {
			if b == '\n' {
				c.t.Logf("serial %6.2fs: %s", time.Since(c.start).Seconds(), strings.TrimRight(string(line), "\r"))
				line = line[:0]
			} else {
				line = append(line, b)
			}
		}
		if err != nil {
			return
		}
	}
}

// expect waits for s to appear after the previous match and returns the
// time since QEMU started.
func (c *console) expect(ctx context.Context, s string) (time.Duration, error) {
	for {
		c.mu.Lock()
		i := bytes.Index(c.buf[c.pos:], []byte(s))
		if i >= 0 {
			c.pos += i + len(s)
		}
		c.mu.Unlock()
		if i >= 0 {
			return time.Since(c.start), nil
		}
		select {
		case <-ctx.Done():
			return time.Since(c.start), fmt.Errorf("waiting for %q on the serial console: %w", s, ctx.Err())
		case <-c.grew:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// bootQEMU boots img the way the rest of Leviathan does (q35, OVMF,
// virtio disk, user networking with the SSH port forwarded, virtio-rng)
// and returns its console. QEMU is killed when the test ends.
func bootQEMU(t *testing.T, img string, sshPort int) *console {
	t.Helper()
	vars := filepath.Join(t.TempDir(), "OVMF_VARS.fd")
	b, err := os.ReadFile(ovmfVars)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vars, b, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{
		"-machine", "q35", "-m", "512", "-display", "none", "-monitor", "none", "-no-user-config",
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + ovmfCode,
		"-drive", "if=pflash,format=raw,unit=1,file=" + vars,
		"-drive", "file=" + img + ",format=raw,if=none,id=d0", "-device", "virtio-blk-pci,drive=d0",
		"-netdev", fmt.Sprintf("user,id=n0,hostfwd=tcp:127.0.0.1:%d-:%d", sshPort, testimage.SSHPort),
		"-device", "virtio-net-pci,netdev=n0",
		"-device", "virtio-rng-pci",
		"-serial", "stdio",
	}
	cmd := exec.Command("qemu-system-x86_64", args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = tLogWriter{t, "qemu stderr: "}
	c := &console{t: t, grew: make(chan struct{}, 1), in: stdin, start: time.Now()}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go c.pump(stdout)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("reproduce with: qemu-system-x86_64 %s", strings.Join(args, " "))
		}
	})
	return c
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// fsckPartition checks a FAT partition of img with fsck.vfat -n.
func fsckPartition(t *testing.T, img string, start, size int64) {
	t.Helper()
	fsck, err := exec.LookPath("fsck.vfat")
	if err != nil {
		t.Logf("skipping fsck.vfat: %v (apt-get install dosfstools)", err)
		return
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := filepath.Join(t.TempDir(), "part.img")
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, io.NewSectionReader(f, start, size)); err != nil {
		t.Fatal(err)
	}
	out.Close()
	if b, err := exec.Command(fsck, "-n", p).CombinedOutput(); err != nil {
		t.Errorf("fsck.vfat -n on the partition at %d: %v\n%s", start, err, b)
	}
}

func TestBuildAndBoot(t *testing.T) {
	requireTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(tLogWriter{t, "build: "}, nil))
	opts := testimage.Options{CacheDir: debCache(t), OutDir: t.TempDir(), Logger: log}

	start := time.Now()
	m, err := testimage.Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built in %v: %+v", time.Since(start).Round(time.Millisecond), m)
	if m.Name != "leviathan-testos" || m.Version != testimage.Version || m.Kernel == "" ||
		m.Image != testimage.ImagePath(opts) || len(m.SHA256) != 64 || m.Packages["dropbear-bin"] == "" {
		t.Errorf("manifest %+v", m)
	}
	if fi, err := os.Stat(m.Image); err != nil || fi.Size() != m.Size {
		t.Fatalf("image: %v, size %d, manifest says %d", err, fi.Size(), m.Size)
	}
	var onDisk testimage.Manifest
	if b, err := os.ReadFile(testimage.ManifestPath(m.Image)); err != nil || json.Unmarshal(b, &onDisk) != nil || onDisk.SHA256 != m.SHA256 {
		t.Errorf("host-side manifest: %v %+v", err, onDisk)
	}

	// Incremental: the same inputs give the same image, quickly.
	start = time.Now()
	m2, err := testimage.Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); m2.SHA256 != m.SHA256 || took > 10*time.Second {
		t.Errorf("second Build took %v and gave %s, want the existing %s at once", took, m2.SHA256, m.SHA256)
	}

	// The boot partition, read back the way a testbot does.
	img, err := os.OpenFile(m.Image, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := bootpart.Find(img)
	if err != nil || p.Index != 1 || p.Label != "LEVBOOT" {
		t.Errorf("boot partition %+v, %v", p, err)
	}
	var inImage testimage.Manifest
	if b, err := bootpart.ReadFile(img, "/image.json"); err != nil || json.Unmarshal(b, &inImage) != nil {
		t.Errorf("/image.json: %v: %s", err, b)
	} else if inImage.Image != "" || inImage.SHA256 != "" || inImage.Kernel != m.Kernel || inImage.Size != m.Size {
		t.Errorf("/image.json = %+v", inImage)
	}
	if b, err := bootpart.ReadFile(img, "/config.json"); err != nil || string(b) != testimage.DefaultConfigJSON {
		t.Errorf("/config.json = %q, %v", b, err)
	}
	if b, err := bootpart.ReadFile(img, "/loader/entries/leviathan.conf"); err != nil || !strings.Contains(string(b), "options "+testimage.KernelCmdline+"\n") {
		t.Errorf("loader entry = %q, %v", b, err)
	}
	img.Close()
	fsckPartition(t, m.Image, 1<<20, 100<<20)
	fsckPartition(t, m.Image, 101<<20, 64<<20)

	// A copy of the image, with a key and a hostname in config.json.
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]any{
		"hostname": "levtest",
		"os":       map[string]any{"sshKeys": []string{strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))}},
	})
	dut := filepath.Join(t.TempDir(), "dut.img")
	testenv.CopyFile(t, m.Image, dut)
	f, err := os.OpenFile(dut, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := bootpart.WriteFile(f, "/config.json", cfg); err != nil {
		t.Fatal(err)
	}
	f.Close()

	port := freePort(t)
	con := bootQEMU(t, dut, port)
	banner := fmt.Sprintf("Leviathan test OS %s booting (kernel %s)", testimage.Version, m.Kernel)
	bootCtx, bootCancel := context.WithTimeout(ctx, 150*time.Second)
	defer bootCancel()
	at, err := con.expect(bootCtx, banner)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("banner after %v", at.Round(time.Millisecond))
	at, err = con.expect(bootCtx, testimage.ReadyLine)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ssh ready after %v", at.Round(time.Millisecond))

	// SSH: keys only.
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if c, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User: "root", Auth: []ssh.AuthMethod{ssh.Password("root"), ssh.Password("")},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 20 * time.Second,
	}); err == nil {
		c.Close()
		t.Error("password authentication succeeded")
	} else {
		t.Logf("password refused as it should be: %v", err)
	}
	client, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.CombinedOutput("uname -r; hostname; . /etc/os-release; echo $ID $VERSION_ID; cat /run/udhcpc.eth0.lease; grep /mnt/ /proc/mounts")
	sess.Close()
	t.Logf("over ssh:\n%s", out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		m.Kernel + "\n", "levtest\n", "leviathan-testos " + testimage.Version + "\n",
		"ip=10.0.2.15\n", "router=10.0.2.2\n", "subnet=255.255.255.0\n", "serverid=10.0.2.2\n", "lease=",
		"/dev/vda1 /mnt/boot vfat rw", "/dev/vda2 /mnt/data vfat rw",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("ssh output lacks %q", want)
		}
	}

	// The serial console has a root shell.
	if _, err := con.expect(bootCtx, "root@levtest:/# "); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // let ash finish asking the terminal its size
	for try := 0; ; try++ {
		if _, err := io.WriteString(con.in, "echo serial-$((6*7))\n"); err != nil {
			t.Fatal(err)
		}
		wctx, wcancel := context.WithTimeout(bootCtx, 10*time.Second)
		_, err := con.expect(wctx, "serial-42")
		wcancel()
		if err == nil {
			break
		}
		if try == 2 {
			t.Fatalf("serial shell: %v", err)
		}
	}
}
