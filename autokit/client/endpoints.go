package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/internal/ctxtime"
	"github.com/balena/leviathan-action/internal/syncio"
)

// Health reports the worker's and the DUT's state.
func (c *Client) Health(ctx context.Context) (api.Health, error) {
	var h api.Health
	err := c.call(ctx, request{method: "GET", path: api.PathHealth}, &h)
	return h, err
}

// Contract reports what the DUT offers.
func (c *Client) Contract(ctx context.Context) (api.Contract, error) {
	var ct api.Contract
	err := c.call(ctx, request{method: "GET", path: api.PathDUT}, &ct)
	return ct, err
}

// Lease takes the DUT for owner for ttl (renewed by Heartbeat or
// KeepAlive). The client then sends the lease on every request that
// changes the DUT. A DUT leased by someone else gives an *Error with
// status 409 naming the holder.
func (c *Client) Lease(ctx context.Context, owner string, ttl time.Duration) (*api.Lease, error) {
	var l api.Lease
	err := c.call(ctx, request{method: "POST", path: api.PathLease,
		body: jsonBody(api.LeaseRequest{Owner: owner, TTLSeconds: ttl.Seconds()})}, &l)
	if err != nil {
		return nil, err
	}
	c.SetLease(l.ID)
	return &l, nil
}

