package worker

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/image/cache"
	"github.com/balena/leviathan-action/autokit/procedure"
	"github.com/balena/leviathan-action/autokit/provision"
	"github.com/balena/leviathan-action/autokit/sshexec"
	"github.com/balena/leviathan-action/internal/ctxtime"
)

// KernelPanic is the console pattern that always fails a wait for the DUT
// to come online.
const KernelPanic = `Kernel panic`

// DefaultLeaseCheckInterval is how often expired leases are reaped.
const DefaultLeaseCheckInterval = 5 * time.Second

// DefaultMaxLeaseTTL is the longest a lease may live between heartbeats
// unless WithMaxLeaseTTL says otherwise.
const DefaultMaxLeaseTTL = 30 * time.Minute

// ProvisionFunc writes the worker's settings (config.json with the SSH
// public key, hostname…) into a freshly flashed image. It gets the flash
// target still open; it must not close it. An error wrapping
// errors.ErrUnsupported (an image with nowhere to put the settings) is
// logged and the flash still succeeds; any other error fails the flash.
type ProvisionFunc func(ctx context.Context, t dut.Target) error

// Worker serves the worker API for one DUT. Create it with New, serve
// Handler, and Close it when done.
type Worker struct {
	d          dut.DUT
	log        *slog.Logger
	token      string
	signer     ssh.Signer
	provision  ProvisionFunc
	hostname   string
	leaseEvery time.Duration
	maxTTL     time.Duration
	fatal      []string
	fatalRE    *regexp.Regexp
	pool       *sshexec.Pool
	images     *cache.Cache // uploads kept by SHA-256; nil for none
	leaseEnd   LeaseEndFunc
	proc       *procedure.Procedure
	procDevs   procedure.Devices
	clock      Clock
	started    time.Time
	handler    http.Handler

	// transMu serialises lease transitions that have side effects
	// (granting, releasing, reaping), so that powering off for an old
	// lease never hits the DUT of the next one.
	transMu sync.Mutex

	mu         sync.Mutex
	lease      *lease
	flashing   bool
	flash      api.FlashStatus // State, Error, Result; DoneBytes in flashDone
	bootOffset int64           // console offset at the last power-on, -1 if none

	stats api.Stats

	tr        Testrunner
	trDir     string
	trImages  []string // guarded by mu
	trRunning bool     // guarded by mu

	trUploadMu    sync.Mutex // held during a suite upload
	trUploadLimit int64

	tunMu     sync.Mutex
	tunnels   map[net.Conn]struct{} // open tunnels' DUT ends
	listeners map[string]*dutListener

	flashMu   sync.Mutex // held during a flash
	flashDone atomic.Int64

	rec        atomic.Pointer[recording] // the live lease's session recording
	sessionMax int64                     // its bound; 0 for session.DefaultMaxBytes

	stop      chan struct{}
	loopDone  chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// lease is the one live lease.
type lease struct {
	id      string
	owner   string
	ttl     time.Duration
	expires time.Time
	// consoleStart is the console's length when the lease was granted:
	// the lease's token reads nothing before it.
	consoleStart int64
	// consoleEnd is the console's length when the lease ended, written
	// before done is closed: what the lease's token started reads nothing
	// after it.
	consoleEnd int64
	// files is the lease's private directory (uploaded suites, reports);
	// "" until used.
	files string
	// done is closed when the lease ends, ending what its token started.
	done chan struct{}
}

func (l *lease) api() api.Lease { return api.Lease{ID: l.id, Owner: l.owner, Expires: l.expires} }

// LeaseEndFunc is called after a lease ended and the DUT was powered off.
// Reason is "released", "teardown" or "expired" (no heartbeat: the job
// holding it died). It runs on the worker's goroutine with a bounded
// context; the next lease is granted only after it returns.
type LeaseEndFunc func(ctx context.Context, l api.Lease, reason string)

// Option configures a Worker.
type Option func(*Worker)

// WithToken requires "Authorization: Bearer <token>" on every request.
func WithToken(token string) Option { return func(w *Worker) { w.token = token } }

// WithLogger sends the worker's logs to log; the worker is silent without
// one.
func WithLogger(log *slog.Logger) Option {
	return func(w *Worker) {
		if log != nil {
			w.log = log
		}
	}
}

// WithSigner sets the key the worker logs in to the DUT with. Without it
// the worker generates an ed25519 key; see PublicKey.
func WithSigner(s ssh.Signer) Option { return func(w *Worker) { w.signer = s } }

// WithProvision sets the hook run on the flash target after every
// successful flash, before the target is closed.
func WithProvision(f ProvisionFunc) Option { return func(w *Worker) { w.provision = f } }

// WithHostname sets the hostname the worker provisions, as reported in the
// DUT's contract.
func WithHostname(h string) Option { return func(w *Worker) { w.hostname = h } }

// WithIdentity is how a testbot's worker provisions the DUT it flashes: a
// config.json on the boot partition (package provision) giving the DUT
// hostname and authorising signer's public key, the key the worker then
// logs in with (WithHostname, WithSigner, WithProvision together).
func WithIdentity(hostname string, signer ssh.Signer) Option {
	pub := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	return func(w *Worker) {
		w.hostname, w.signer = hostname, signer
		w.provision = provision.ConfigJSON(hostname, pub)
	}
}

// WithLeaseCheckInterval sets how often expired leases are reaped
// (DefaultLeaseCheckInterval by default).
func WithLeaseCheckInterval(d time.Duration) Option {
	return func(w *Worker) { w.leaseEvery = d }
}

// WithMaxLeaseTTL caps how long a lease lives between heartbeats
// (DefaultMaxLeaseTTL by default): a request for a longer TTL is refused,
// so no holder can keep the DUT beyond the cap without heartbeats.
func WithMaxLeaseTTL(d time.Duration) Option { return func(w *Worker) { w.maxTTL = d } }

// WithImageCache keeps every uploaded image in c, keyed by the SHA-256 of
// the upload, so a later flash of the same image need not cross the
// network again (PUT /v1/flash?cached=<sha256>).
func WithImageCache(c *cache.Cache) Option { return func(w *Worker) { w.images = c } }

// WithLeaseEnd calls f after every lease ends, to clean up what the job
// left behind (its containers, its files).
func WithLeaseEnd(f LeaseEndFunc) Option { return func(w *Worker) { w.leaseEnd = f } }

// WithProcedure makes every flash run p, the device type's flashing
// procedure (an SD card through the mux, a flasher image that installs
// itself and powers off, USB boot), instead of writing the DUT's storage
// directly. The procedure's flash step writes the upload through the
// worker's pipeline. devs supplies what the DUT itself cannot (a storage
// mux for mux-host/mux-dut, a carrier reader, a runner for the usb-boot
// tool); its Power, Storage, Console and Relay default to the DUT's own
// capabilities, and Flash and Logger are set by the worker.
func WithProcedure(p *procedure.Procedure, devs procedure.Devices) Option {
	return func(w *Worker) { w.proc, w.procDevs = p, devs }
}

// WithFatalPatterns adds Go regular expressions that, printed on the
// console while waiting for the DUT to come online, fail the wait at once.
// KernelPanic is always one of them.
func WithFatalPatterns(patterns ...string) Option {
	return func(w *Worker) { w.fatal = append(w.fatal, patterns...) }
}

// New returns a Worker for d and starts its lease reaper.
func New(d dut.DUT, opts ...Option) (*Worker, error) {
	if d == nil {
		return nil, errors.New("worker: no DUT")
	}
	w := &Worker{
		d:             d,
		log:           slog.New(slog.DiscardHandler),
		leaseEvery:    DefaultLeaseCheckInterval,
		maxTTL:        DefaultMaxLeaseTTL,
		trUploadLimit: DefaultSuiteUploadLimit,
		fatal:         []string{KernelPanic},
		clock:         ctxtime.System,
		bootOffset:    -1,
		flash:         api.FlashStatus{State: api.FlashIdle},
		stop:          make(chan struct{}),
		loopDone:      make(chan struct{}),
	}
	for _, o := range opts {
		o(w)
	}
	if w.maxTTL <= 0 {
		return nil, fmt.Errorf("worker: maximum lease TTL %v: must be positive", w.maxTTL)
	}
	if w.leaseEvery <= 0 {
		return nil, fmt.Errorf("worker: lease check interval %v: must be positive", w.leaseEvery)
	}
	alts := make([]string, len(w.fatal))
	for i, p := range w.fatal {
		if _, err := regexp.Compile(p); err != nil {
			return nil, fmt.Errorf("worker: fatal console pattern %q: %w", p, err)
		}
		alts[i] = "(?:" + p + ")"
	}
	w.fatalRE = regexp.MustCompile(strings.Join(alts, "|"))
	if w.signer == nil {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("worker: generating an SSH key: %w", err)
		}
		if w.signer, err = ssh.NewSignerFromKey(priv); err != nil {
			return nil, fmt.Errorf("worker: generating an SSH key: %w", err)
		}
	}
	w.started = w.clock.Now()
	w.pool = sshexec.NewPool(w.signer, sshexec.WithLogger(w.log))
	w.handler = w.routes()
	go w.leaseLoop()
	return w, nil
}

