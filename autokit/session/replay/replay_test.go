package replay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/client"
	"github.com/balena/leviathan-action/autokit/session"
	"github.com/balena/leviathan-action/autokit/session/replay"
)

// rec builds a recording from its events, numbering the calls in order.
func rec(events ...session.Event) *session.Recording {
	r := &session.Recording{Header: session.Header{Version: session.Version, Started: time.Now(), ConsoleStart: 100}}
	seq := 0
	for i, ev := range events {
		if ev.Kind == session.KindCall {
			seq++
			if ev.Call.Seq == 0 {
				ev.Call.Seq = seq
			}
		}
		if ev.T == 0 {
			ev.T = session.Duration(time.Duration(i+1) * time.Second)
		}
		r.Events = append(r.Events, ev)
	}
	return r
}

// call is a recorded call answered with status, its JSON or other body.
func call(method, path, query, body string, status int, ctype, resp string) session.Event {
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	return session.Event{Kind: session.KindCall, Call: &session.Call{Method: method, Path: path, Query: query, Body: b,
		Status: status, ContentType: ctype, Response: []byte(resp), Elapsed: session.Duration(100 * time.Millisecond)}}
}

// execCall is a recorded exec of cmd that printed out and exited 0.
func execCall(cmd, out string) session.Event {
	var resp bytes.Buffer
	json.NewEncoder(&resp).Encode(api.ExecFrame{Stream: api.StreamStdout, Data: []byte(out)})
	zero := 0
	json.NewEncoder(&resp).Encode(api.ExecFrame{ExitCode: &zero})
	body, _ := json.Marshal(api.ExecRequest{Command: cmd, TimeoutSeconds: 119.98731})
	return call("POST", api.PathExec, "", string(body), 200, api.ContentTypeNDJSON, resp.String())
}

