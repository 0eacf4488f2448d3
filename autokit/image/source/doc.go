// Package source opens an OS image for the image pipeline, from a local
// file or an HTTP(S) URL, as one stream of bytes with a size when known.
//
// Over HTTP a download that breaks off (a read error, or a body shorter
// than its Content-Length) is resumed where it stopped with a
// "Range: bytes=N-" request guarded by "If-Range", so that a file that
// changed on the server is never spliced onto the bytes already read:
// the change is reported (ErrChanged) instead. Resuming needs a server
// that honours Range (it answers 206) and gives a strong ETag or a
// Last-Modified date; otherwise a break fails with ErrNotResumable, since
// the bytes already handed out cannot be taken back. Failed requests are
// retried with exponential backoff, a bounded number of times in a row
// (WithRetries); any progress resets the count. Redirects are followed by
// the http.Client, and every resume request goes to the original URL, so
// short-lived signed redirect targets are fetched anew.
//
// Limits: only file paths and http/https URLs; the context given to Open
// governs the whole download, resume requests included, so cancelling it
// (or calling Close) aborts a Read in progress. There is no stall timer: a
// connection that stays open but sends nothing blocks Read until the
// context ends (the default client only bounds the wait for response
// headers). Retry-After is not honoured. The source asks for
// "Accept-Encoding: identity" and passes on whatever bytes the server
// sends; decompression is the pipeline's job. A Source is for one reader:
// Read must not be called concurrently, though Close may be called while
// a Read is blocked.
package source
