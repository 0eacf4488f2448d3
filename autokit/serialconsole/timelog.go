package serialconsole

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// TimeFormat is the timestamp at the start of every log line.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// timeLog appends console output to a file, a timestamp before every
// line. Write errors are kept and reported by Close; the capture in memory
// is the authoritative copy.
type timeLog struct {
	mu     sync.Mutex
	f      *os.File
	now    func() time.Time
	midLn  bool // the last byte written was not a newline
	failed error
}

func openTimeLog(path string) (*timeLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("serialconsole: opening the console log: %w", err)
	}
	return &timeLog{f: f, now: time.Now}, nil
}

// Write writes p, starting each line with a timestamp. Carriage returns
// are dropped so that "\r\n" lines read cleanly.
func (l *timeLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed != nil {
		return 0, l.failed
	}
	stamp := l.now().Format(TimeFormat) + " "
	out := make([]byte, 0, len(p)+len(stamp))
	for _, b := range p {
		if b == '\r' {
			continue
		}
		if !l.midLn {
			out = append(out, stamp...)
			l.midLn = true
		}
		out = append(out, b)
		if b == '\n' {
			l.midLn = false
		}
	}
	if _, err := l.f.Write(out); err != nil {
		l.failed = fmt.Errorf("serialconsole: writing the console log: %w", err)
		return 0, l.failed
	}
	return len(p), nil
}

// Close ends an unfinished line and closes the file.
func (l *timeLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.midLn && l.failed == nil {
		l.f.Write([]byte("\n"))
	}
	err := l.f.Close()
	if l.failed != nil {
		return l.failed
	}
	return err
}