// PublicKey is the worker's SSH public key in authorized_keys format, to
// be provisioned into images.
func (w *Worker) PublicKey() string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(w.signer.PublicKey())))
}

// Hostname is the hostname set with WithHostname.
func (w *Worker) Hostname() string { return w.hostname }

// Handler serves the worker API.
func (w *Worker) Handler() http.Handler { return w.handler }

// Close stops the lease reaper, closes SSH and powers the DUT off. Later
// calls return the first call's result.
func (w *Worker) Close(ctx context.Context) error {
	w.closeOnce.Do(func() {
		close(w.stop)
		<-w.loopDone
		w.stopRecording(nil)
		w.closeTunnels()
		w.pool.Close()
		if err := w.d.Off(ctx); err != nil {
			w.closeErr = fmt.Errorf("worker: powering the DUT off: %w", err)
		}
		w.log.Info("worker closed", "dut", w.d.Name())
	})
	return w.closeErr
}

// powerOff closes SSH and cuts the DUT's power. It finishes even when the
// client that asked goes away (ctx cancelled): a DUT left on is worse than
// a late answer.
func (w *Worker) powerOff(ctx context.Context) error {
	w.closeTunnels()
	w.pool.Reset()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reapTimeout)
	defer cancel()
	if err := w.d.Off(ctx); err != nil {
		return fmt.Errorf("worker: powering the DUT off: %w", err)
	}
	w.recordPower(false)
	return nil
}
