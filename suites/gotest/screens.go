package gotest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ScreensDir is the directory of a report directory that holds the
// screenshots taken when tests failed, with ScreensIndex listing them.
const (
	ScreensDir   = "screens"
	ScreensIndex = "screens.json"
)

// Shot is a screenshot taken when a test failed.
type Shot struct {
	Suite string    `json:"suite"`
	Test  string    `json:"test"`
	Time  time.Time `json:"time"`
	// File is the PNG's path relative to the report directory.
	File string `json:"file"`
}

// Shooter takes a screenshot of the DUT (a PNG).
type Shooter func(ctx context.Context) ([]byte, error)

// ShootOnFail returns an Options.OnFail that saves a screenshot of the DUT
// in reportDir/screens each time a test fails, and lists it in
// screens/screens.json. A failed screenshot is logged and otherwise
// ignored: the evidence is a help, the test result stands without it.
func ShootOnFail(reportDir string, shoot Shooter, log *slog.Logger) func(ctx context.Context, suite, test string) {
	var mu sync.Mutex
	var shots []Shot
	return func(ctx context.Context, suite, test string) {
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		png, err := shoot(sctx)
		if err != nil {
			log.Warn("gotest: no screenshot of the failure", "suite", suite, "test", test, "err", err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		shot := Shot{Suite: suite, Test: test, Time: time.Now(),
			File: filepath.ToSlash(filepath.Join(ScreensDir, fmt.Sprintf("%02d-%s-%s.png", len(shots)+1, fileName(suite), fileName(test))))}
		if err := writeShot(reportDir, shot, png, append(shots, shot)); err != nil {
			log.Warn("gotest: saving the failure's screenshot", "suite", suite, "test", test, "err", err)
			return
		}
		shots = append(shots, shot)
	}
}

func writeShot(reportDir string, shot Shot, png []byte, all []Shot) error {
	if err := os.MkdirAll(filepath.Join(reportDir, ScreensDir), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(reportDir, filepath.FromSlash(shot.File)), png, 0o644); err != nil {
		return err
	}
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(reportDir, ScreensDir, ScreensIndex), append(b, '\n'), 0o644)
}

// ReadShots reads the failure screenshots listed in reportDir; none is no
// error.
func ReadShots(reportDir string) ([]Shot, error) {
	b, err := os.ReadFile(filepath.Join(reportDir, ScreensDir, ScreensIndex))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gotest: %w", err)
	}
	var shots []Shot
	if err := json.Unmarshal(b, &shots); err != nil {
		return nil, fmt.Errorf("gotest: %s: %w", ScreensIndex, err)
	}
	return shots, nil
}
