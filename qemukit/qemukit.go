package qemukit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/serialconsole"
	"github.com/balena/leviathan-action/qemukit/qmp"
)

// Guest facts of user-mode networking and of the test OS image.
const (
	GuestIP   = "10.0.2.15"
	GatewayIP = "10.0.2.2"
	GuestSSH  = 22222
)

// BootFailures are console patterns (Go regexps) that mean this DUT will
// not boot: the firmware found nothing bootable on the disk. A worker
// serving a QemuKit DUT fails a boot wait at once when one appears.
var BootFailures = []string{`BdsDxe: failed to load Boot[0-9A-F]+ "UEFI Misc Device"`}

// Config is the wiring of one virtual DUT.
type Config struct {
	Name      string // DUT name; "qemu" when empty
	Dir       string // state directory: disk, UEFI variables, logs (required)
	DiskSize  int64  // the "SD card" size in bytes; 2 GiB when 0
	MemoryMiB int    // guest memory; 512 when 0
	CPUs      int    // guest CPUs; 1 when 0
	QEMU      string // QEMU binary; qemu-system-x86_64 from PATH when empty
	Accel     string // "auto" (default), "kvm" or "tcg"
	SSHPort   int    // guest SSH port to forward; 22222 when 0
	// Isolated cuts the guest off from the host and the outside (QEMU's
	// user networking with restrict=on): the DUT reaches no host service
	// (with user networking the gateway 10.0.2.2 is the host's loopback:
	// the worker, a registry, anything listening there) and nothing
	// upstream. The worker's SSH and port forwards still reach the DUT.
	Isolated bool
	Logger   *slog.Logger
}

// DUT is a QEMU virtual DUT. It implements dut.DUT, dut.Storage,
// dut.Console, dut.Network, dut.Screen and dut.Keyboard.
type DUT struct {
	cfg       Config
	qemu      string
	code      string
	varsTmpl  string
	log       *slog.Logger
	console   dut.Capture
	serialLog *os.File

	mu       sync.Mutex
	run      *running // nil while off
	warm     *running // a QEMU started paused while the disk is flashed, for On to take
	flashing bool
	lastArgs []string
}

var (
	_ dut.DUT        = (*DUT)(nil)
	_ dut.Storage    = (*DUT)(nil)
	_ dut.Console    = (*DUT)(nil)
	_ dut.Network    = (*DUT)(nil)
	_ dut.PortDialer = (*DUT)(nil)
	_ dut.Screen     = (*DUT)(nil)
	_ dut.Keyboard   = (*DUT)(nil)
)

// running is one powered-on period: a QEMU process and its connections.
type running struct {
	cmd     *exec.Cmd
	qmp     *qmp.Conn
	port    *serialconsole.Port
	sshPort int
	sockDir string
	fwdMu   sync.Mutex
	fwd     map[int]int   // guest port → host port on 127.0.0.1, added by DialPort
	exited  chan struct{} // closed when the QEMU process has ended
	once    sync.Once

	// ready is closed once QMP answers and the serial pty is known
	// (readyErr says whether that worked); pty is the serial console.
	ready    chan struct{}
	readyErr error
	pty      string
	expire   *time.Timer // ends a warm QEMU that was never powered on
}

// cleanup closes r's connections and removes its socket directory. Only
// the goroutine that owns r calls it: On (when start fails), Off, or the
// exit watcher — which waits for d.mu, so never while start still runs.
func (r *running) cleanup() {
	r.once.Do(func() {
		<-r.ready // the QMP connection is r's once connect has ended
		if r.port != nil {
			r.port.Close()
		}
		if r.qmp != nil {
			r.qmp.Close()
		}
		os.RemoveAll(r.sockDir)
	})
}