// serve serves a Handler for rec and returns a client of it.
func serve(t *testing.T, r *session.Recording, opts ...replay.Option) (*replay.Handler, *client.Client) {
	t.Helper()
	h, err := replay.New(r, opts...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, client.WithLease("replay"))
	if err != nil {
		t.Fatal(err)
	}
	return h, c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// run runs cmd through c and returns its output, failing on an error.
func run(t *testing.T, c *client.Client, cmd string) string {
	t.Helper()
	out, _, err := c.ExecOutput(ctxT(t), cmd)
	if err != nil {
		t.Fatalf("exec %q: %v", cmd, err)
	}
	return out
}

func TestMatching(t *testing.T) {
	for _, tc := range []struct {
		name string
		rec  *session.Recording
		// do makes the calls; it returns the answers it got, in order.
		do   func(t *testing.T, c *client.Client) []string
		want []string
	}{
		{"exact match, timeout left out",
			rec(execCall("uname -r", "6.1.0\n")),
			func(t *testing.T, c *client.Client) []string {
				// The client's timeout_seconds is another than recorded.
				ctx, cancel := context.WithTimeout(ctxT(t), 7*time.Second)
				defer cancel()
				out, _, err := c.ExecOutput(ctx, "uname -r")
				if err != nil {
					t.Fatal(err)
				}
				return []string{out}
			},
			[]string{"6.1.0\n"}},
		{"repeated identical calls in recorded order",
			rec(execCall("cat /proc/sys/kernel/random/boot_id", "boot-1\n"), execCall("cat /proc/sys/kernel/random/boot_id", "boot-1\n"), execCall("cat /proc/sys/kernel/random/boot_id", "boot-2\n")),
			func(t *testing.T, c *client.Client) []string {
				var got []string
				for range 3 {
					got = append(got, run(t, c, "cat /proc/sys/kernel/random/boot_id"))
				}
				return got
			},
			[]string{"boot-1\n", "boot-1\n", "boot-2\n"}},
		{"calls in another order than recorded",
			rec(execCall("echo a", "a\n"), execCall("echo b", "b\n"), execCall("echo c", "c\n")),
			func(t *testing.T, c *client.Client) []string {
				return []string{run(t, c, "echo c"), run(t, c, "echo a"), run(t, c, "echo b")}
			},
			[]string{"c\n", "a\n", "b\n"}},
		{"query in another order, JSON fields in another order",
			rec(call("POST", api.PathSerialExpect, "", `{"timeout_seconds":30,"offset":120,"pattern":"login:"}`, 200, api.ContentTypeJSON, `{"offset":140,"match":"login:"}`)),
			func(t *testing.T, c *client.Client) []string {
				r, err := c.Expect(ctxT(t), "login:", 120, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				return []string{r.Match}
			},
			[]string{"login:"}},
		{"redacted path segment matches any lease id",
			rec(call("DELETE", "/v1/lease/"+session.Redacted, "", "", 204, "", "")),
			func(t *testing.T, c *client.Client) []string {
				if err := c.Release(ctxT(t), "ANY-LEASE-ID"); err != nil {
					t.Fatal(err)
				}
				return []string{"released"}
			},
			[]string{"released"}},
		{"recorded error answered as recorded",
			rec(call("POST", api.PathWaitOnline, "", `{"timeout_seconds":180}`, 504, api.ContentTypeJSON, `{"error":"worker: timed out","code":"timeout"}`)),
			func(t *testing.T, c *client.Client) []string {
				_, err := c.WaitOnline(ctxT(t), time.Minute)
				return []string{string(client.ErrorCode(err))}
			},
			[]string{"timeout"}},
		{"screenshot from its screen event",
			rec(call("GET", api.PathScreen, "", "", 200, api.ContentTypePNG, ""), session.Event{Kind: session.KindScreen, Seq: 1, Data: []byte("\x89PNG fake")}),
			func(t *testing.T, c *client.Client) []string {
				b, err := c.Screenshot(ctxT(t))
				if err != nil {
					t.Fatal(err)
				}
				return []string{string(b)}
			},
			[]string{"\x89PNG fake"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, c := serve(t, tc.rec)
			got := tc.do(t, c)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("answers %q, want %q", got, tc.want)
			}
			if d, ok := h.FirstDivergence(); ok {
				t.Errorf("diverged: %s", d)
			}
		})
	}
}

// TestTruncatedAnswer: an answer the recorder cut is answered cut, and
// noted.
func TestTruncatedAnswer(t *testing.T) {
	ev := call("GET", api.PathSerial, "offset=0", "", 200, api.ContentTypeText, "boot lo")
	ev.Call.ResponseTruncated = true
	h, c := serve(t, rec(ev))
	if b, _, err := c.SerialLog(ctxT(t), 0); err != nil || string(b) != "boot lo" {
		t.Errorf("read %q, %v", b, err)
	}
	if n := h.Notes(); len(n) != 1 || !strings.Contains(n[0].Message, "answered cut") {
		t.Errorf("notes %v", n)
	}
}

// TestConcurrentCalls: calls made at once each get their own recorded
// answer, identical ones in recorded order.
func TestConcurrentCalls(t *testing.T) {
	var evs []session.Event
	for _, cmd := range []string{"echo 1", "echo 2", "echo 3", "echo 4"} {
		evs = append(evs, execCall(cmd, cmd+"\n"))
	}
	for i := range 4 {
		evs = append(evs, execCall("date", "tick "+string(rune('0'+i))+"\n"))
	}
	h, c := serve(t, rec(evs...))
	var wg sync.WaitGroup
	got := make([]string, 4)
	for i, cmd := range []string{"echo 4", "echo 3", "echo 2", "echo 1"} {
		wg.Go(func() { got[i] = run(t, c, cmd) })
	}
	wg.Wait()
	if strings.Join(got, "") != "echo 4\necho 3\necho 2\necho 1\n" {
		t.Errorf("concurrent answers %q", got)
	}
	for i := range 4 {
		if out := run(t, c, "date"); out != "tick "+string(rune('0'+i))+"\n" {
			t.Errorf("date call %d answered %q", i, out)
		}
	}
	if d, ok := h.FirstDivergence(); ok {
		t.Errorf("diverged: %s", d)
	}
}

// TestDivergence: a call the recording does not hold is answered 409 with
// code replay_divergence, naming it and what the recording held next; the
// first is kept.
func TestDivergence(t *testing.T) {
	r := rec(call("GET", api.PathDUT, "", "", 200, api.ContentTypeJSON, `{"name":"qemu"}`),
		execCall("uname -r", "6.1.0\n"),
		call("GET", api.PathSerial, "offset=0", "", 200, api.ContentTypeText, "boot"),
		execCall("echo key-auth-ok", "key-auth-ok\n"),
		execCall("cat /etc/os-release", "ID=x\n"))
	h, c := serve(t, r)
	if _, err := c.Contract(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	run(t, c, "uname -r")
	_, _, err := c.ExecOutput(ctxT(t), "echo changed")
	var e *client.Error
	if !errors.As(err, &e) || e.Code != api.CodeReplayDivergence || e.Status != http.StatusConflict {
		t.Fatalf("exec of a changed command: %v; want a 409 %s", err, api.CodeReplayDivergence)
	}
	for _, want := range []string{`POST /v1/exec {"command":"echo changed"}`, `#2 POST /v1/exec {"command":"uname -r"}`, `held next #4 POST /v1/exec {"command":"echo key-auth-ok"}`} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("the divergence message lacks %q:\n%s", want, e.Message)
		}
	}
	// A second divergence is answered too, but the first is kept.
	c.ExecOutput(ctxT(t), "echo changed again")
	d, ok := h.FirstDivergence()
	if !ok || !strings.Contains(d.Request, "echo changed") || strings.Contains(d.Request, "again") || !strings.Contains(d.Recorded, "echo key-auth-ok") {
		t.Errorf("FirstDivergence = %+v, %v", d, ok)
	}
	if n := len(h.Divergences()); n != 2 {
		t.Errorf("%d divergences, want 2", n)
	}
	// The unused suite calls are listed, the serial read among them.
	if u := h.Unused(); len(u) != 3 || !strings.Contains(u[0], "/v1/serial?offset=0") {
		t.Errorf("Unused = %q", u)
	}
}

