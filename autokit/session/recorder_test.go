package session

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestRecorder(opts RecorderOptions) (*Recorder, *fakeClock) {
	clk := newFakeClock()
	opts.Clock = clk.Now
	opts.Secrets = append(opts.Secrets, tok)
	return NewRecorder(Header{DUT: "dut", ConsoleStart: 100, Capabilities: []string{"power"}}, opts), clk
}

// encoded is the recording as a file would hold it, decompressed.
func encoded(t *testing.T, rec *Recording) string {
	t.Helper()
	var b bytes.Buffer
	if err := Encode(&b, rec); err != nil {
		t.Fatal(err)
	}
	back, err := Read(&b)
	if err != nil {
		t.Fatal(err)
	}
	var s strings.Builder
	fmt.Fprintf(&s, "%+v\n", back.Header)
	for _, ev := range back.Events {
		fmt.Fprintf(&s, "%+v %q\n", ev, ev.Data)
		if ev.Call != nil {
			fmt.Fprintf(&s, "  %+v %q %q\n", *ev.Call, ev.Call.Body, ev.Call.Response)
			for _, c := range ev.Call.Stream {
				fmt.Fprintf(&s, "  chunk %v %q\n", c.FromDUT, c.Data)
			}
		}
	}
	return s.String()
}

func TestRecorderCall(t *testing.T) {
	r, clk := newTestRecorder(RecorderOptions{})
	clk.Advance(time.Second)
	c := r.StartCall("POST", "/v1/lease/"+tok+"/x", "a="+tok)
	c.Body([]byte(`{"command":"echo `))
	c.Body([]byte(tok + `"}`))
	c.Respond(200, "application/x-ndjson")
	c.Write([]byte(`{"stream":"stdout","data":"U0VDUkVUVE9LRU4xMjMK"}` + "\n")) // base64 of the token and a newline
	mid := r.Snapshot()
	clk.Advance(2 * time.Millisecond)
	c.Write([]byte(`{"exit_code":0}` + "\n"))
	c.Finish()
	c.Write([]byte("after finish"))
	rec := r.Snapshot()
	if len(rec.Events) != 1 || rec.Events[0].Kind != KindCall {
		t.Fatalf("events = %+v, want one call", rec.Events)
	}
	ev := rec.Events[0]
	call := ev.Call
	if ev.T != Duration(time.Second) || call.Seq != 1 || call.Elapsed != Duration(2*time.Millisecond) {
		t.Errorf("T %v, seq %d, elapsed %v; want 1s, 1, 2ms", ev.T, call.Seq, call.Elapsed)
	}
	if call.Path != "/v1/lease/"+Redacted+"/x" || call.Query != "a="+Redacted {
		t.Errorf("path %q query %q: the secret is not redacted", call.Path, call.Query)
	}
	if string(call.Body) != `{"command":"echo `+Redacted+`"}` || call.BodySize != int64(len(`{"command":"echo `+tok+`"}`)) {
		t.Errorf("body %q size %d", call.Body, call.BodySize)
	}
	if bytes.Contains(call.Response, []byte("U0VDUkVUVE9LRU4xMjMK")) || !bytes.HasSuffix(call.Response, []byte(`{"exit_code":0}`+"\n")) {
		t.Errorf("response %q: want the frame's data redacted and the exit frame", call.Response)
	}
	if call.InProgress {
		t.Error("a finished call is in progress")
	}
	if len(mid.Events) != 1 || !mid.Events[0].Call.InProgress || mid.Events[0].Call.Elapsed != 0 || bytes.Contains(mid.Events[0].Call.Response, []byte("exit_code")) {
		t.Errorf("the snapshot taken mid-call changed: %+v", mid.Events[0].Call)
	}
	if s := encoded(t, rec); strings.Contains(s, tok) {
		t.Errorf("the encoded recording holds the secret:\n%s", s)
	}
}