// alive reports whether r's QEMU is still running.
func (r *running) alive() bool {
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// New prepares a DUT; it starts nothing. It fails when QEMU or OVMF is
// missing, naming the package to install.
func New(cfg Config) (*DUT, error) {
	if cfg.Dir == "" {
		return nil, errors.New("qemukit: Config.Dir is required")
	}
	if cfg.Name == "" {
		cfg.Name = "qemu"
	}
	if cfg.DiskSize == 0 {
		cfg.DiskSize = 2 << 30
	}
	if cfg.MemoryMiB == 0 {
		cfg.MemoryMiB = 512
	}
	if cfg.CPUs == 0 {
		cfg.CPUs = 1
	}
	if cfg.SSHPort == 0 {
		cfg.SSHPort = GuestSSH
	}
	switch cfg.Accel {
	case "", "auto", "kvm", "tcg":
	default:
		return nil, fmt.Errorf("qemukit: accel %q is not one of auto, kvm, tcg", cfg.Accel)
	}
	bin := cfg.QEMU
	if bin == "" {
		bin = "qemu-system-x86_64"
	}
	qemu, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("qemukit: %s not found; install it with: apt-get install qemu-system-x86", bin)
	}
	code, vars, err := FindFirmware()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("qemukit: %w", err)
	}
	sl, err := os.OpenFile(filepath.Join(cfg.Dir, "serial.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("qemukit: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &DUT{cfg: cfg, qemu: qemu, code: code, varsTmpl: vars, log: log.With("dut", cfg.Name), serialLog: sl}
	d.console.SetMirror(sl)
	if cfg.Accel == "" || cfg.Accel == "auto" {
		// The KVM probe starts QEMU once (a /dev/kvm that does not work
		// costs a QEMU start and its error); done now, it overlaps the
		// flash instead of delaying the first power-on.
		go KVMWorks(qemu)
	}
	return d, nil
}

// Name implements dut.DUT.
func (d *DUT) Name() string { return d.cfg.Name }

// DiskPath is the disk file the DUT boots from.
func (d *DUT) DiskPath() string { return filepath.Join(d.cfg.Dir, "disk.img") }

// CommandLine is the last QEMU command line, for reproducing a failure.
func (d *DUT) CommandLine() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.lastArgs, " ")
}

func (d *DUT) accel() string {
	switch d.cfg.Accel {
	case "kvm", "tcg":
		return d.cfg.Accel
	}
	if KVMWorks(d.qemu) {
		return "kvm"
	}
	return "tcg"
}

// On implements dut.Power: QEMU starts paused, the console is attached,
// then the machine runs.
func (d *DUT) On(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("qemukit: power on: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.run != nil && d.run.alive() {
		return nil
	}
	d.run = nil
	if d.flashing {
		return errors.New("qemukit: the disk is open for flashing; close it before powering on")
	}
	r := d.takeWarm()
	if r == nil {
		if err := d.prepareFiles(); err != nil {
			return err
		}
		var err error
		if r, err = d.launch(); err != nil {
			return err
		}
	}
	if err := d.power(ctx, r); err != nil {
		d.stop(r)
		r.cleanup()
		return err
	}
	d.run = r
	return nil
}

// warmUp starts QEMU paused, its disk attached, while the disk is being
// flashed: QEMU's own start (exec, firmware, machine set-up, QMP) then
// overlaps the flash instead of following it. The disk file keeps its
// size throughout (Open empties it in place), and QEMU reads a raw disk
// through the page cache the flash writes to, caching none of it itself,
// so the guest sees exactly what the flash wrote. Nothing runs in the
// guest until On. A failure here is only logged: On then starts QEMU
// afresh. d.mu is held.
func (d *DUT) warmUp() {
	if d.warm != nil && d.warm.alive() {
		return
	}
	if err := d.prepareFiles(); err != nil {
		d.log.Debug("not starting QEMU during the flash", "err", err)
		return
	}
	r, err := d.launch()
	if err != nil {
		d.log.Debug("not starting QEMU during the flash", "err", err)
		return
	}
	r.expire = time.AfterFunc(warmLife, func() {
		d.mu.Lock()
		mine := d.warm == r
		if mine {
			d.warm = nil
		}
		d.mu.Unlock()
		if mine {
			d.log.Debug("ending the QEMU started for a power-on that did not come")
			d.stop(r)
			r.cleanup()
		}
	})
	d.warm = r
}

// warmLife is how long a QEMU started during a flash waits for On; a
// variable for tests.
var warmLife = 2 * time.Minute

// takeWarm hands On the QEMU started during the flash, if it still runs.
// d.mu is held.
func (d *DUT) takeWarm() *running {
	r := d.dropWarm()
	if r == nil || r.alive() {
		return r
	}
	r.cleanup()
	return nil
}

// dropWarm takes the QEMU started during a flash from d and stops its
// expiry; the caller runs or ends it. d.mu is held.
func (d *DUT) dropWarm() *running {
	r := d.warm
	d.warm = nil
	if r != nil {
		r.expire.Stop()
	}
	return r
}

