package api_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/balena/leviathan-action/autokit/api"
	"github.com/balena/leviathan-action/autokit/image"
)

func TestPaths(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{api.LeasePath("ABC"), "/v1/lease/ABC"},
		{api.HeartbeatPath("ABC"), "/v1/lease/ABC/heartbeat"},
		{api.LeasePath("a/b"), "/v1/lease/a%2Fb"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestFlashResultMatchesImage keeps FlashResult wire-compatible with the
// image pipeline's Result, which the brief promises on the wire.
func TestFlashResultMatchesImage(t *testing.T) {
	in := image.Result{Format: image.Gzip, ImageBytes: 10, Written: 4, Skipped: 6, Unchanged: 1, Unmapped: 2, SHA256: "ab", Verified: true, Direct: true, VerifyDuration: time.Millisecond, Duration: time.Second}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var got api.FlashResult
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("image.Result JSON %s does not fit api.FlashResult: %v", b, err)
	}
	want := api.FlashResult{Format: "gzip", ImageBytes: 10, Written: 4, Skipped: 6, Unchanged: 1, Unmapped: 2, SHA256: "ab", Verified: true, Direct: true, VerifyDuration: time.Millisecond, Duration: time.Second}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
}

func TestExecFrameWire(t *testing.T) {
	code := 0
	for _, tc := range []struct {
		f    api.ExecFrame
		want string
	}{
		{api.ExecFrame{Stream: api.StreamStdout, Data: []byte("hi\n")}, `{"stream":"stdout","data":"aGkK"}`},
		{api.ExecFrame{ExitCode: &code}, `{"exit_code":0}`},
		{api.ExecFrame{Error: "boom"}, `{"error":"boom"}`},
	} {
		b, _ := json.Marshal(tc.f)
		if string(b) != tc.want {
			t.Errorf("%+v encodes as %s, want %s", tc.f, b, tc.want)
		}
	}
}
