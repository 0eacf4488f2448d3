package session

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func gz(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	started := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	hdr := Header{Version: Version, Started: started, Worker: "w1", DUT: "rpi", DeviceType: "raspberrypi4-64", Capabilities: []string{"power", "serial"}, ConsoleStart: 42}
	tests := []struct {
		name string
		rec  Recording
	}{
		{"header only", Recording{Header: hdr}},
		{"every kind", Recording{Header: hdr, Events: []Event{
			{T: Duration(time.Millisecond), Kind: KindCall, Call: &Call{Seq: 1, Method: "POST", Path: "/v1/exec", Query: "a=b",
				Body: []byte(`{"cmd":"uname"}`), Status: 200, ContentType: "application/x-ndjson", Response: []byte("{\"stdout\":\"TGludXgK\"}\n"), Elapsed: Duration(1500 * time.Microsecond)}},
			{T: Duration(2 * time.Millisecond), Kind: KindConsole, Data: []byte("login: \x00\xff"), Offset: 42},
			{T: Duration(3 * time.Millisecond), Kind: KindPower, What: "on"},
			{T: Duration(4 * time.Millisecond), Kind: KindFlash, What: "progress", Bytes: 10, Total: 100},
			{T: Duration(5 * time.Millisecond), Kind: KindScreen, Data: []byte("\x89PNG"), Seq: 3},
			{T: Duration(6 * time.Millisecond), Kind: KindNote, What: "the size bound was reached"},
			{T: Duration(7 * time.Millisecond), Kind: KindCall, Call: &Call{Seq: 2, Method: "PUT", Path: "/v1/flash", BodySize: 1 << 30, BodyOmitted: true, Status: 204, ResponseTruncated: true}},
			{T: Duration(8 * time.Millisecond), Kind: KindCall, Call: &Call{Seq: 4, Method: "GET", Path: "/v1/tunnel", Status: 101, Stream: []Chunk{
				{T: Duration(time.Microsecond), Data: []byte("ping")},
				{T: Duration(2 * time.Microsecond), FromDUT: true, Data: []byte("pong")},
			}}},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Encode(&b, &tt.rec); err != nil {
				t.Fatal(err)
			}
			got, err := Read(&b)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Header.Started.Equal(tt.rec.Header.Started) {
				t.Errorf("Started = %v, want %v", got.Header.Started, tt.rec.Header.Started)
			}
			got.Header.Started = tt.rec.Header.Started
			if !reflect.DeepEqual(got.Header, tt.rec.Header) {
				t.Errorf("header = %+v, want %+v", got.Header, tt.rec.Header)
			}
			if len(got.Events) != len(tt.rec.Events) {
				t.Fatalf("%d events, want %d", len(got.Events), len(tt.rec.Events))
			}
			for i := range got.Events {
				if !reflect.DeepEqual(got.Events[i], tt.rec.Events[i]) {
					t.Errorf("event %d = %+v, want %+v", i, got.Events[i], tt.rec.Events[i])
				}
			}
		})
	}
}

func TestEncodeSetsVersion(t *testing.T) {
	var b bytes.Buffer
	if err := Encode(&b, &Recording{}); err != nil {
		t.Fatal(err)
	}
	rec, err := Read(&b)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Header.Version != Version {
		t.Errorf("Version = %d, want %d", rec.Header.Version, Version)
	}
}

func TestDurationJSON(t *testing.T) {
	tests := []struct {
		d    time.Duration
		json string
	}{
		{0, "0"},
		{time.Millisecond, "1"},
		{1500 * time.Microsecond, "1.5"},
		{time.Microsecond, "0.001"},
		{2 * time.Second, "2000"},
	}
	for _, tt := range tests {
		b, err := json.Marshal(Duration(tt.d))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.json {
			t.Errorf("Marshal(%v) = %s, want %s", tt.d, b, tt.json)
		}
		var d Duration
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		if d.D() != tt.d {
			t.Errorf("Unmarshal(%s) = %v, want %v", b, d, tt.d)
		}
	}
	var d Duration
	for _, bad := range []string{`"1ms"`, `1e300`, `true`} {
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("Unmarshal(%s) succeeded, want an error", bad)
		}
	}
}

func TestReadErrors(t *testing.T) {
	var good bytes.Buffer
	if err := Encode(&good, &Recording{Header: Header{Version: Version}, Events: []Event{{Kind: KindNote, What: "x"}, {Kind: KindNote, What: "y"}}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   []byte
		want []string // substrings of the error
	}{
		{"not gzip", []byte("{}\n"), []string{"not a gzip"}},
		{"empty", gz(t, ""), []string{"empty"}},
		{"other version", gz(t, "{\"version\":2}\n"), []string{"version 2", "version 1"}},
		{"version 0", gz(t, "{\"started\":\"2026-01-01T00:00:00Z\"}\n"), []string{"version 0", "version 1"}},
		{"corrupt header", gz(t, "{\"version\":\n"), []string{"line 1"}},
		{"corrupt event", gz(t, "{\"version\":1}\n{\"kind\":\"note\"}\n{\"kind\":\n"), []string{"line 3"}},
		{"two values", gz(t, "{\"version\":1}\n{} {}\n"), []string{"line 2", "more than one"}},
		{"cut line", gz(t, "{\"version\":1}\n{\"kind\":\"note\"}"), []string{"line 2", "without a newline"}},
		{"cut gzip", good.Bytes()[:good.Len()-10], []string{"line"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tt.in))
			if err == nil {
				t.Fatal("Read succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func FuzzRead(f *testing.F) {
	var b bytes.Buffer
	if err := Encode(&b, &Recording{Header: Header{Version: Version, DUT: "d"}, Events: []Event{
		{T: 1, Kind: KindConsole, Data: []byte("hi"), Offset: 3},
		{T: 2, Kind: KindCall, Call: &Call{Seq: 1, Method: "GET", Path: "/v1/dut", Status: 200, Stream: []Chunk{{Data: []byte("x")}}}},
	}}); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add(gz(f, "{\"version\":1}\n"))
	f.Add(gz(f, "{\"version\":1}\n{\"t\":1e400}\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		rec, err := Read(bytes.NewReader(in))
		if err != nil {
			return
		}
		// What Read accepts, Encode writes back and Read reads the same.
		var out bytes.Buffer
		if err := Encode(&out, rec); err != nil {
			t.Fatalf("Encode of a read recording: %v", err)
		}
		again, err := Read(&out)
		if err != nil {
			t.Fatalf("Read of a re-encoded recording: %v", err)
		}
		if len(again.Events) != len(rec.Events) {
			t.Fatalf("%d events after a round trip, want %d", len(again.Events), len(rec.Events))
		}
	})
}