func (d *DUT) prepareFiles() error {
	disk := d.DiskPath()
	if !fileExists(disk) {
		f, err := os.Create(disk)
		if err != nil {
			return fmt.Errorf("qemukit: creating the disk: %w", err)
		}
		err = f.Truncate(d.cfg.DiskSize)
		f.Close()
		if err != nil {
			return fmt.Errorf("qemukit: sizing the disk: %w", err)
		}
	}
	vars := filepath.Join(d.cfg.Dir, "efivars.fd")
	if !fileExists(vars) {
		b, err := os.ReadFile(d.varsTmpl)
		if err != nil {
			return fmt.Errorf("qemukit: reading the UEFI variable template: %w", err)
		}
		if err := os.WriteFile(vars, b, 0o644); err != nil {
			return fmt.Errorf("qemukit: writing UEFI variables: %w", err)
		}
	}
	return nil
}

func (d *DUT) args(r *running) []string {
	sock := filepath.Join(r.sockDir, "qmp.sock")
	return []string{
		d.qemu,
		"-name", d.cfg.Name,
		"-machine", "q35,accel=" + d.accel(),
		"-m", strconv.Itoa(d.cfg.MemoryMiB),
		"-smp", strconv.Itoa(d.cfg.CPUs),
		"-nodefaults", "-no-user-config",
		"-display", "none",
		"-device", "VGA",
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + d.code,
		"-drive", "if=pflash,format=raw,unit=1,file=" + filepath.Join(d.cfg.Dir, "efivars.fd"),
		"-drive", "file=" + d.DiskPath() + ",format=raw,if=none,id=disk0",
		"-device", "virtio-blk-pci,drive=disk0",
		"-netdev", d.netdev(r),
		"-device", "virtio-net-pci,netdev=net0,romfile=",
		"-device", "virtio-rng-pci",
		"-chardev", "pty,id=serial0",
		"-serial", "chardev:serial0",
		"-qmp", "unix:" + sock + ",server=on,wait=off",
		"-S",
	}
}

// launch starts QEMU paused and, in the background, connects to its QMP
// socket and finds its serial pty; r.ready is closed when that is done.
func (d *DUT) launch() (*running, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	sockDir, err := os.MkdirTemp("", "leviathan-qmp-")
	if err != nil {
		return nil, fmt.Errorf("qemukit: %w", err)
	}
	r := &running{sshPort: port, sockDir: sockDir, exited: make(chan struct{}), ready: make(chan struct{})}
	args := d.args(r)
	d.lastArgs = args
	qlog, err := os.Create(filepath.Join(d.cfg.Dir, "qemu.log"))
	if err != nil {
		os.RemoveAll(sockDir)
		return nil, fmt.Errorf("qemukit: %w", err)
	}
	defer qlog.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = qlog, qlog
	// QEMU must not outlive the process that powers it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	d.log.Debug("starting QEMU", "cmd", strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		os.RemoveAll(sockDir)
		return nil, fmt.Errorf("qemukit: starting QEMU: %w", err)
	}
	r.cmd = cmd
	go func() {
		cmd.Wait()
		close(r.exited)
		d.exited(r)
	}()
	go func() {
		r.readyErr = d.connect(r)
		close(r.ready)
	}()
	return r, nil
}

// connect dials r's QMP socket and asks QEMU for the serial pty.
func (d *DUT) connect(r *running) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	go func() {
		select {
		case <-r.exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	c, err := qmp.Dial(ctx, filepath.Join(r.sockDir, "qmp.sock"), nil)
	if err != nil {
		return err
	}
	r.qmp = c
	var chardevs []struct {
		Label    string `json:"label"`
		Filename string `json:"filename"`
	}
	if err := r.qmp.Execute(ctx, "query-chardev", nil, &chardevs); err != nil {
		return err
	}
	for _, c := range chardevs {
		if c.Label == "serial0" {
			r.pty = strings.TrimPrefix(c.Filename, "pty:")
		}
	}
	if r.pty == "" {
		return errors.New("QEMU reported no pty for the serial console")
	}
	return nil
}

// power waits for r's QMP connection, attaches the console and lets the
// machine run.
func (d *DUT) power(ctx context.Context, r *running) error {
	select {
	case <-r.ready:
	case <-ctx.Done():
		return fmt.Errorf("qemukit: power on: %w", ctx.Err())
	}
	if r.readyErr != nil {
		return d.startError(r.readyErr)
	}
	var err error
	r.port, err = serialconsole.Open(r.pty, 115200, &d.console)
	if err != nil {
		return d.startError(err)
	}
	if err := r.qmp.Execute(ctx, "cont", nil, nil); err != nil {
		return d.startError(err)
	}
	d.log.Info("powered on", "accel", d.accel(), "ssh", r.sshPort, "serial", r.pty)
	return nil
}

// startError adds QEMU's own output and command line to a start failure.
func (d *DUT) startError(err error) error {
	out, _ := os.ReadFile(filepath.Join(d.cfg.Dir, "qemu.log"))
	return fmt.Errorf("qemukit: powering on: %w\nQEMU said: %s\ncommand: %s", err,
		dut.TailLines(out, 10), strings.Join(d.lastArgs, " "))
}

// exited runs when QEMU ends, whoever ended it (Off, a guest power-off,
// a crash). Taking d.mu first means it never races a start in progress.
func (d *DUT) exited(r *running) {
	d.mu.Lock()
	if d.run == r {
		d.run = nil
		d.log.Warn("QEMU exited by itself; the DUT is off")
	}
	if d.warm == r {
		d.warm = nil
	}
	d.mu.Unlock()
	r.cleanup()
}

// stop ends r's QEMU: a QMP quit, then a kill.
func (d *DUT) stop(r *running) {
	if r.cmd == nil {
		return
	}
	select {
	case <-r.ready:
		if r.qmp != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			r.qmp.Execute(ctx, "quit", nil, nil)
			cancel()
		}
	default: // still starting: no QMP to ask
		r.cmd.Process.Kill()
	}
	select {
	case <-r.exited:
		return
	case <-time.After(3 * time.Second):
	}
	r.cmd.Process.Kill()
	<-r.exited
}

