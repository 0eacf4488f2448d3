package bmap

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Classes of errors, for errors.Is. Every *Error wraps exactly one.
var (
	// ErrInvalid is a file that is not a well-formed, self-consistent
	// block map.
	ErrInvalid = errors.New("bmap: invalid block map")
	// ErrUnsupported is a well-formed block map in a format version or
	// with a checksum type this package does not read.
	ErrUnsupported = errors.New("bmap: unsupported block map")
	// ErrChecksum is a block map whose own checksum does not match its
	// contents: the file was damaged or edited by hand.
	ErrChecksum = errors.New("bmap: block map checksum mismatch")
	// ErrSizeMismatch is a block map that describes an image of another
	// size than the one at hand: the wrong map for this image.
	ErrSizeMismatch = errors.New("bmap: block map does not fit the image")
)

// Error says what is wrong with a block map and where.
type Error struct {
	// Element is the XML element at fault ("BlockSize", "Range", "bmap"),
	// or "" when the fault is in the file as a whole.
	Element string
	// Index is the 0-based position of the <Range> among the ranges, or
	// -1 when the fault is not in a single range.
	Index int
	// Line is the line of the file where the element is, 0 when unknown.
	Line int
	// Text is the offending text as found in the file, trimmed; "" when
	// there is none (a missing element).
	Text string
	// Reason says what is wrong, in words.
	Reason string
	// Err is the class: ErrInvalid, ErrUnsupported, ErrChecksum or
	// ErrSizeMismatch.
	Err error
	// Cause is the underlying error (an *xml.SyntaxError, a read error),
	// or nil.
	Cause error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("bmap: ")
	where := false
	if e.Element != "" {
		b.WriteString("<" + e.Element + ">")
		if e.Index >= 0 {
			b.WriteString("[" + strconv.Itoa(e.Index) + "]")
		}
		where = true
	}
	if e.Line > 0 {
		if where {
			b.WriteString(" ")
		}
		b.WriteString("line " + strconv.Itoa(e.Line))
		where = true
	}
	if e.Text != "" {
		if where {
			b.WriteString(" ")
		}
		b.WriteString(strconv.Quote(clip(e.Text, 80)))
		where = true
	}
	if where {
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	if e.Cause != nil {
		b.WriteString(": " + e.Cause.Error())
	}
	return b.String()
}

// Unwrap returns the class and the cause, for errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	errs := []error{e.Err}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}

// clip shortens s to at most n bytes for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// errorf builds an *Error of class class about element (and range index,
// -1 for none) at line, quoting text.
func errorf(class error, element string, index, line int, text, format string, args ...any) *Error {
	return &Error{Element: element, Index: index, Line: line, Text: text, Reason: fmt.Sprintf(format, args...), Err: class}
}