func TestRecorderConsole(t *testing.T) {
	r, clk := newTestRecorder(RecorderOptions{})
	r.Console(90, []byte("0123456789")) // 90..99: before ConsoleStart
	r.Console(95, []byte("56789abcde")) // 100..104 are new
	clk.Advance(time.Second)
	r.Console(100, []byte("abcdeSECRET")) // overlaps; "SECRET" is held
	r.Console(111, []byte("TOKEN123 ok\n"))
	clk.Advance(time.Millisecond)
	r.Console(123, []byte("merged\n")) // within consoleMerge: same event
	clk.Advance(time.Second)
	r.Console(130, []byte("later\n"))
	rec := r.Snapshot()
	type want struct {
		t    time.Duration
		off  int64
		data string
	}
	wants := []want{
		{0, 100, "abcde"},
		{time.Second, 105, Redacted + " ok\nmerged\n"},
		{2*time.Second + time.Millisecond, 130, "later\n"},
	}
	if len(rec.Events) != len(wants) {
		t.Fatalf("events:\n%s", encoded(t, rec))
	}
	for i, w := range wants {
		ev := rec.Events[i]
		if ev.Kind != KindConsole || ev.T.D() != w.t || ev.Offset != w.off || string(ev.Data) != w.data {
			t.Errorf("event %d = %v %s @%d %q; want console %v @%d %q", i, ev.T, ev.Kind, ev.Offset, ev.Data, w.t, w.off, w.data)
		}
	}
	// A held end shows in a snapshot, and is not lost when more comes.
	r.Console(136, []byte("xSECR"))
	snap := r.Snapshot()
	last := snap.Events[len(snap.Events)-1]
	if string(last.Data) != Redacted || last.Offset != 137 {
		t.Errorf("held end in a snapshot = @%d %q; want @137 %q", last.Offset, last.Data, Redacted)
	}
	r.Console(141, []byte("ET!\n"))
	snap = r.Snapshot()
	var all []byte
	for _, ev := range snap.Events {
		all = append(all, ev.Data...)
	}
	if string(all) != "abcde"+Redacted+" ok\nmerged\nlater\nxSECRET!\n" {
		t.Errorf("console = %q", all)
	}
}

func TestRecorderChunks(t *testing.T) {
	r, clk := newTestRecorder(RecorderOptions{})
	c := r.StartCall("GET", "/v1/tunnel", "port=22")
	c.Respond(101, "")
	buf := []byte("hello SECRETTO")
	c.Chunk(false, buf)
	copy(buf, "XXXXXXXXXXXXXX") // the writer reuses its buffer
	clk.Advance(time.Millisecond)
	c.Chunk(true, []byte("from dut"))
	c.Chunk(false, []byte("KEN123 bye"))
	clk.Advance(time.Millisecond)
	c.Chunk(true, []byte(" SECRET")) // held until the end
	mid := r.Snapshot().Events[0].Call.Stream
	c.Finish()
	got := r.Snapshot().Events[0].Call
	type ch struct {
		fromDUT bool
		data    string
	}
	var chunks []ch
	for _, k := range got.Stream {
		chunks = append(chunks, ch{k.FromDUT, string(k.Data)})
	}
	want := []ch{{false, "hello "}, {true, "from dut"}, {false, Redacted + " bye"}, {true, " "}, {true, Redacted}}
	if fmt.Sprint(chunks) != fmt.Sprint(want) {
		t.Errorf("chunks = %+v, want %+v", chunks, want)
	}
	if len(mid) != 5 || string(mid[4].Data) != Redacted {
		t.Errorf("mid-stream snapshot = %+v; want the held end redacted at its end", mid)
	}
	// A chunk that completed a held start is stamped with the held
	// bytes' time.
	if got.Status != 101 || got.Stream[1].T != Duration(time.Millisecond) || got.Stream[2].T != 0 || got.Stream[4].T != Duration(2*time.Millisecond) {
		t.Errorf("status %d, chunks at %v %v %v", got.Status, got.Stream[1].T, got.Stream[2].T, got.Stream[4].T)
	}
}

func TestRecorderScreen(t *testing.T) {
	r, _ := newTestRecorder(RecorderOptions{MaxResponse: 4})
	c := r.StartCall("GET", "/v1/screen", "")
	c.MarkScreen()
	c.Respond(200, "image/png")
	c.Write([]byte("\x89PNG-more-than-max-response"))
	c.Finish()
	bad := r.StartCall("GET", "/v1/screen", "")
	bad.MarkScreen()
	bad.Respond(501, "application/json")
	bad.Write([]byte(`{"error":"no"}`))
	bad.Finish()
	rec := r.Snapshot()
	if len(rec.Events) != 3 {
		t.Fatalf("events:\n%s", encoded(t, rec))
	}
	if call := rec.Events[0].Call; len(call.Response) != 0 || call.ResponseTruncated {
		t.Errorf("the screenshot's call kept %q (truncated %v); want it in its event only", call.Response, call.ResponseTruncated)
	}
	if ev := rec.Events[1]; ev.Kind != KindScreen || ev.Seq != 1 || string(ev.Data) != "\x89PNG-more-than-max-response" {
		t.Errorf("event 2 = %+v, want the screenshot of call 1", ev)
	}
	if call := rec.Events[2].Call; string(call.Response) != `{"error":"no"}` || call.ResponseTruncated {
		t.Errorf("a failed screenshot's call = %q truncated %v; want its answer as the call's", call.Response, call.ResponseTruncated)
	}
}