// Heartbeat renews lease id for another TTL. An unknown or expired lease
// gives an *Error with status 404.
func (c *Client) Heartbeat(ctx context.Context, id string) (*api.Lease, error) {
	var l api.Lease
	if err := c.call(ctx, request{method: "POST", path: api.HeartbeatPath(id)}, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// Release ends lease id and powers the DUT off.
func (c *Client) Release(ctx context.Context, id string) error {
	err := c.call(ctx, request{method: "DELETE", path: api.LeasePath(id)}, nil)
	if err == nil {
		c.mu.Lock()
		if c.lease == id {
			c.lease = ""
		}
		c.mu.Unlock()
	}
	return err
}

// KeepAlive heartbeats lease every interval (a third of the lease's
// remaining time when interval is 0) in a goroutine until ctx ends. The
// returned channel gets the error that stopped it early — the lease was
// lost (an *Error with code api.CodeLeaseUnknown, or api.CodeUnauthorized
// when the client authenticates with the lease itself) — and is closed
// when KeepAlive stops. Other failures (a worker briefly unreachable) are
// retried at the next tick. Intervals are measured by the client's clock
// (WithClock).
func (c *Client) KeepAlive(ctx context.Context, lease *api.Lease, interval time.Duration) <-chan error {
	if interval <= 0 {
		interval = max(lease.Expires.Sub(c.clock.Now())/3, 100*time.Millisecond)
	}
	errc := make(chan error, 1)
	go func() {
		defer close(errc)
		for ctxtime.WaitFor(c.clock, interval, ctx.Done()) {
			_, err := c.Heartbeat(ctx, lease.ID)
			if c.leaseLost(err) {
				errc <- err
				return
			}
		}
	}()
	return errc
}

// leaseLost reports whether a heartbeat's err says the lease is gone: the
// worker does not know it, or (for a client whose only credential is the
// lease) no longer accepts it. An answer without a code (a worker older
// than the codes) is judged by its status.
func (c *Client) leaseLost(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	unknown, refused := e.Code == api.CodeLeaseUnknown, e.Code == api.CodeUnauthorized
	if e.Code == "" {
		unknown, refused = e.Status == http.StatusNotFound, e.Status == http.StatusUnauthorized
	}
	return unknown || refused && c.token == ""
}

// PowerOn powers the DUT on (lease needed).
func (c *Client) PowerOn(ctx context.Context) error {
	return c.call(ctx, request{method: "POST", path: api.PathPowerOn, leased: true}, nil)
}

// PowerOff powers the DUT off and closes SSH (lease needed).
func (c *Client) PowerOff(ctx context.Context) error {
	return c.call(ctx, request{method: "POST", path: api.PathPowerOff, leased: true}, nil)
}

// PowerState reports whether the DUT is powered.
func (c *Client) PowerState(ctx context.Context) (dut.PowerState, error) {
	var ps api.PowerStatus
	err := c.call(ctx, request{method: "GET", path: api.PathPower}, &ps)
	return ps.State, err
}

// Flash streams the image in r (raw or compressed; size bytes when known,
// else 0) to the DUT's storage (lease needed; the DUT must be off).
// sha256, when not empty, is the hex SHA-256 of the decompressed image;
// a mismatch fails the flash with status 422. progress (may be nil) gets
// the bytes sent so far. When the worker refuses the image and drops the
// connection before the upload is all sent, Flash asks GET /v1/flash why
// and returns the recorded failure as an *Error with status 422.
func (c *Client) Flash(ctx context.Context, r io.Reader, size int64, sha256 string, progress func(sent int64)) (api.FlashResult, error) {
	return c.FlashWith(ctx, r, size, api.FlashOptions{SHA256: sha256}, progress)
}

// FlashWith is Flash with every option: verification can be skipped, a
// delta flash asked for, or a cached image named. With o.Cached and
// o.SHA256, a cached upload the worker knows to decompress to another
// image is refused with status 422 before the medium is touched.
func (c *Client) FlashWith(ctx context.Context, r io.Reader, size int64, o api.FlashOptions, progress func(sent int64)) (api.FlashResult, error) {
	q := url.Values{}
	if o.SHA256 != "" {
		q.Set(api.QuerySHA256, o.SHA256)
	}
	if o.NoVerify {
		q.Set(api.QueryVerify, "0")
	}
	if o.Delta {
		q.Set(api.QueryDelta, "1")
	}
	if o.Cached != "" {
		q.Set(api.QueryCached, o.Cached)
		r, size = http.NoBody, 0
	}
	var headers map[string]string
	if o.Encoding != "" {
		headers = map[string]string{"Content-Encoding": o.Encoding}
	}
	if o.ImageSize > 0 {
		q.Set(api.QuerySize, strconv.FormatInt(o.ImageSize, 10))
	}
	if o.NoDigest {
		q.Set(api.QueryDigest, "0")
	}
	body := &countingReader{r: r, progress: progress}
	var res api.FlashResult
	err := c.call(ctx, request{method: "PUT", path: api.PathFlash, query: q, body: body,
		ctype: api.ContentTypeBinary, size: size, leased: true, expect: true, headers: headers}, &res)
	var e *Error
	var u *UnreachableError
	if err != nil && !errors.As(err, &e) && !errors.As(err, &u) && ctx.Err() == nil {
		// The worker may have refused the image and closed the
		// connection while the upload was still being sent: ask it why.
		if st, serr := c.FlashStatus(ctx); serr == nil && st.State == api.FlashFailed {
			return res, &Error{Status: http.StatusUnprocessableEntity, Code: st.ErrorCode, Message: st.Error, Method: "PUT", Path: api.PathFlash}
		}
	}
	return res, err
}

// countingReader reports how much of the upload was read.
type countingReader struct {
	r        io.Reader
	n        int64
	progress func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		if c.progress != nil {
			c.progress(c.n)
		}
	}
	return n, err
}

// CachedImage reports whether the worker's cache holds the image whose
// upload has SHA-256 sum; ok is false when it does not.
func (c *Client) CachedImage(ctx context.Context, sum string) (api.CachedImage, bool, error) {
	var ci api.CachedImage
	err := c.call(ctx, request{method: "GET", path: api.ImagePath(sum)}, &ci)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusNotFound {
		return ci, false, nil
	}
	return ci, err == nil, err
}

// FlashStatus reports the current or last flash: while flashing, its
// progress (done and read bytes, the upload's total, MB/s and an ETA in
// seconds); afterwards its result or error, and whether the medium was
// left dirty by a flash that failed after writing started.
func (c *Client) FlashStatus(ctx context.Context) (api.FlashStatus, error) {
	var st api.FlashStatus
	err := c.call(ctx, request{method: "GET", path: api.PathFlash}, &st)
	return st, err
}

// SerialLog returns the console output captured from offset on, and the
// offset just past it (to pass to the next call).
func (c *Client) SerialLog(ctx context.Context, offset int64) ([]byte, int64, error) {
	q := url.Values{api.QueryOffset: {strconv.FormatInt(offset, 10)}}
	req := request{method: "GET", path: api.PathSerial, query: q}
	resp, err := c.do(ctx, req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	p, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("client: GET %s: %w", api.PathSerial, err)
	}
	end, err := strconv.ParseInt(resp.Header.Get(api.HeaderSerialEnd), 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("client: GET %s: bad %s header: %w", api.PathSerial, api.HeaderSerialEnd, err)
	}
	return p, end, nil
}

// FollowSerial copies console output from offset on to w as it arrives,
// until ctx ends (it then returns ctx's error) or the stream breaks.
func (c *Client) FollowSerial(ctx context.Context, offset int64, w io.Writer) error {
	q := url.Values{api.QueryOffset: {strconv.FormatInt(offset, 10)}, api.QueryFollow: {"1"}}
	resp, err := c.do(ctx, request{method: "GET", path: api.PathSerial, query: q})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("client: following the serial console: %w", err)
}

// SerialWrite sends p to the console's input (lease needed).
func (c *Client) SerialWrite(ctx context.Context, p []byte) error {
	return c.call(ctx, request{method: "POST", path: api.PathSerialWrite, body: bytes.NewReader(p),
		ctype: api.ContentTypeBinary, leased: true}, nil)
}

// Expect waits until console output from offset on matches the Go regular
// expression pattern, for at most timeout (the worker's default when 0).
// On timeout the *Error (status 504) carries the last console lines.
func (c *Client) Expect(ctx context.Context, pattern string, offset int64, timeout time.Duration) (api.ExpectResult, error) {
	var res api.ExpectResult
	err := c.call(ctx, request{method: "POST", path: api.PathSerialExpect,
		body: jsonBody(api.ExpectRequest{Pattern: pattern, Offset: offset, TimeoutSeconds: timeout.Seconds()})}, &res)
	return res, err
}

// Exec runs cmd on the DUT over SSH (lease needed), streaming its output
// to stdout and stderr (either may be nil), and returns its exit status.
// A non-zero status is not an error. ctx's deadline, if any, becomes the
// command's timeout.
func (c *Client) Exec(ctx context.Context, cmd string, stdout, stderr io.Writer) (int, error) {
	return c.ExecWith(ctx, api.ExecRequest{Command: cmd}, stdout, stderr)
}

// ExecWith is Exec with every field of the request (timeout, stdin). A
// zero TimeoutSeconds takes ctx's deadline, if any.
func (c *Client) ExecWith(ctx context.Context, req api.ExecRequest, stdout, stderr io.Writer) (int, error) {
	if dl, ok := ctx.Deadline(); ok && req.TimeoutSeconds == 0 {
		req.TimeoutSeconds = max(time.Until(dl).Seconds(), 0.001)
	}
	resp, err := c.do(ctx, request{method: "POST", path: api.PathExec, body: jsonBody(req), leased: true})
	if err != nil {
		return -1, err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var f api.ExecFrame
		if err := dec.Decode(&f); err != nil {
			if ctx.Err() != nil {
				return -1, fmt.Errorf("client: exec %q: %w", req.Command, ctx.Err())
			}
			if errors.Is(err, io.EOF) {
				err = errors.New("the stream ended without an exit code")
			}
			return -1, fmt.Errorf("client: exec %q: %w", req.Command, err)
		}
		switch {
		case f.Error != "":
			return -1, &ExecError{Command: req.Command, Message: f.Error}
		case f.ExitCode != nil:
			return *f.ExitCode, nil
		}
		w := stdout
		if f.Stream == api.StreamStderr {
			w = stderr
		}
		if w != nil {
			if _, err := w.Write(f.Data); err != nil {
				return -1, fmt.Errorf("client: exec %q: writing %s: %w", req.Command, f.Stream, err)
			}
		}
	}
}

// ExecError is returned when a command started but did not finish: it
// timed out, or the connection to the DUT dropped.
type ExecError struct {
	Command string
	Message string // the worker's explanation
}

// Error implements error.
func (e *ExecError) Error() string {
	return fmt.Sprintf("client: exec %q: %s", e.Command, e.Message)
}

// ExitError is returned by ExecOutput and ExecCombined when the command
// exits with a non-zero status; it carries the output as evidence.
type ExitError struct {
	Command  string
	ExitCode int
	Stdout   string
	Stderr   string // or the combined output, for ExecCombined
}

// Error implements error.
func (e *ExitError) Error() string {
	msg := fmt.Sprintf("client: %q exited with status %d", e.Command, e.ExitCode)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

// ExecOutput runs cmd and returns its standard output and error. A
// non-zero exit status gives an *ExitError along with the output.
func (c *Client) ExecOutput(ctx context.Context, cmd string) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	code, err := c.Exec(ctx, cmd, &o, &e)
	if err == nil && code != 0 {
		err = &ExitError{Command: cmd, ExitCode: code, Stdout: o.String(), Stderr: e.String()}
	}
	return o.String(), e.String(), err
}

// ExecCombined runs cmd and returns its standard output and error
// interleaved as they came. A non-zero exit status gives an *ExitError
// along with the output.
func (c *Client) ExecCombined(ctx context.Context, cmd string) (string, error) {
	var b syncio.Buffer
	code, err := c.Exec(ctx, cmd, &b, &b)
	if err == nil && code != 0 {
		err = &ExitError{Command: cmd, ExitCode: code, Stderr: b.String()}
	}
	return b.String(), err
}

// WaitOnline waits until the DUT runs a command over SSH, for at most
// timeout (the worker's default when 0), and returns how long it took
// (lease needed). A kernel panic on the console fails at once (*Error
// with status 502); a timeout gives status 504. Both carry the last
// console lines.
func (c *Client) WaitOnline(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	var res api.WaitOnlineResult
	err := c.call(ctx, request{method: "POST", path: api.PathWaitOnline, leased: true,
		body: jsonBody(api.WaitOnlineRequest{TimeoutSeconds: timeout.Seconds()})}, &res)
	return api.Duration(res.Seconds), err
}

// Address reports how to reach the DUT on its network.
func (c *Client) Address(ctx context.Context) (dut.Address, error) {
	var a dut.Address
	err := c.call(ctx, request{method: "GET", path: api.PathAddress}, &a)
	return a, err
}

// Screenshot returns the DUT's screen as a PNG. A DUT without a screen
// gives an *Error with status 501.
func (c *Client) Screenshot(ctx context.Context) ([]byte, error) {
	resp, err := c.do(ctx, request{method: "GET", path: api.PathScreen})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	p, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("client: GET %s: %w", api.PathScreen, err)
	}
	return p, nil
}

// Press presses keys together on the DUT's keyboard and releases them
// (lease needed).
func (c *Client) Press(ctx context.Context, keys ...string) error {
	return c.call(ctx, request{method: "POST", path: api.PathKeyboard, leased: true,
		body: jsonBody(api.KeyboardRequest{Keys: keys})}, nil)
}

// Teardown powers the DUT off, closes SSH and releases the client's lease.
func (c *Client) Teardown(ctx context.Context) error {
	err := c.call(ctx, request{method: "POST", path: api.PathTeardown, leased: true}, nil)
	if err == nil {
		c.SetLease("")
	}
	return err
}