// Off implements dut.Power: a hard power cut.
func (d *DUT) Off(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("qemukit: power off: %w", err)
	}
	d.mu.Lock()
	r := d.run
	d.run = nil
	w := d.dropWarm()
	d.mu.Unlock()
	if w != nil {
		d.stop(w)
		w.cleanup()
	}
	if r == nil {
		return nil
	}
	d.stop(r)
	r.cleanup()
	d.log.Info("powered off")
	return nil
}

// State implements dut.Power.
func (d *DUT) State(ctx context.Context) (dut.PowerState, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("qemukit: power state: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.run != nil && d.run.alive() {
		return dut.PowerOn, nil
	}
	return dut.PowerOff, nil
}

// Close powers the DUT off and closes its log.
func (d *DUT) Close() error {
	d.Off(context.Background())
	return d.serialLog.Close()
}

// Write implements dut.Console.
func (d *DUT) Write(p []byte) (int, error) {
	d.mu.Lock()
	r := d.run
	d.mu.Unlock()
	if r == nil || r.port == nil {
		return 0, errors.New("qemukit: the DUT is powered off; its console is dead")
	}
	return r.port.Write(p)
}

// Log implements dut.Console.
func (d *DUT) Log() *dut.Capture { return &d.console }

// Address implements dut.Network.
func (d *DUT) Address(ctx context.Context) (dut.Address, error) {
	if err := ctx.Err(); err != nil {
		return dut.Address{}, fmt.Errorf("qemukit: address: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.run == nil {
		return dut.Address{}, errors.New("qemukit: the DUT is powered off; it has no address")
	}
	return dut.Address{IP: GuestIP, Gateway: GatewayIP, SSH: net.JoinHostPort("127.0.0.1", strconv.Itoa(d.run.sshPort))}, nil
}

// netdev is the user-networking backend's option string.
func (d *DUT) netdev(r *running) string {
	nd := fmt.Sprintf("user,id=net0,hostfwd=tcp:127.0.0.1:%d-:%d", r.sshPort, d.cfg.SSHPort)
	if d.cfg.Isolated {
		nd += ",restrict=on"
	}
	return nd
}

// DialPort implements dut.PortDialer: it connects to the guest's port
// through a user-networking forward on the host's loopback, added through
// QMP on first use (the forwards live as long as the QEMU process). Note
// that user networking accepts the host side of a forward even when nothing
// listens in the guest, and then closes it: callers that need to know
// whether the port is open ask the guest first (the worker does, over SSH).
func (d *DUT) DialPort(ctx context.Context, port int) (net.Conn, error) {
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("qemukit: port %d: want 1 to 65535", port)
	}
	r, err := d.running()
	if err != nil {
		return nil, err
	}
	host, err := r.forward(ctx, port)
	if err != nil {
		return nil, err
	}
	var nd net.Dialer
	c, err := nd.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(host)))
	if err != nil {
		return nil, fmt.Errorf("qemukit: connecting to guest port %d: %w", port, err)
	}
	return c, nil
}