// TestDivergenceNothingLeft: past the recording's end the message says so.
func TestDivergenceNothingLeft(t *testing.T) {
	_, c := serve(t, rec(execCall("true", "")))
	run(t, c, "true")
	_, _, err := c.ExecOutput(ctxT(t), "true")
	if !client.IsCode(err, api.CodeReplayDivergence) || !strings.Contains(err.Error(), "holds no further call") {
		t.Errorf("a call past the recording's end: %v", err)
	}
}

// tunnel is a recorded tunnel to port 22: the caller says hello, the DUT
// answers, and so on.
func tunnel() session.Event {
	ev := call("GET", api.PathTunnel, "port=22", "", 101, "", "")
	ev.Call.Stream = []session.Chunk{
		{FromDUT: true, Data: []byte("SSH-2.0-dropbear\r\n")},
		{Data: []byte("SSH-2.0-Go\r\n")},
		{Data: []byte("kexinit")},
		{FromDUT: true, Data: []byte("KEXINIT-DUT")},
		{Data: []byte("bye")},
	}
	return ev
}

// TestTunnel plays a recorded tunnel both ways: the DUT's bytes arrive in
// order, the caller's are read and compared; a difference is noted (not a
// divergence) and the playing goes on.
func TestTunnel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		send   []string // the caller's writes, each after reading what the DUT sent before it
		noted  string   // the divergence noted, "" for none
		wantIn string   // what the caller must have received
	}{
		{"same bytes", []string{"SSH-2.0-Go\r\n", "kexinit", "bye"}, "", "SSH-2.0-dropbear\r\nKEXINIT-DUT"},
		{"same bytes, other pieces", []string{"SSH-2.0-Go\r\nkex", "init", "bye"}, "", "SSH-2.0-dropbear\r\nKEXINIT-DUT"},
		{"different bytes", []string{"SSH-2.0-Go\r\n", "kexINIT", "bye"}, "tunnel to port 22 (#1 GET /v1/tunnel?port=22 (made 1s into the recorded lease)): the caller sent different bytes at byte 15", "SSH-2.0-dropbear\r\nKEXINIT-DUT"},
		// The playing goes on: the DUT's next bytes still come.
		{"caller closes early", []string{"SSH-2.0-Go\r\n"}, "the caller closed its end after 12 bytes; the recording holds 10 more", "SSH-2.0-dropbear\r\nKEXINIT-DUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, c := serve(t, rec(tunnel()), replay.WithStreamTimeout(2*time.Second))
			conn, err := c.Dial(ctxT(t), 22)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			var got bytes.Buffer
			readN := func(n int) {
				b := make([]byte, n)
				if _, err := io.ReadFull(conn, b); err != nil {
					t.Fatalf("reading the DUT's %d bytes: %v (got %q so far)", n, err, got.String())
				}
				got.Write(b)
			}
			readN(len("SSH-2.0-dropbear\r\n"))
			for _, s := range tc.send {
				if _, err := conn.Write([]byte(s)); err != nil {
					t.Fatal(err)
				}
			}
			if len(tc.send) == 1 {
				conn.(interface{ CloseWrite() error }).CloseWrite()
			} else {
				readN(len("KEXINIT-DUT"))
			}
			// The DUT's end closes once the recording is played.
			rest, _ := io.ReadAll(conn)
			got.Write(rest)
			if got.String() != tc.wantIn {
				t.Errorf("the caller received %q, want %q", got.String(), tc.wantIn)
			}
			// The note is made as the stream ends: wait for it.
			divs := waitNotes(h, tc.noted != "")
			if d := h.Divergences(); len(d) > 0 {
				t.Errorf("a stream's difference counted as a divergence: %v", d)
			}
			switch {
			case tc.noted == "" && len(divs) > 0:
				t.Errorf("diverged: %v", divs)
			case tc.noted != "" && (len(divs) != 1 || !strings.Contains(divs[0].Message, tc.noted)):
				t.Errorf("divergences %v, want one saying %q", divs, tc.noted)
			}
		})
	}
}

