// Package session is the recording of one lease's session on a worker:
// every API call with its answer, the console's bytes with their times,
// power and flash events and the screenshots taken. The worker records a
// lease from its start to its end; the testbot fetches the recording
// before it releases the lease and keeps it with the reports
// (FileName); `leviathan replay` answers a suite's calls from it, and the
// HTML report draws its timeline and console from it.
//
// A recording is gzip-compressed JSON lines: one Header, then Events in
// the order they happened. It never holds a credential: no Authorization
// header is recorded, and the lease's id and the worker's token are
// replaced by Redacted wherever they would appear (paths, headers,
// bodies, console bytes).
//
// Encode writes a Recording and Read reads one back. A Recorder records a
// session in memory as it happens (the worker's calls, console, power,
// flash, screenshots, tunnel traffic) and Snapshot copies it out, the
// secrets it was given redacted.
//
// Limits: a recording is bounded (RecorderOptions.MaxBytes, 64 MiB of
// payload by default): past the bound payloads are dropped and a note
// says so. Redaction replaces the secrets' exact bytes (and their JSON
// and query escapes, and inside NDJSON frames' base64 "data"); a secret
// split across two console writes or two chunks of one direction is
// caught, one split across two exec output frames is not, nor one drawn
// on a screenshot.
package session

import (
	"time"
)

// FileName is the recording's name in a run's report directory.
const FileName = "session.jsonl.gz"

// Version is the format's version, in Header.Version. A reader refuses
// another version with an error naming both.
const Version = 1

// Redacted stands in for a credential the recording would otherwise hold.
const Redacted = "[redacted]"

// Header is the first line of a recording.
type Header struct {
	Version int `json:"version"`
	// Started is when the lease began; every Event's T is an offset from
	// it.
	Started time.Time `json:"started"`
	// Worker and DUT name where the session ran (the worker's identity
	// and the DUT's name and device type, as GET /v1/dut reports them).
	Worker     string `json:"worker,omitempty"`
	DUT        string `json:"dut,omitempty"`
	DeviceType string `json:"device_type,omitempty"`
	// Capabilities are the DUT's, as GET /v1/dut reports them.
	Capabilities []string `json:"capabilities,omitempty"`
	// ConsoleStart is the console's offset (as GET /v1/serial counts it)
	// at the lease's start: the first console Event's Offset.
	ConsoleStart int64 `json:"console_start"`
}

// Kinds of Event.
const (
	KindCall    = "call"    // an API call and its answer (Call)
	KindConsole = "console" // bytes the DUT printed on its console (Data, Offset)
	KindPower   = "power"   // the DUT was powered on or off (What: "on", "off")
	KindFlash   = "flash"   // flash progress (Bytes written so far, Read of Total, What: "start", "progress", "done", "failed")
	KindScreen  = "screen"  // a screenshot was taken (Data: the PNG; Seq: the call that took it)
	KindNote    = "note"    // the recorder's own note, e.g. that the size bound was reached (What)
)

// Event is one line after the Header.
type Event struct {
	// T is the time since Header.Started.
	T    Duration `json:"t"`
	Kind string   `json:"kind"`
	// Call is set for KindCall.
	Call *Call `json:"call,omitempty"`
	// Data is the console's bytes (KindConsole) or a PNG (KindScreen).
	Data []byte `json:"data,omitempty"`
	// Offset is the console offset of Data's first byte (KindConsole).
	Offset int64 `json:"offset,omitempty"`
	// What says what happened (KindPower, KindFlash, KindNote).
	What string `json:"what,omitempty"`
	// Bytes, Read and Total count a flash's progress (KindFlash): the
	// image bytes written so far (decompressed: the rate the medium
	// takes), and the upload's bytes read so far of its size, Total (0
	// when unknown; a compressed upload is smaller than what it writes).
	Bytes int64 `json:"bytes,omitempty"`
	Read  int64 `json:"read,omitempty"`
	Total int64 `json:"total,omitempty"`
	// Seq is the call a screenshot belongs to (KindScreen).
	Seq int `json:"seq,omitempty"`
}

// Call is one API request and the worker's answer. Its Event's T is when
// the request arrived; Elapsed is how long the answer took.
type Call struct {
	// Seq numbers the lease's calls from 1 in the order they arrived.
	Seq    int    `json:"seq"`
	Method string `json:"method"`
	// Path is the request's path with the lease's id redacted; Query its
	// raw query.
	Path  string `json:"path"`
	Query string `json:"query,omitempty"`
	// Body is the request body (a flash or suite upload is not kept: its
	// size is in BodySize and BodyOmitted is set).
	Body        []byte `json:"body,omitempty"`
	BodySize    int64  `json:"body_size,omitempty"`
	BodyOmitted bool   `json:"body_omitted,omitempty"`
	// Status and ContentType are the answer's; Response is its body as
	// sent (an exec stream or a console follow whole, as streamed).
	// ResponseTruncated is set when the size bound cut it.
	Status            int      `json:"status"`
	ContentType       string   `json:"content_type,omitempty"`
	Response          []byte   `json:"response,omitempty"`
	ResponseTruncated bool     `json:"response_truncated,omitempty"`
	Elapsed           Duration `json:"elapsed"`
	// InProgress is set when the answer was still being sent when the
	// recording was taken (a console follow, a running exec): Response
	// and Stream are what was sent so far, Elapsed the time so far.
	InProgress bool `json:"in_progress,omitempty"`
	// Stream is the traffic of a tunnel or a listener's connection (an
	// upgraded call), in order.
	Stream []Chunk `json:"stream,omitempty"`
}

// Chunk is bytes that crossed an upgraded connection.
type Chunk struct {
	// T is when they crossed, as Event.T: the time since Header.Started.
	T Duration `json:"t"`
	// FromDUT is set for bytes the DUT side sent, unset for the caller's.
	FromDUT bool   `json:"from_dut,omitempty"`
	Data    []byte `json:"data"`
}

// Duration is a time.Duration written as milliseconds (a float).
type Duration time.Duration