// forward returns the host port forwarded to guest port, adding the
// forward when there is none.
func (r *running) forward(ctx context.Context, guest int) (int, error) {
	r.fwdMu.Lock()
	defer r.fwdMu.Unlock()
	if h, ok := r.fwd[guest]; ok {
		return h, nil
	}
	var last error
	for range 3 { // a port found free may be taken before QEMU binds it
		h, err := freePort()
		if err != nil {
			return 0, fmt.Errorf("qemukit: %w", err)
		}
		var out string
		cmd := fmt.Sprintf("hostfwd_add net0 tcp:127.0.0.1:%d-:%d", h, guest)
		if err := r.qmp.Execute(ctx, "human-monitor-command", map[string]string{"command-line": cmd}, &out); err != nil {
			return 0, fmt.Errorf("qemukit: forwarding guest port %d: %w", guest, err)
		}
		if out = strings.TrimSpace(out); out != "" {
			last = fmt.Errorf("qemukit: forwarding guest port %d: %s", guest, out)
			continue
		}
		if r.fwd == nil {
			r.fwd = map[int]int{}
		}
		r.fwd[guest] = h
		return h, nil
	}
	return 0, last
}

// Screenshot implements dut.Screen.
func (d *DUT) Screenshot(ctx context.Context) ([]byte, error) {
	r, err := d.running()
	if err != nil {
		return nil, err
	}
	f := filepath.Join(r.sockDir, "screen.png")
	defer os.Remove(f)
	if err := r.qmp.Execute(ctx, "screendump", map[string]string{"filename": f, "format": "png"}, nil); err != nil {
		return nil, fmt.Errorf("qemukit: screenshot: %w", err)
	}
	return os.ReadFile(f)
}

// Press implements dut.Keyboard.
func (d *DUT) Press(ctx context.Context, chord ...string) error {
	if len(chord) == 0 {
		return errors.New("qemukit: no keys to press")
	}
	r, err := d.running()
	if err != nil {
		return err
	}
	type key struct {
		Type string `json:"type"`
		Data string `json:"data"`
	}
	keys := make([]key, len(chord))
	for i, k := range chord {
		keys[i] = key{"qcode", k}
	}
	if err := r.qmp.Execute(ctx, "send-key", map[string]any{"keys": keys}, nil); err != nil {
		return fmt.Errorf("qemukit: pressing %s: %w", strings.Join(chord, "+"), err)
	}
	return nil
}

func (d *DUT) running() (*running, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.run == nil {
		return nil, errors.New("qemukit: the DUT is powered off")
	}
	return d.run, nil
}

// Open implements dut.Storage. The disk file is emptied: the target reads
// back zeros, so writers may skip zero blocks.
func (d *DUT) Open(ctx context.Context) (dut.Target, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.run != nil {
		return nil, dut.ErrPoweredOn
	}
	if d.flashing {
		return nil, errors.New("qemukit: the disk is already open for flashing")
	}
	f, err := os.OpenFile(d.DiskPath(), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("qemukit: opening the disk: %w", err)
	}
	// Emptied in place: cut to nothing, then back to the disk's size, so
	// that the file has that size from here on, for a QEMU started now.
	if err := errors.Join(f.Truncate(0), f.Truncate(d.cfg.DiskSize)); err != nil {
		f.Close()
		return nil, fmt.Errorf("qemukit: emptying the disk: %w", err)
	}
	d.flashing = true
	d.warmUp()
	return &disk{File: f, d: d}, nil
}

// disk is the opened disk file; Close sizes it like an SD card and hands
// it back to the DUT.
type disk struct {
	*os.File
	d *DUT
}

// OSFile is the disk file, for code that edits the image in place.
func (k *disk) OSFile() *os.File { return k.File }

// Zeroed implements dut.Zeroed.
func (*disk) Zeroed() bool { return true }

// Capacity is the disk's size: the image pipeline stops an image that
// expands past it.
func (k *disk) Capacity() int64 { return k.d.cfg.DiskSize }

// WriteAt refuses to write past the end of the DUT's disk, so an image
// that is too large fails at once instead of after it is all written.
func (k *disk) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > k.d.cfg.DiskSize {
		return 0, fmt.Errorf("qemukit: the image is larger than the DUT's disk (%d bytes); give the DUT a larger disk", k.d.cfg.DiskSize)
	}
	return k.File.WriteAt(p, off)
}

// Sync does not flush the disk file to stable storage: QEMU reads it
// through the same page cache, and a virtual DUT's disk need not outlive
// the host (the next flash rewrites it anyway). An fsync here only made
// the flash wait for the host's disk.
func (k *disk) Sync() error { return nil }

func (k *disk) Close() error {
	defer func() {
		k.d.mu.Lock()
		k.d.flashing = false
		k.d.mu.Unlock()
	}()
	err := k.File.Truncate(k.d.cfg.DiskSize)
	if cerr := k.File.Close(); err == nil {
		err = cerr
	}
	return err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("qemukit: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var _ io.Closer = (*disk)(nil)