func TestRecorderFlashAndPower(t *testing.T) {
	r, clk := newTestRecorder(RecorderOptions{})
	r.Power(true)
	r.Flash(FlashStart, 0, 0, 1000)
	for range 10 {
		clk.Advance(100 * time.Millisecond)
		r.Flash(FlashProgress, 1, 2, 1000)
	}
	r.Flash(FlashDone, 3000, 1000, 1000)
	r.Power(false)
	var got []string
	for _, ev := range r.Snapshot().Events {
		got = append(got, fmt.Sprintf("%v %s %s %d/%d/%d", ev.T, ev.Kind, ev.What, ev.Bytes, ev.Read, ev.Total))
	}
	want := []string{
		"0s power on 0/0/0",
		"0s flash start 0/0/1000",
		"100ms flash progress 1/2/1000",
		"400ms flash progress 1/2/1000",
		"700ms flash progress 1/2/1000",
		"1s flash progress 1/2/1000",
		"1s flash done 3000/1000/1000",
		"1s power off 0/0/0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRecorderBound(t *testing.T) {
	const bound = 10 << 10
	r, _ := newTestRecorder(RecorderOptions{MaxBytes: bound})
	line := bytes.Repeat([]byte("x"), 99)
	line = append(line, '\n')
	off := int64(100)
	for range 300 { // 30 KiB of console
		r.Console(off, line)
		off += int64(len(line))
	}
	c := r.StartCall("POST", "/v1/exec", "")
	c.Body([]byte(`{"command":"true"}`))
	c.Respond(200, "application/x-ndjson")
	c.Write([]byte(`{"exit_code":0}` + "\n"))
	c.Finish()
	r.Power(true)
	rec := r.Snapshot()
	var payload, notes int
	var last Event
	for _, ev := range rec.Events {
		payload += len(ev.Data)
		if ev.Kind == KindNote {
			notes++
		}
		last = ev
	}
	if payload >= bound || payload < bound/2 {
		t.Errorf("%d payload bytes recorded; want under the bound %d and near it", payload, bound)
	}
	if notes != 1 {
		t.Errorf("%d notes, want 1", notes)
	}
	if last.Kind != KindPower {
		t.Errorf("the last event is %s; want events still recorded past the bound", last.Kind)
	}
	call := rec.Events[len(rec.Events)-2].Call
	if call == nil || call.Body != nil || !call.BodyOmitted || call.BodySize != 18 || !call.ResponseTruncated || call.Status != 200 {
		t.Errorf("the call past the bound = %+v; want it without payloads, its size and status kept", call)
	}
	var b bytes.Buffer
	if err := Encode(&b, rec); err != nil {
		t.Fatal(err)
	}
	if b.Len() >= bound {
		t.Errorf("the file is %d bytes, over the bound %d", b.Len(), bound)
	}

	// Past the reserve, nothing more is recorded, and a second note says so.
	for range 1000 {
		r.Power(true)
	}
	rec = r.Snapshot()
	if n := len(rec.Events); n > bound/eventCost+bound/16/eventCost+2 {
		t.Errorf("%d events past the reserve", n)
	}
	if last := rec.Events[len(rec.Events)-1]; last.Kind != KindNote || !strings.Contains(last.What, "nothing after this") {
		t.Errorf("last event = %+v, want the reserve's note", last)
	}
	if r.StartCall("GET", "/v1/dut", "") != nil {
		t.Error("StartCall past the reserve returned a recorder")
	}
}

func TestRecorderPerCallBounds(t *testing.T) {
	r, _ := newTestRecorder(RecorderOptions{MaxResponse: 8, MaxStream: 5})
	c := r.StartCall("POST", "/v1/serial/write", "")
	c.Body([]byte("0123456789"))
	c.Write([]byte("abcdef"))
	c.Write([]byte("ghijkl"))
	c.Finish()
	up := r.StartCall("PUT", "/v1/flash", "")
	up.OmitBody()
	up.Body(make([]byte, 1000))
	up.Finish()
	tun := r.StartCall("GET", "/v1/tunnel", "port=22")
	tun.Chunk(true, []byte("abc"))
	tun.Chunk(false, []byte("defg"))
	tun.Chunk(true, []byte("h"))
	tun.Finish()
	rec := r.Snapshot()
	if call := rec.Events[0].Call; call.Body != nil || !call.BodyOmitted || call.BodySize != 10 || string(call.Response) != "abcdefgh" || !call.ResponseTruncated {
		t.Errorf("call = %+v; want the body's size only and the response cut at 8", call)
	}
	if call := rec.Events[1].Call; call.Body != nil || !call.BodyOmitted || call.BodySize != 1000 || call.ResponseTruncated {
		t.Errorf("upload = %+v; want its size only", call)
	}
	if call := rec.Events[2].Call; len(call.Stream) != 2 || string(call.Stream[1].Data) != "de" || !call.ResponseTruncated {
		t.Errorf("stream = %+v; want it cut at 5 bytes", call.Stream)
	}
}

func TestRecorderStop(t *testing.T) {
	r, _ := newTestRecorder(RecorderOptions{})
	c := r.StartCall("GET", "/v1/serial", "follow=1")
	r.Stop()
	c.Write([]byte("late"))
	c.Finish()
	r.Console(100, []byte("late"))
	r.Power(true)
	if r.StartCall("GET", "/v1/dut", "") != nil {
		t.Error("StartCall after Stop returned a recorder")
	}
	if rec := r.Snapshot(); len(rec.Events) != 1 || rec.Events[0].Call.Response != nil {
		t.Errorf("events after Stop:\n%s", encoded(t, rec))
	}
	var nilCall *CallRecorder
	nilCall.Body([]byte("x"))
	nilCall.Write([]byte("x"))
	nilCall.Chunk(true, []byte("x"))
	nilCall.Respond(200, "")
	nilCall.MarkScreen()
	nilCall.OmitBody()
	nilCall.Finish()
	if nilCall.Seq() != 0 {
		t.Error("nil call has a seq")
	}
}

// TestRecorderConcurrent records from many goroutines while taking
// snapshots; run with -race.
func TestRecorderConcurrent(t *testing.T) {
	r := NewRecorder(Header{}, RecorderOptions{Secrets: []string{tok}})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				c := r.StartCall("POST", "/v1/exec", "")
				c.Body([]byte(`{"command":"x"}`))
				c.Respond(200, "application/x-ndjson")
				c.Write([]byte(`{"exit_code":0}` + "\n"))
				c.Chunk(g%2 == 0, []byte("chunk"))
				c.Finish()
				r.Console(int64(g*1000+i), []byte("c"))
				r.Snapshot()
			}
		})
	}
	wg.Wait()
	seqs := map[int]bool{}
	for _, ev := range r.Snapshot().Events {
		if ev.Call != nil {
			if seqs[ev.Call.Seq] {
				t.Fatalf("seq %d twice", ev.Call.Seq)
			}
			seqs[ev.Call.Seq] = true
		}
	}
	if len(seqs) != 400 {
		t.Errorf("%d calls, want 400", len(seqs))
	}
}

