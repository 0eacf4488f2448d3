package api

import (
	"net/url"
	"time"

	"github.com/balena/leviathan-action/autokit/dut"
)

// Paths of the endpoints. Those with a {id} segment are http.ServeMux
// patterns; build concrete paths with LeasePath and HeartbeatPath.
const (
	PathHealth       = "/v1/health"
	PathDUT          = "/v1/dut"
	PathLease        = "/v1/lease"
	PathLeaseID      = "/v1/lease/{id}"
	PathHeartbeat    = "/v1/lease/{id}/heartbeat"
	PathPower        = "/v1/power"
	PathPowerOn      = "/v1/power/on"
	PathPowerOff     = "/v1/power/off"
	PathFlash        = "/v1/flash"
	PathSerial       = "/v1/serial"
	PathSerialWrite  = "/v1/serial/write"
	PathSerialExpect = "/v1/serial/expect"
	PathExec         = "/v1/exec"
	PathWaitOnline   = "/v1/wait-online"
	PathAddress      = "/v1/network/address"
	PathScreen       = "/v1/screen"
	PathKeyboard     = "/v1/keyboard"
	PathTeardown     = "/v1/teardown"
	PathImage        = "/v1/images/{sha256}"
	PathTunnel       = "/v1/tunnel"
	PathListen       = "/v1/listen"
	PathListenID     = "/v1/listen/{id}"
	// PathSession is the live lease's session recording (package
	// autokit/session), gzip-compressed JSON lines.
	PathSession = "/v1/session"

	PathTestrunner        = "/v1/testrunner"
	PathTestrunnerSuite   = "/v1/testrunner/suites/{name}"
	PathTestrunnerReports = "/v1/testrunner/reports"
	PathTestrunnerPull    = "/v1/testrunner/pull"
)

// TestrunnerSuitePath is where a suite binary named name is uploaded.
func TestrunnerSuitePath(name string) string {
	return "/v1/testrunner/suites/" + url.PathEscape(name)
}

// TestrunnerRequest is the body of POST /v1/testrunner: run the suites in
// the testrunner container, which the worker starts with its own fixed,
// locked-down spec.
type TestrunnerRequest struct {
	// Image is the testrunner image, by digest; it must be one the worker
	// allows (its configured image, or one pulled through
	// PathTestrunnerPull).
	Image string `json:"image"`
	// Suites are built-in suite names (os: the image's /suites/os.test)
	// and names of binaries uploaded to TestrunnerSuitePath, in order.
	Suites []string `json:"suites"`
	// Run selects tests, as go test -run.
	Run string `json:"run,omitempty"`
	// TimeoutSeconds bounds each suite (0: the testrunner's default).
	TimeoutSeconds float64 `json:"timeout_seconds,omitempty"`
	// Env are KEY=VALUE pairs passed to the suites (the job's allowed
	// variables and the suite configuration).
	Env []string `json:"env,omitempty"`
	// RunID and Job label what the worker creates, for cleanup.
	RunID string `json:"run_id,omitempty"`
	Job   string `json:"job,omitempty"`
}

// TestrunnerResult is how the testrunner container ended.
type TestrunnerResult struct {
	ExitCode  int  `json:"exit_code"`
	OOMKilled bool `json:"oom_killed,omitempty"`
	// Infra is set when the run says nothing about the tests: the
	// container was killed, or left no reports.
	Infra string `json:"infra,omitempty"`
	// InfraOutput is the container's last output when Infra is set.
	InfraOutput string `json:"infra_output,omitempty"`
	// HostClosed is false when the worker could not close the testbot's
	// other services to the container (no root, no iptables).
	HostClosed bool    `json:"host_closed"`
	Seconds    float64 `json:"seconds"`
}

// TestrunnerFrame is one line of POST /v1/testrunner's stream: output
// (Stream, Data), then a last frame with Result or Error.
type TestrunnerFrame struct {
	Stream string            `json:"stream,omitempty"`
	Data   []byte            `json:"data,omitempty"`
	Result *TestrunnerResult `json:"result,omitempty"`
	Error  string            `json:"error,omitempty"`
}

// PullRequest is the body of POST /v1/testrunner/pull.
type PullRequest struct {
	// Image is the image to pull, by digest (registry/repo@sha256:…).
	Image string `json:"image"`
}

// ListenPath is the path of the listener with the given id: GET accepts
// one connection from the DUT (an upgrade, like PathTunnel), DELETE
// closes it.
func ListenPath(id string) string { return PathListen + "/" + url.PathEscape(id) }

