package worker_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/duttest"
	"github.com/balena/leviathan-action/autokit/session"
	"github.com/balena/leviathan-action/autokit/worker"
)

// adminToken is the worker's token in the session tests: a secret the
// recording must never hold.
const adminToken = "ADMINTOKEN7Q2WJ4XKZ3"

// fetchSession fetches c's lease's session and reads it, also returning
// the decompressed file.
func fetchSession(t *testing.T, c *client.Client) (*session.Recording, string) {
	t.Helper()
	data, err := c.Session(ctxT(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := session.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return rec, string(raw)
}

// calls returns the recording's calls whose method and path are as
// given.
func calls(rec *session.Recording, method, path string) []*session.Call {
	var cs []*session.Call
	for _, ev := range rec.Events {
		if ev.Call != nil && ev.Call.Method == method && ev.Call.Path == path {
			cs = append(cs, ev.Call)
		}
	}
	return cs
}

// execFrames decodes an exec answer's NDJSON frames.
func execFrames(t *testing.T, p []byte) []api.ExecFrame {
	t.Helper()
	var fs []api.ExecFrame
	sc := bufio.NewScanner(bytes.NewReader(p))
	for sc.Scan() {
		var f api.ExecFrame
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatalf("exec answer line %q: %v", sc.Bytes(), err)
		}
		fs = append(fs, f)
	}
	return fs
}

// holding lists where in rec secret occurs: in the decompressed file, or
// in any bytes it carries (base64 in the file), frames' data included.
func holding(t *testing.T, rec *session.Recording, raw, secret string) []string {
	var where []string
	check := func(what string, p []byte) {
		if bytes.Contains(p, []byte(secret)) {
			where = append(where, what)
		}
	}
	check("the file", []byte(raw))
	for i, ev := range rec.Events {
		check(fmt.Sprintf("event %d data", i), ev.Data)
		check(fmt.Sprintf("event %d what", i), []byte(ev.What))
		if c := ev.Call; c != nil {
			check(fmt.Sprintf("call %d path", c.Seq), []byte(c.Path+"?"+c.Query))
			check(fmt.Sprintf("call %d body", c.Seq), c.Body)
			check(fmt.Sprintf("call %d response", c.Seq), c.Response)
			if strings.HasPrefix(c.ContentType, api.ContentTypeNDJSON) {
				for _, f := range execFrames(t, c.Response) {
					check(fmt.Sprintf("call %d frame data", c.Seq), f.Data)
				}
			}
			for _, ch := range c.Stream {
				check(fmt.Sprintf("call %d chunk", c.Seq), ch.Data)
			}
		}
	}
	return where
}

func TestSessionRecording(t *testing.T) {
	e := newEnv(t, worker.WithToken(adminToken), worker.WithHostname("dut-host"))
	ctx := ctxT(t, 20*time.Second)
	e.d.Print("an earlier job's output\n")
	admin, job, l := e.jobLease(t, adminToken)

	// The lease's calls, by the job and by the admin.
	img := duttest.GPTImage(1 << 20)
	if _, err := job.Flash(ctx, bytes.NewReader(img), int64(len(img)), "", nil); err != nil {
		t.Fatal(err)
	}
	if err := job.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	e.d.Print("boot: hello\nlease " + l.ID + " printed\n")
	e.d.Print("token " + adminToken[:9])
	e.d.Print(adminToken[9:] + " split across two writes\n")
	var out bytes.Buffer
	if code, err := job.Exec(ctx, "echo hello "+l.ID+"; echo second", &out, nil); err != nil || code != 0 {
		t.Fatalf("exec: %d, %v", code, err)
	}
	if _, err := job.Heartbeat(ctx, l.ID); err != nil {
		t.Fatal(err)
	}
	admin.SetLease(l.ID)
	if _, _, err := admin.ExecOutput(ctx, "echo "+adminToken); err != nil {
		t.Fatal(err)
	}
	png, err := job.Screenshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tun, err := job.Dial(ctx, upperEcho(t))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(tun, "ping through the tunnel")
	tun.(interface{ CloseWrite() error }).CloseWrite()
	if b, err := io.ReadAll(tun); err != nil || string(b) != "PING THROUGH THE TUNNEL" {
		t.Fatalf("tunnel read %q, %v", b, err)
	}
	tun.Close()
	e.d.Print("after the tunnel\n")
	if err := job.PowerOff(ctx); err != nil {
		t.Fatal(err)
	}
	console, consoleEnd, err := job.SerialLog(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	consoleOff := consoleEnd - int64(len(console))

	rec, raw := fetchSession(t, job)

	t.Run("header", func(t *testing.T) {
		h := rec.Header
		if h.Version != session.Version || h.DUT != e.d.Name() || h.Worker != "dut-host" || h.ConsoleStart != consoleOff ||
			!strings.Contains(strings.Join(h.Capabilities, ","), "console") || time.Since(h.Started) > time.Minute {
			t.Errorf("header = %+v; want the DUT, the worker's identity, the console's start %d", h, consoleOff)
		}
	})
	t.Run("the lease call first, numbered calls", func(t *testing.T) {
		first := rec.Events[0].Call
		if first == nil || first.Seq != 1 || first.Method != "POST" || first.Path != api.PathLease || first.Status != http.StatusCreated ||
			!bytes.Contains(first.Body, []byte(`"owner"`)) || !bytes.Contains(first.Response, []byte(`"id":"`+session.Redacted+`"`)) {
			t.Fatalf("first event = %+v; want POST /v1/lease, its body, its answer with the id redacted", rec.Events[0])
		}
		seq := 0
		for _, ev := range rec.Events {
			if ev.Call != nil {
				if ev.Call.Seq != seq+1 {
					t.Errorf("call %s %s is number %d after %d", ev.Call.Method, ev.Call.Path, ev.Call.Seq, seq)
				}
				seq = ev.Call.Seq
			}
		}
	})
	t.Run("exec with its body and streamed answer", func(t *testing.T) {
		cs := calls(rec, "POST", api.PathExec)
		if len(cs) != 2 {
			t.Fatalf("%d exec calls, want 2", len(cs))
		}
		c := cs[0]
		var req api.ExecRequest
		if err := json.Unmarshal(c.Body, &req); err != nil || req.Command != "echo hello "+session.Redacted+"; echo second" {
			t.Errorf("exec body %q (%v): want the command with the lease id redacted", c.Body, err)
		}
		var stdout []byte
		var exit *int
		for _, f := range execFrames(t, c.Response) {
			stdout = append(stdout, f.Data...)
			if f.ExitCode != nil {
				exit = f.ExitCode
			}
		}
		if c.Status != 200 || c.ContentType != api.ContentTypeNDJSON || string(stdout) != "hello "+session.Redacted+"\nsecond\n" || exit == nil || *exit != 0 {
			t.Errorf("exec answer %d %q: stdout %q exit %v", c.Status, c.ContentType, stdout, exit)
		}
		if c.Elapsed <= 0 {
			t.Errorf("exec elapsed %v", c.Elapsed)
		}
	})
	t.Run("console matches GET /v1/serial", func(t *testing.T) {
		var got []byte
		next, last := consoleOff, session.Duration(0)
		for _, ev := range rec.Events {
			if ev.Kind != session.KindConsole {
				continue
			}
			if ev.Offset < next || ev.T < last {
				t.Errorf("console event at offset %d, time %v after offset %d, time %v", ev.Offset, ev.T, next, last)
			}
			next, last = ev.Offset+1, ev.T
			got = append(got, ev.Data...)
		}
		want := strings.ReplaceAll(strings.ReplaceAll(string(console), l.ID, session.Redacted), adminToken, session.Redacted)
		if string(got) != want || strings.Contains(want, "earlier job") {
			t.Errorf("console recorded %q\nGET /v1/serial %q", got, want)
		}
	})
	t.Run("power on and off", func(t *testing.T) {
		var whats []string
		for _, ev := range rec.Events {
			if ev.Kind == session.KindPower {
				whats = append(whats, ev.What)
			}
		}
		if strings.Join(whats, " ") != "on off" {
			t.Errorf("power events %q, want on off", whats)
		}
	})
	t.Run("flash", func(t *testing.T) {
		var flash []session.Event
		for _, ev := range rec.Events {
			if ev.Kind == session.KindFlash {
				flash = append(flash, ev)
			}
		}
		if len(flash) < 2 || flash[0].What != session.FlashStart || flash[0].Total != int64(len(img)) {
			t.Fatalf("flash events %+v; want a start with the upload's size", flash)
		}
		if end := flash[len(flash)-1]; end.What != session.FlashDone || end.Bytes != int64(len(img)) || end.Total != int64(len(img)) {
			t.Errorf("last flash event %+v; want done with %d bytes", end, len(img))
		}
		cs := calls(rec, "PUT", api.PathFlash)
		if len(cs) != 1 || cs[0].Body != nil || !cs[0].BodyOmitted || cs[0].BodySize != int64(len(img)) || cs[0].Status != 200 {
			t.Errorf("flash call %+v; want its size only", cs)
		}
	})
	t.Run("screenshot", func(t *testing.T) {
		cs := calls(rec, "GET", api.PathScreen)
		if len(cs) != 1 || cs[0].Response != nil || cs[0].Status != 200 {
			t.Fatalf("screen calls %+v; want one without the PNG", cs)
		}
		var found bool
		for _, ev := range rec.Events {
			if ev.Kind == session.KindScreen {
				found = true
				if ev.Seq != cs[0].Seq || !bytes.Equal(ev.Data, png) {
					t.Errorf("screen event of call %d, %d bytes; want call %d's %d-byte PNG", ev.Seq, len(ev.Data), cs[0].Seq, len(png))
				}
			}
		}
		if !found {
			t.Error("no screen event")
		}
	})
	t.Run("tunnel chunks both ways", func(t *testing.T) {
		cs := calls(rec, "GET", api.PathTunnel)
		if len(cs) != 1 || cs[0].Status != http.StatusSwitchingProtocols {
			t.Fatalf("tunnel calls %+v", cs)
		}
		var up, down []byte
		for _, ch := range cs[0].Stream {
			if ch.FromDUT {
				down = append(down, ch.Data...)
			} else {
				up = append(up, ch.Data...)
			}
		}
		if string(up) != "ping through the tunnel" || string(down) != "PING THROUGH THE TUNNEL" {
			t.Errorf("tunnel recorded %q up, %q down", up, down)
		}
	})
	t.Run("no heartbeats, no session fetch", func(t *testing.T) {
		for _, ev := range rec.Events {
			if c := ev.Call; c != nil && (strings.HasSuffix(c.Path, "/heartbeat") || c.Path == api.PathSession) {
				t.Errorf("recorded %s %s", c.Method, c.Path)
			}
		}
	})
	t.Run("no secret", func(t *testing.T) {
		for _, s := range []string{adminToken, l.ID} {
			if where := holding(t, rec, raw, s); len(where) > 0 {
				t.Errorf("the recording holds %q in %s", s, strings.Join(where, ", "))
			}
		}
	})

	t.Run("who may read it", func(t *testing.T) {
		// The admin reads it with the lease's header; without one it
		// needs a lease.
		if _, err := admin.Session(ctx); err != nil {
			t.Errorf("the admin with the lease header: %v", err)
		}
		_, err := e.client(t, client.WithToken(adminToken)).Session(ctx)
		wantCode(t, err, api.CodeLeaseRequired)

		if err := admin.Release(ctx, l.ID); err != nil {
			t.Fatal(err)
		}
		// The released lease's token is dead; the admin naming it gets
		// 423.
		_, err = job.Session(ctx)
		wantStatus(t, err, http.StatusUnauthorized)
		admin.SetLease(l.ID)
		_, err = admin.Session(ctx)
		wantCode(t, err, api.CodeLeaseStale)

		// The next lease's recording is its own.
		admin2, job2, l2 := e.jobLease(t, adminToken)
		_, err = job.Session(ctx)
		wantStatus(t, err, http.StatusUnauthorized)
		admin2.SetLease(l.ID)
		_, err = admin2.Session(ctx)
		wantCode(t, err, api.CodeLeaseStale)
		rec2, raw2 := fetchSession(t, job2)
		if len(calls(rec2, "POST", api.PathExec)) != 0 || len(calls(rec2, "POST", api.PathLease)) != 1 {
			t.Errorf("the next lease's recording holds the last one's calls:\n%s", raw2)
		}
		if where := holding(t, rec2, raw2, l2.ID); len(where) > 0 {
			t.Errorf("the next recording holds its lease id in %s", strings.Join(where, ", "))
		}
	})
}

func TestSessionListener(t *testing.T) {
	e := newEnv(t, worker.WithToken(adminToken))
	ctx := ctxT(t, 20*time.Second)
	_, job, _ := e.jobLease(t, adminToken)
	if err := job.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	ln, err := job.Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- err
			return
		}
		defer c.Close()
		b := make([]byte, 4)
		if _, err := io.ReadFull(c, b); err != nil || string(b) != "ping" {
			accepted <- fmt.Errorf("the suite read %q, %v", b, err)
			return
		}
		_, err = io.WriteString(c, "pong")
		accepted <- err
	}()
	// The machine playing the DUT connects to the address it was given.
	dc, err := net.DialTimeout("tcp", ln.DUTAddress(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(dc, "ping")
	b := make([]byte, 4)
	if _, err := io.ReadFull(dc, b); err != nil || string(b) != "pong" {
		t.Fatalf("the DUT read %q, %v", b, err)
	}
	dc.Close()
	if err := <-accepted; err != nil {
		t.Fatal(err)
	}
	var up, down []byte
	eventually(t, "the listener's call to end", func() bool {
		rec, _ := fetchSession(t, job)
		for _, ev := range rec.Events {
			if c := ev.Call; c != nil && c.Method == "GET" && strings.HasPrefix(c.Path, api.PathListen+"/") {
				up, down = nil, nil
				for _, ch := range c.Stream {
					if ch.FromDUT {
						down = append(down, ch.Data...)
					} else {
						up = append(up, ch.Data...)
					}
				}
				return c.Status == http.StatusSwitchingProtocols && string(up) == "pong" && string(down) == "ping"
			}
		}
		return false
	})
}

func TestSessionBound(t *testing.T) {
	const bound = 64 << 10
	e := newEnv(t, worker.WithToken(adminToken), worker.WithSessionLimit(bound))
	ctx := ctxT(t, 20*time.Second)
	_, job, _ := e.jobLease(t, adminToken)
	line := strings.Repeat("x", 99) + "\n"
	for range 4 * bound / len(line) {
		e.d.Print(line)
	}
	// A fetch catches the recording up with the console, whatever the
	// follower has read so far: the bound is reached before the call.
	if _, err := job.Session(ctx); err != nil {
		t.Fatal(err)
	}
	if err := job.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	data, err := job.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) >= bound {
		t.Errorf("the recording is %d bytes; want under the bound %d", len(data), bound)
	}
	rec, err := session.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var console, notes int
	for _, ev := range rec.Events {
		switch ev.Kind {
		case session.KindConsole:
			console += len(ev.Data)
		case session.KindNote:
			notes++
			if !strings.Contains(ev.What, "size bound") {
				t.Errorf("note %q", ev.What)
			}
		}
	}
	if console >= bound || console < bound/2 || notes != 1 {
		t.Errorf("%d console bytes and %d notes recorded; want under %d and one note", console, notes, bound)
	}
	if cs := calls(rec, "POST", api.PathPowerOn); len(cs) != 1 || cs[0].Status != 200 || !cs[0].ResponseTruncated || cs[0].Response != nil {
		t.Errorf("the call past the bound = %+v; want it recorded without its answer", cs)
	}
}

// The testrunner request carries the job's settings for its suites
// (secrets among them): the recording keeps its size only, and redacts
// the values wherever else they appear (here: a command).
func TestSessionOmitsTheTestrunnerRequest(t *testing.T) {
	const setting = "BALENA_API_KEY=planted-suite-setting-0042"
	e := newEnv(t, worker.WithToken(adminToken))
	_, job, _ := e.jobLease(t, adminToken)
	_, err := job.RunTestrunner(ctxT(t, 10*time.Second), api.TestrunnerRequest{Image: "img@sha256:" + strings.Repeat("a", 64),
		Suites: []string{"os"}, Env: []string{setting}}, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("a worker without a testrunner ran one")
	}
	// A suite sending the setting in a command: redacted too.
	var out bytes.Buffer
	if _, err := job.Exec(ctxT(t, 10*time.Second), "echo planted-suite-setting-0042", &out, nil); err != nil {
		t.Fatal(err)
	}
	rec, raw := fetchSession(t, job)
	if len(calls(rec, "POST", api.PathExec)) != 1 {
		t.Fatal("the exec call was not recorded")
	}
	cs := calls(rec, "POST", api.PathTestrunner)
	if len(cs) != 1 || !cs[0].BodyOmitted || cs[0].BodySize == 0 || len(cs[0].Body) != 0 {
		t.Fatalf("the testrunner call = %+v; want it recorded with its size only", cs)
	}
	if where := holding(t, rec, raw, "planted-suite-setting-0042"); len(where) > 0 {
		t.Errorf("the recording holds the suites' setting in %s", strings.Join(where, ", "))
	}
}
