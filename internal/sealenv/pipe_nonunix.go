//go:build !unix

package sealenv

import (
	"errors"
	"runtime"
)

var errUnsupported = errors.New("not supported on " + runtime.GOOS + "; set " + OffVar + "=off to run with the secrets in the environment")

func selfExe() (string, error) { return "", errUnsupported }

func reexec(exe string, argv, env []string, payload []byte) error { return errUnsupported }

func readPipe(fd int) ([]byte, error) { return nil, errUnsupported }

func restoreName() {}
