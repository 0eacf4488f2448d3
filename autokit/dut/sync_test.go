package dut

import (
	"bytes"
	"sync"
)

var bufMu sync.Mutex

// lockedBuf guards a bytes.Buffer shared between a follower and the test.
type lockedBuf struct{ b *bytes.Buffer }

func (l *lockedBuf) Write(p []byte) (int, error) {
	bufMu.Lock()
	defer bufMu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	bufMu.Lock()
	defer bufMu.Unlock()
	return l.b.String()
}
