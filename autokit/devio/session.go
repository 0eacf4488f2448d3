package devio

import (
	"fmt"
	"os"
	"path/filepath"
)

// Session is one recording file in use: it plays the file back or, when
// recording, logs what the real devices (Host) do so Finish can write the
// file. It implements Opener and FDOpener.
type Session struct {
	file string
	rec  *Record   // set when recording
	play *Playback // set when playing back
}

var (
	_ Opener   = (*Session)(nil)
	_ FDOpener = (*Session)(nil)
)

// OpenSession starts a session on file. With record false it loads the
// recording for playback; with record true it records the real devices
// and reads nothing.
func OpenSession(file string, record bool) (*Session, error) {
	if record {
		return &Session{file: file, rec: &Record{Opener: Host{}}}, nil
	}
	p, err := Load(file)
	if err != nil {
		return nil, err
	}
	return &Session{file: file, play: p}, nil
}

// File is the recording file the session plays back or will write.
func (s *Session) File() string { return s.file }

// Recording reports whether the session records real devices.
func (s *Session) Recording() bool { return s.rec != nil }

// Open implements Opener.
func (s *Session) Open(path string, flag int) (Device, error) {
	if s.rec != nil {
		return s.rec.Open(path, flag)
	}
	return s.play.Open(path, flag)
}

// OpenFD implements FDOpener.
func (s *Session) OpenFD(fd uintptr, name string) (Device, error) {
	if s.rec != nil {
		return s.rec.OpenFD(fd, name)
	}
	return s.play.OpenFD(fd, name)
}

// Finish ends the session. In playback it returns the first mismatch and
// any recorded operations left unused (see Playback.Done). When recording
// it writes the file, creating its directory, with comment lines at its
// head saying where the recording came from.
func (s *Session) Finish(comment ...string) error {
	if s.play != nil {
		return s.play.Done()
	}
	if err := os.MkdirAll(filepath.Dir(s.file), 0o755); err != nil {
		return fmt.Errorf("devio: saving recording %s: %w", s.file, err)
	}
	if err := s.rec.Save(s.file, comment...); err != nil {
		return fmt.Errorf("devio: saving recording %s: %w", s.file, err)
	}
	return nil
}