// Listener answers POST /v1/listen: a port on the DUT's own loopback whose
// connections the worker hands to whoever accepts on the listener.
type Listener struct {
	// ID names the listener in ListenPath.
	ID string `json:"id"`
	// Address is what the DUT connects to (host:port as the DUT sees it),
	// such as 127.0.0.1:38211.
	Address string `json:"address"`
}

// TunnelProtocol is the Upgrade token of GET /v1/tunnel: after the 101
// answer the connection carries the bytes of one TCP connection to a port
// of the leased DUT, both ways.
const TunnelProtocol = "leviathan-tunnel"

// Headers of the API.
const (
	// HeaderLease carries the lease id on every request that changes the
	// DUT.
	HeaderLease = "Leviathan-Lease"
	// HeaderSerialOffset is the console offset the serial log body
	// starts at.
	HeaderSerialOffset = "Leviathan-Serial-Offset"
	// HeaderSerialEnd is the console offset just past the serial log body
	// (only when not following).
	HeaderSerialEnd = "Leviathan-Serial-End"
)

// Content types of the non-JSON bodies.
const (
	ContentTypeJSON   = "application/json"
	ContentTypeNDJSON = "application/x-ndjson"
	ContentTypeText   = "text/plain; charset=utf-8"
	ContentTypeBinary = "application/octet-stream"
	ContentTypePNG    = "image/png"
	// ContentTypeGzip is a session recording (GET /v1/session).
	ContentTypeGzip = "application/gzip"
)

// Query parameters.
const (
	// QueryPort is the DUT's TCP port a tunnel connects to.
	QueryPort = "port"
	// QuerySHA256 is the hex SHA-256 of the decompressed image on a flash.
	// With QueryCached, a cached image known to decompress to another
	// image is refused before the medium is touched.
	QuerySHA256 = "sha256"
	// QueryVerify, set to 0, skips reading the medium back after a flash
	// (verification is on by default).
	QueryVerify = "verify"
	// QueryDelta, set to 1, writes only the blocks that differ from what
	// the medium holds.
	QueryDelta = "delta"
	// QueryCached names, by the SHA-256 of its upload, an image in the
	// worker's cache to flash instead of a request body.
	QueryCached = "cached"
	// QuerySize is the flash upload's size once its Content-Encoding is
	// undone, for progress.
	QuerySize = "size"
	// QueryDigest, set to 0, has a flash not compute the image's SHA-256
	// (the result's sha256 is then empty): the client knows it already.
	// It cannot go with QuerySHA256, which needs it computed.
	QueryDigest = "digest"
	// QueryOffset is the console offset to read the serial log from.
	QueryOffset = "offset"
	// QueryFollow, set to 1, keeps the serial log streaming.
	QueryFollow = "follow"
)

// LeasePath is the path of the lease with the given id.
func LeasePath(id string) string { return PathLease + "/" + url.PathEscape(id) }

// HeartbeatPath is the path that renews the lease with the given id.
func HeartbeatPath(id string) string { return LeasePath(id) + "/heartbeat" }

// Health answers GET /v1/health.
type Health struct {
	// OK is true when the worker can read the DUT's power state.
	OK bool `json:"ok"`
	// Problem says why OK is false.
	Problem string `json:"problem,omitempty"`
	// DUT is the DUT's name.
	DUT string `json:"dut"`
	// Power is the DUT's power state ("" when it could not be read).
	Power dut.PowerState `json:"power"`
	// Leased is true while a live lease holds the DUT.
	Leased bool `json:"leased"`
	// LeaseOwner names the holder of the lease.
	LeaseOwner string `json:"lease_owner,omitempty"`
	// LeaseExpires is when the lease ends unless renewed.
	LeaseExpires *time.Time `json:"lease_expires,omitempty"`
	// Console is true when the DUT has a console and its capture is alive.
	Console bool `json:"console"`
	// UptimeSeconds is how long the worker has been running.
	UptimeSeconds float64 `json:"uptime_seconds"`
	// Stats are the DUT's figures since the worker started.
	Stats Stats `json:"stats"`
}

// Stats are a DUT's health figures since its worker started: what a
// testbot owner watches to spot a failing SD card or a flaky board.
type Stats struct {
	// Flashes and FlashFailures count finished flashes.
	Flashes       int `json:"flashes"`
	FlashFailures int `json:"flash_failures"`
	// LastFlashMBps is the last successful flash's decompressed image
	// size over its duration, in MB/s (10^6 bytes).
	LastFlashMBps float64 `json:"last_flash_mbps,omitempty"`
	// Boots and BootFailures count waits for the DUT to come online.
	Boots        int `json:"boots"`
	BootFailures int `json:"boot_failures"`
	// LastBootSeconds is how long the last successful wait took.
	LastBootSeconds float64 `json:"last_boot_seconds,omitempty"`
	// LeasesExpired counts leases that ended without a heartbeat (a job
	// that died: the dead-man's switch powered the DUT off).
	LeasesExpired int `json:"leases_expired"`
}

