// Package replay stands in for a worker: an http.Handler that answers a
// suite's API calls from a session recording (package session), so a run
// recorded in CI can be replayed — and stepped through with a debugger —
// with no DUT. `leviathan replay` serves it to the suites; docs/replay.md
// is the user's guide.
//
// A request is answered by the earliest recorded call not used yet with
// the same key: the method, the path (a segment the recording redacted,
// such as a lease's id, matches any), the query (parsed, so its order
// does not matter) and the body (JSON compared as values, leaving out
// "timeout_seconds", which a client computes from its clock; a redacted
// string matches any). Calls made concurrently thus each find theirs, and
// identical calls are answered in the order they were recorded. The
// answer is the recorded status, content type and body, at once: a wait
// that took 30 s when recorded answers now. Heartbeats and GET
// /v1/session answer 200 without matching.
//
// The recording also holds the calls of the testbot that ran the suites.
// WithWindow leaves out those made before and after the suites ran;
// WithTestEvents tells apart its reads of each test's console (gotest's
// excerpts), which then answer only SerialLog — the replay's own runner —
// never a suite's identical read. Reads of the console and the screen
// otherwise prefer the earliest unused call after the one matched last.
// WithTests prefers the calls made while the replayed tests ran, when
// only some are replayed.
//
// A request the recording does not hold is a divergence: it is answered
// 409 with code api.CodeReplayDivergence and a message naming the request
// and what the recording held next instead (Divergences, FirstDivergence).
// Upgraded calls (tunnels, listeners' connections) are taken over with the
// worker's handshake, and the DUT side's recorded chunks are played in
// order, reading between them as many of the caller's bytes as were
// recorded and comparing them; a difference is a note (Notes), not a
// divergence, and the playing goes on. A call whose recorded answer came
// after some of a tunnel's traffic waits until that traffic was replayed.
//
// Limits:
//   - Answers are the recorded results, not re-timed; a loop that ended
//     on its own clock when recorded may now make more calls than the
//     recording holds, and then diverges.
//   - The console is what the recorded calls answered. The offsets GET
//     /v1/serial carries in its headers, which the recording does not
//     keep, are worked out from the recorded console and the call's time.
//   - A tunnel replays only deterministic traffic: a protocol whose bytes
//     depend on randomness (an SSH key exchange) replays only when the
//     suite's randomness is fixed, as it was when recorded.
//   - A recorded answer cut by the recorder's size bound is answered cut.
//   - A tunnel waits at most the stream timeout for bytes of the caller,
//     and a call at most that long for a tunnel not asked for yet.
//   - The recording's times and the test events' must come from one
//     clock (the worker and the suites' runner on one machine).
package replay