// BenchmarkRecordExecCall is what recording an exec call costs the
// worker: the call, its body, a few streamed frames and its end.
func BenchmarkRecordExecCall(b *testing.B) {
	r := NewRecorder(Header{}, RecorderOptions{Secrets: []string{tok, "LEASEIDLEASEIDLEASEIDLEAS"}})
	body := []byte(`{"command":"uname -a","timeout_seconds":30}`)
	frame := []byte(`{"stream":"stdout","data":"TGludXggZHV0IDYuNi4wICMxIFNNUCBhYXJjaDY0IEdOVS9MaW51eAo="}` + "\n")
	exit := []byte(`{"exit_code":0}` + "\n")
	b.ReportAllocs()
	for b.Loop() {
		c := r.StartCall("POST", "/v1/exec", "")
		c.Body(body)
		c.Respond(200, "application/x-ndjson")
		c.Write(frame)
		c.Write(exit)
		c.Finish()
	}
}

// A secret learnt during the recording (a job's settings for its suites)
// is redacted from then on and, in the snapshot, in what came before:
// console, note, path, query, body, answer and a tunnel's chunks.
func TestRecorderAddSecrets(t *testing.T) {
	const late = "job-setting-value-42"
	r, clk := newTestRecorder(RecorderOptions{})
	r.Console(100, []byte("early: "+late+"\n"))
	r.Note("about " + late)
	c := r.StartCall("POST", "/v1/exec/"+late, "q="+late)
	c.Body([]byte(`{"command":"echo ` + late + `"}`))
	c.Respond(200, "application/json")
	c.Write([]byte(`{"out":"` + late + `"}`))
	c.Finish()
	tun := r.StartCall("GET", "/v1/tunnel", "port=22")
	tun.Respond(101, "")
	tun.Chunk(false, []byte("sent "+late))
	tun.Finish()
	clk.Advance(time.Second)
	r.AddSecrets(late, "")
	r.Console(100+int64(len("early: "+late+"\n")), []byte("later: "+late+"\n"))
	got := encoded(t, r.Snapshot())
	if strings.Contains(got, late) || strings.Contains(got, "job-setting") {
		t.Fatalf("the recording holds the secret added late:\n%s", got)
	}
	if n := strings.Count(got, Redacted); n < 7 {
		t.Errorf("%d redactions, want one in each of the 7 places:\n%s", n, got)
	}
}