// Contract answers GET /v1/dut: what the DUT offers, so suites can skip
// with a reason.
type Contract struct {
	// Name is the DUT's name.
	Name string `json:"name"`
	// Capabilities lists the capability interfaces the DUT implements.
	Capabilities []dut.Capability `json:"capabilities"`
	// Hostname is the hostname the worker provisions into flashed images
	// ("" when it provisions none).
	Hostname string `json:"hostname,omitempty"`
	// SSHUser is the user commands run as.
	SSHUser string `json:"ssh_user"`
}

// LeaseRequest is the body of POST /v1/lease.
type LeaseRequest struct {
	// Owner names who takes the lease (a workflow run, a person).
	Owner string `json:"owner"`
	// TTLSeconds is how long the lease lives without a heartbeat.
	TTLSeconds float64 `json:"ttl_seconds"`
}

// Lease is a granted lease on the DUT.
type Lease struct {
	// ID is the lease's secret id, sent in HeaderLease.
	ID string `json:"id"`
	// Owner names the holder.
	Owner string `json:"owner"`
	// Expires is when the lease ends unless renewed.
	Expires time.Time `json:"expires"`
}

// PowerStatus answers GET /v1/power.
type PowerStatus struct {
	State dut.PowerState `json:"state"`
}

// FlashOptions are the query options of PUT /v1/flash.
type FlashOptions struct {
	// SHA256 is the expected hex SHA-256 of the decompressed image.
	SHA256 string
	// NoVerify skips reading the medium back after writing.
	NoVerify bool
	// Delta writes only the blocks that differ from the medium's.
	Delta bool
	// Cached, when set, flashes the image the worker holds under this
	// upload SHA-256 instead of sending one.
	Cached string
	// Encoding is the upload's content coding (EncodingZstd), which the
	// worker undoes before reading the image; empty when the image is
	// sent as it is.
	Encoding string
	// ImageSize is the image's size once Encoding is undone (0 when
	// unknown); the flash's progress counts against it.
	ImageSize int64
	// NoDigest has the worker not compute the image's SHA-256
	// (FlashResult.SHA256 is then empty), for a client that knows it
	// already; the worker refuses it together with SHA256.
	NoDigest bool
}

// EncodingZstd is the only upload content coding a worker undoes: a
// client may send a raw image file as a zstd frame whose zeros cost next
// to nothing (package image's SparseZstd).
const EncodingZstd = "zstd"

// CachedImage answers GET /v1/images/{sha256}.
type CachedImage struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// ImagePath is the path of the cached image with the given upload SHA-256.
func ImagePath(sum string) string { return "/v1/images/" + url.PathEscape(sum) }

// FlashResult describes a finished flash. It has the fields and JSON names
// of the image pipeline's result.
type FlashResult struct {
	// Format is the container format of the upload (raw, gzip, xz, zstd…).
	Format string `json:"format"`
	// ImageBytes is the decompressed size of the image.
	ImageBytes int64 `json:"image_bytes"`
	// Written is how many bytes were written to the medium.
	Written int64 `json:"written"`
	// Skipped is how many zero bytes were not written.
	Skipped int64 `json:"skipped"`
	// Unchanged is how many bytes a delta flash found already in place.
	Unchanged int64 `json:"unchanged"`
	// Unmapped is how many bytes lay outside a block map's ranges.
	Unmapped int64 `json:"unmapped"`
	// Verified is true when the medium was read back and matched.
	Verified bool `json:"verified"`
	// Direct is true when a block device was written with O_DIRECT.
	Direct bool `json:"direct,omitempty"`
	// VerifyDuration is the read-back's share of Duration.
	VerifyDuration time.Duration `json:"verify_duration"`
	// SHA256 is the hex SHA-256 of the decompressed image.
	SHA256 string `json:"sha256"`
	// Duration is how long the flash took, in nanoseconds on the wire.
	Duration time.Duration `json:"duration"`
}

// Flash states reported by GET /v1/flash.
const (
	FlashIdle     = "idle"
	FlashFlashing = "flashing"
	FlashDone     = "done"
	FlashFailed   = "failed"
)

