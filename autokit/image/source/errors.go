package source

import (
	"errors"
	"fmt"
	"strconv"
)

// Reasons a broken download could not be resumed, for errors.Is.
var (
	// ErrNotResumable is a server that cannot continue a download where
	// it broke off: it ignores Range requests, refuses them, or gives no
	// validator (strong ETag or Last-Modified) to prove the file is
	// unchanged.
	ErrNotResumable = errors.New("source: the server does not support resuming")
	// ErrChanged is a file that changed on the server while it was being
	// read; the bytes already read belong to the old file.
	ErrChanged = errors.New("source: the file changed on the server during the download")
)

// StatusError is an HTTP reply with a status that is not success.
type StatusError struct {
	// URL is the URL asked for, without password.
	URL string
	// StatusCode and Status are the reply's ("404", "404 Not Found").
	StatusCode int
	Status     string
	// Body is the start of the reply's body (at most 512 bytes), often
	// the server's explanation.
	Body string
}

// Error implements error.
func (e *StatusError) Error() string {
	return fmt.Sprintf("source: GET %s: %s", e.URL, e.Status)
}

// Temporary reports whether retrying the request may succeed (timeouts,
// throttling, server errors).
func (e *StatusError) Temporary() bool {
	switch e.StatusCode {
	case 408, 425, 429, 500, 502, 503, 504:
		return true
	}
	return false
}

// InterruptedError is returned by Read when a download broke off and
// could not be resumed.
type InterruptedError struct {
	// URL is the image's URL, without password.
	URL string
	// Offset is how many bytes Read delivered before the break.
	Offset int64
	// Size is the image's size, -1 when unknown.
	Size int64
	// Attempts is how many resume requests were made.
	Attempts int
	// Cause is why the download broke off (often io.ErrUnexpectedEOF).
	Cause error
	// Err is why it could not be resumed: ErrNotResumable, ErrChanged, a
	// *StatusError, or the last request's error.
	Err error
}

// Error implements error.
func (e *InterruptedError) Error() string {
	at := strconv.FormatInt(e.Offset, 10)
	if e.Size >= 0 {
		at += " of " + strconv.FormatInt(e.Size, 10)
	}
	tries := ""
	switch e.Attempts {
	case 0:
	case 1:
		tries = " after 1 attempt"
	default:
		tries = " after " + strconv.Itoa(e.Attempts) + " attempts"
	}
	return fmt.Sprintf("source: the download of %s broke off at byte %s (%v) and could not be resumed%s: %v",
		e.URL, at, e.Cause, tries, e.Err)
}

// Unwrap returns Err and Cause, for errors.Is and errors.As.
func (e *InterruptedError) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.Err, e.Cause} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