// TestListenerBeforeExec: a command whose recorded answer came after the
// DUT fetched a file from the suite's listener answers only once that
// connection was replayed, as recorded; the listener's connection is
// played from the DUT's side.
func TestListenerBeforeExec(t *testing.T) {
	listen := call("POST", api.PathListen, "", "", 201, api.ContentTypeJSON, `{"id":"L1","address":"127.0.0.1:4000"}`)
	accept := call("GET", "/v1/listen/L1", "", "", 101, "", "")
	accept.T = session.Duration(2 * time.Second)
	accept.Call.Elapsed = session.Duration(500 * time.Millisecond)
	accept.Call.Stream = []session.Chunk{
		{T: session.Duration(2200 * time.Millisecond), FromDUT: true, Data: []byte("GET /update.img HTTP/1.1\r\n\r\n")},
		{T: session.Duration(2300 * time.Millisecond), Data: []byte("HTTP/1.1 200 OK\r\n\r\npayload")},
	}
	wget := execCall("wget -O- http://127.0.0.1:4000/update.img | sha256sum", "abc  -\n")
	wget.T = session.Duration(2100 * time.Millisecond)
	wget.Call.Elapsed = session.Duration(time.Second) // answered after the connection ended
	closeL := call("DELETE", "/v1/listen/L1", "", "", 204, "", "")
	closeL.T = session.Duration(4 * time.Second)
	h, c := serve(t, rec(listen, accept, wget, closeL))

	l, err := c.Listen(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan string, 1)
	var mu sync.Mutex
	var order []string
	go func() {
		conn, err := l.Accept()
		if err != nil {
			served <- err.Error()
			return
		}
		defer conn.Close()
		req := make([]byte, len("GET /update.img HTTP/1.1\r\n\r\n"))
		io.ReadFull(conn, req)
		time.Sleep(200 * time.Millisecond) // a slow server: the exec must wait for it
		mu.Lock()
		order = append(order, "served")
		mu.Unlock()
		conn.Write([]byte("HTTP/1.1 200 OK\r\n\r\npayload"))
		served <- string(req)
	}()
	out := run(t, c, "wget -O- http://127.0.0.1:4000/update.img | sha256sum")
	mu.Lock()
	order = append(order, "exec answered")
	mu.Unlock()
	if out != "abc  -\n" {
		t.Errorf("exec answered %q", out)
	}
	if got := <-served; got != "GET /update.img HTTP/1.1\r\n\r\n" {
		t.Errorf("the listener's connection carried %q", got)
	}
	if err := l.Close(); err != nil {
		t.Errorf("closing the listener: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(order, ",") != "served,exec answered" {
		t.Errorf("order %v: the exec answered before the listener's connection was replayed", order)
	}
	if d, ok := h.FirstDivergence(); ok {
		t.Errorf("diverged: %s", d)
	}
}

// TestSerial: console reads carry the offsets the worker's headers would
// have, worked out from the recorded console; the in-process SerialLog
// uses up the testbot's reads without diverging.
func TestSerial(t *testing.T) {
	r := rec(
		session.Event{T: session.Duration(time.Second), Kind: session.KindConsole, Offset: 100, Data: []byte("login: ")},
		session.Event{T: session.Duration(2 * time.Second), Kind: session.KindCall, Call: &session.Call{Method: "GET", Path: api.PathSerial, Query: "offset=4611686018427387904", Status: 200, ContentType: api.ContentTypeText}},
		session.Event{T: session.Duration(3 * time.Second), Kind: session.KindConsole, Offset: 107, Data: []byte("serial-42\n")},
		session.Event{T: session.Duration(4 * time.Second), Kind: session.KindCall, Call: &session.Call{Method: "GET", Path: api.PathSerial, Query: "offset=107", Status: 200, ContentType: api.ContentTypeText, Response: []byte("serial-42\n")}},
		session.Event{T: session.Duration(5 * time.Second), Kind: session.KindCall, Call: &session.Call{Method: "GET", Path: api.PathSerial, Query: "offset=0", Status: 200, ContentType: api.ContentTypeText, Response: []byte("login: serial-42\n")}},
		session.Event{T: session.Duration(6 * time.Second), Kind: session.KindCall, Call: &session.Call{Method: "GET", Path: api.PathSerial, Query: "offset=4611686018427387904", Status: 200, ContentType: api.ContentTypeText}},
	)
	h, c := serve(t, r)
	_, end, err := c.SerialLog(ctxT(t), 1<<62)
	if err != nil || end != 107 {
		t.Errorf("the console's end before the output: %d, %v; want 107", end, err)
	}
	b, end, err := h.SerialLog(t.Context(), 107)
	if err != nil || string(b) != "serial-42\n" || end != 117 {
		t.Errorf("SerialLog(107) = %q, %d, %v", b, end, err)
	}
	if _, _, err := h.SerialLog(t.Context(), 107); !errors.Is(err, replay.ErrNoConsoleRead) {
		t.Errorf("a second SerialLog(107): %v, want ErrNoConsoleRead", err)
	}
	b, end, err = c.SerialLog(ctxT(t), 0)
	if err != nil || string(b) != "login: serial-42\n" || end != 117 {
		t.Errorf("the lease's whole console: %q, %d, %v", b, end, err)
	}
	if _, end, _ := c.SerialLog(ctxT(t), 1<<62); end != 117 {
		t.Errorf("the console's end after the output: %d, want 117", end)
	}
	if d, ok := h.FirstDivergence(); ok {
		t.Errorf("diverged: %s", d)
	}
}

// TestWindowAndRestart: calls outside the window (the testbot's) never
// answer; a restart replays the recording again.
func TestWindowAndRestart(t *testing.T) {
	r := rec(
		call("GET", api.PathDUT, "", "", 200, api.ContentTypeJSON, `{"name":"testbot's view"}`),
		call("GET", api.PathDUT, "", "", 200, api.ContentTypeJSON, `{"name":"suite's view"}`),
		execCall("uname -r", "6.1.0\n"),
	)
	h, c := serve(t, r, replay.WithWindow(1500*time.Millisecond, 0), replay.WithRestart())
	if h.Calls() != 2 {
		t.Errorf("%d calls in the window, want 2", h.Calls())
	}
	for i := range 2 {
		ct, err := c.Contract(ctxT(t))
		if err != nil || ct.Name != "suite's view" {
			t.Fatalf("run %d: contract %+v, %v", i, ct, err)
		}
		if out := run(t, c, "uname -r"); out != "6.1.0\n" {
			t.Errorf("run %d: exec answered %q", i, out)
		}
	}
	if d, ok := h.FirstDivergence(); ok {
		t.Errorf("diverged: %s", d)
	}
}

// TestHeartbeatAndSession answer without matching.
func TestHeartbeatAndSession(t *testing.T) {
	r := rec(execCall("true", ""))
	h, err := replay.New(r)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	c, _ := client.New(srv.URL)
	for range 3 {
		if l, err := c.Heartbeat(ctxT(t), "L"); err != nil || l.ID != "L" {
			t.Fatalf("heartbeat: %+v, %v", l, err)
		}
	}
	resp, err := http.Get(srv.URL + "/v1/session")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := session.Read(resp.Body)
	if err != nil || len(got.Events) != 1 {
		t.Fatalf("GET /v1/session: %v, %v", got, err)
	}
	if _, ok := h.FirstDivergence(); ok {
		t.Error("a heartbeat or the session fetch diverged")
	}
}

// TestPreferredTests: replaying some of the recorded tests, their own
// calls answer first — not the identical reads the recording holds from
// tests left out — and calls of no replayed test still answer when
// nothing else does.
func TestPreferredTests(t *testing.T) {
	end := func(at time.Duration) session.Event {
		ev := call("GET", api.PathSerial, "offset=4611686018427387904", "", 200, api.ContentTypeText, "")
		ev.T = session.Duration(at)
		return ev
	}
	at := func(ev session.Event, d time.Duration) session.Event { ev.T = session.Duration(d); return ev }
	r := rec(
		at(call("GET", api.PathDUT, "", "", 200, api.ContentTypeJSON, `{"name":"qemu"}`), time.Second),
		end(2*time.Second), // the testbot's, as test A starts
		session.Event{T: session.Duration(3 * time.Second), Kind: session.KindConsole, Offset: 100, Data: []byte("0123456789")},
		end(11*time.Second), // test B's own mark
		at(execCall("echo b", "b\n"), 12*time.Second),
	)
	h, c := serve(t, r, replay.WithTests(replay.Span{From: 10 * time.Second, To: 20 * time.Second}))
	if _, err := c.Contract(ctxT(t)); err != nil {
		t.Fatalf("the contract, made in a test left out: %v", err)
	}
	if _, e, err := c.SerialLog(ctxT(t), 1<<62); err != nil || e != 110 {
		t.Errorf("test B's mark: %d, %v; want its own, 110", e, err)
	}
	if out := run(t, c, "echo b"); out != "b\n" {
		t.Errorf("exec answered %q", out)
	}
	if d, ok := h.FirstDivergence(); ok {
		t.Errorf("diverged: %s", d)
	}
}

// waitNotes waits a moment for a stream's note when one is due.
func waitNotes(h *replay.Handler, due bool) []replay.Divergence {
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := h.Notes()
		if len(n) > 0 || !due || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStreamRecordedOutOfOrder: a recorder may note the DUT's chunk a
// moment after the caller's answer to it; the replay then sends the
// DUT's chunk once the caller stalls, and the exchange completes.
func TestStreamRecordedOutOfOrder(t *testing.T) {
	ev := call("GET", api.PathTunnel, "port=80", "", 101, "", "")
	ev.Call.Stream = []session.Chunk{
		{Data: []byte("pong")},                // the caller's answer…
		{FromDUT: true, Data: []byte("ping")}, // …to this, noted after it
	}
	h, c := serve(t, rec(ev))
	conn, err := c.Dial(ctxT(t), 80)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	b := make([]byte, 4)
	if _, err := io.ReadFull(conn, b); err != nil || string(b) != "ping" {
		t.Fatalf("read %q, %v; want the DUT's ping", b, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the DUT's chunk came after %s", d)
	}
	conn.Write([]byte("pong"))
	if rest, _ := io.ReadAll(conn); len(rest) > 0 {
		t.Errorf("more from the DUT: %q", rest)
	}
	if n := waitNotes(h, false); len(n) > 0 {
		t.Errorf("notes: %v", n)
	}
}

// TestTestbotReads: with the recorded run's test events, the testbot's
// reads of each test's console answer only SerialLog: a suite that runs
// ahead of the replay's runner gets its own read, not the testbot's from
// an earlier test.
func TestTestbotReads(t *testing.T) {
	read := func(at time.Duration, off, resp string) session.Event {
		ev := call("GET", api.PathSerial, "offset="+off, "", 200, api.ContentTypeText, resp)
		ev.T = session.Duration(at)
		return ev
	}
	const end = "4611686018427387904"
	r := rec(
		read(1010*time.Millisecond, end, ""),   // the testbot, as A starts: 100
		read(2010*time.Millisecond, "100", ""), // the testbot, as A ends
		session.Event{T: session.Duration(2500 * time.Millisecond), Kind: session.KindConsole, Offset: 100, Data: []byte("0123456789")},
		read(3010*time.Millisecond, end, ""),   // the testbot, as B starts: 110
		read(3020*time.Millisecond, end, ""),   // B's own mark: 110
		read(5010*time.Millisecond, "110", ""), // the testbot, as B ends
	)
	evs := []replay.TestEvent{{T: time.Second, Test: "A", Start: true}, {T: 2 * time.Second, Test: "A"}, {T: 3 * time.Second, Test: "B", Start: true}, {T: 5 * time.Second, Test: "B"}}
	h, c := serve(t, r, replay.WithTestEvents(evs...))
	// B's mark comes before the replay's runner read anything.
	if _, e, err := c.SerialLog(ctxT(t), 1<<62); err != nil || e != 110 {
		t.Errorf("B's mark: %d, %v; want its own, 110", e, err)
	}
	for _, want := range []struct {
		off int64
		end int64
	}{{1 << 62, 100}, {100, 100}, {1 << 62, 110}, {110, 110}} {
		if _, e, err := h.SerialLog(t.Context(), want.off); err != nil || e != want.end {
			t.Errorf("SerialLog(%d) = %d, %v; want %d", want.off, e, err, want.end)
		}
	}
	if _, _, err := c.SerialLog(ctxT(t), 1<<62); !client.IsCode(err, api.CodeReplayDivergence) {
		t.Errorf("a second mark took a testbot's read: %v", err)
	}
}