// FlashStatus answers GET /v1/flash: the current or last flash.
type FlashStatus struct {
	// State is one of FlashIdle, FlashFlashing, FlashDone, FlashFailed.
	State string `json:"state"`
	// DoneBytes is how many decompressed bytes were processed so far.
	DoneBytes int64 `json:"done_bytes"`
	// ReadBytes is how many bytes of the upload (or of the cached image)
	// were read so far: compressed bytes for a compressed image.
	ReadBytes int64 `json:"read_bytes,omitempty"`
	// TotalBytes is the size of the upload (its Content-Length, or the
	// cached image's size), the total ReadBytes grows to; 0 when unknown
	// (a chunked upload).
	TotalBytes int64 `json:"total_bytes,omitempty"`
	// MBps is the rate of DoneBytes over the last few seconds, in MB/s
	// (10^6 bytes), while flashing.
	MBps float64 `json:"mbps,omitempty"`
	// ETASeconds estimates the seconds left until the upload is all read,
	// from the rate ReadBytes grew at over the last few seconds; absent
	// when TotalBytes or the rate is unknown. The read-back that verifies
	// the medium comes on top.
	ETASeconds float64 `json:"eta_seconds,omitempty"`
	// Dirty is true when the last flash that reached the medium failed
	// after writing started: the medium holds no usable image and its
	// partition tables were wiped (unless Error says that failed too). The
	// next successful flash clears it.
	Dirty bool `json:"dirty,omitempty"`
	// Error says why a failed flash failed.
	Error string `json:"error,omitempty"`
	// ErrorCode is the failed flash's kind (as an ErrorBody's Code).
	ErrorCode ErrorCode `json:"error_code,omitempty"`
	// Result is the outcome of a done flash.
	Result *FlashResult `json:"result,omitempty"`
}

// ExpectRequest is the body of POST /v1/serial/expect.
type ExpectRequest struct {
	// Pattern is a Go regular expression.
	Pattern string `json:"pattern"`
	// Offset is the console offset to search from.
	Offset int64 `json:"offset"`
	// TimeoutSeconds bounds the wait; 0 means DefaultExpectTimeout.
	TimeoutSeconds float64 `json:"timeout_seconds"`
}

// ExpectResult answers POST /v1/serial/expect.
type ExpectResult struct {
	// Offset is the console offset just past the match.
	Offset int64 `json:"offset"`
	// Match is the matched text.
	Match string `json:"match"`
}

// ExecRequest is the body of POST /v1/exec.
type ExecRequest struct {
	// Command is run by the DUT's shell.
	Command string `json:"command"`
	// TimeoutSeconds bounds the command; 0 means no limit beyond the
	// request's own lifetime.
	TimeoutSeconds float64 `json:"timeout_seconds,omitempty"`
	// Stdin is fed to the command's standard input.
	Stdin string `json:"stdin,omitempty"`
}

// Exec stream names.
const (
	StreamStdout = "stdout"
	StreamStderr = "stderr"
)

// ExecFrame is one line of the exec stream. Output frames carry Stream and
// Data; the last frame carries either ExitCode or Error.
type ExecFrame struct {
	// Stream is StreamStdout or StreamStderr.
	Stream string `json:"stream,omitempty"`
	// Data is a chunk of output (base64 on the wire).
	Data []byte `json:"data,omitempty"`
	// ExitCode is the command's exit status, on the last frame.
	ExitCode *int `json:"exit_code,omitempty"`
	// Error says why the command did not finish, on the last frame.
	Error string `json:"error,omitempty"`
}

// WaitOnlineRequest is the body of POST /v1/wait-online.
type WaitOnlineRequest struct {
	// TimeoutSeconds bounds the wait; 0 means DefaultWaitOnlineTimeout.
	TimeoutSeconds float64 `json:"timeout_seconds"`
}

// WaitOnlineResult answers POST /v1/wait-online.
type WaitOnlineResult struct {
	// Seconds is how long the worker waited.
	Seconds float64 `json:"seconds"`
}

// KeyboardRequest is the body of POST /v1/keyboard.
type KeyboardRequest struct {
	// Keys are pressed together and released (QEMU QKeyCode names).
	Keys []string `json:"keys"`
}

// Defaults applied when a request leaves a timeout at zero.
const (
	DefaultExpectTimeout     = 30 * time.Second
	DefaultWaitOnlineTimeout = 5 * time.Minute
	DefaultLeaseTTL          = 5 * time.Minute
)

// Duration converts wire seconds to a time.Duration.
func Duration(seconds float64) time.Duration {
	return time.Duration(seconds * float64(time.Second))
}
