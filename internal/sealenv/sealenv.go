package sealenv

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
)

const (
	// FDVar names the descriptor the re-executed image reads the secrets
	// from. It holds only a number; Seal unsets it (in the Go runtime's
	// copy of the environment) so that children do not inherit it.
	FDVar = "LEVIATHAN_SEALENV_FD"
	// OffVar set to "off" makes Seal leave the environment as it is.
	OffVar = "LEVIATHAN_SEALENV"
	// MaxSize is the largest encoded payload Seal passes on.
	MaxSize = 60 << 10
)

// Errors Seal returns, wrapped.
var (
	// ErrTooLarge means the secrets do not fit the pipe without blocking.
	ErrTooLarge = errors.New("sealenv: secrets too large")
	// ErrMalformed means the payload read back is not one Seal wrote.
	ErrMalformed = errors.New("sealenv: malformed payload")
)

// Options configure Seal.
type Options struct {
	// Names are the variables to take out of the environment. Those unset
	// or empty are left alone.
	Names []string
	// Log receives the warnings (sealing off, ptrace not restricted);
	// silent when nil.
	Log *slog.Logger
	// Executable is the program to re-execute: /proc/self/exe on Linux,
	// os.Executable elsewhere, when empty.
	Executable string
}

// Env is the process's environment with the sealed variables laid over
// it.
type Env struct {
	sealed map[string]string
}

// Getenv returns the sealed variable name, or else os.Getenv(name).
func (e *Env) Getenv(name string) string {
	v, _ := e.LookupEnv(name)
	return v
}

// LookupEnv returns the sealed variable name, or else
// os.LookupEnv(name).
func (e *Env) LookupEnv(name string) (string, bool) {
	if v, ok := e.sealed[name]; ok {
		return v, true
	}
	return os.LookupEnv(name)
}

// Sealed lists, sorted, the variables this process received through the
// pipe instead of its environment.
func (e *Env) Sealed() []string {
	out := make([]string, 0, len(e.sealed))
	for k := range e.sealed {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Seal must be called first in main, before any other goroutine could
// start a process. With OffVar set to "off" it returns an Env over the
// environment as it is, and warns when that holds any of o.Names. When
// FDVar is set, this is the re-executed image: Seal reads the secrets and
// returns them as an Env. Otherwise, when any of o.Names is set and not
// empty, it re-executes the program without them and does not return,
// unless re-executing failed: then it returns the error, and the caller
// must exit rather than run on. With nothing to seal it returns an Env
// over the environment as it is.
func Seal(o Options) (*Env, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if os.Getenv(OffVar) == "off" {
		// Checked first: then no re-execution happened, and FDVar, if
		// set, is not Seal's.
		if secrets := present(o.Names); len(secrets) > 0 {
			log.Warn("secrets left in the environment: any process of this user, the suites included, can read them from /proc/PID/environ",
				"variables", strings.Join(names(secrets), ","), OffVar, "off")
		}
		return &Env{}, nil
	}
	if v, ok := os.LookupEnv(FDVar); ok {
		e, err := receive(v)
		if err != nil {
			return nil, err
		}
		warnPtrace(log, ptraceScopePath)
		return e, nil
	}
	secrets := present(o.Names)
	if len(secrets) == 0 {
		return &Env{}, nil
	}
	payload, err := encode(secrets)
	if err != nil {
		return nil, err
	}
	if len(payload) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes encoded, at most %d pass through the pipe (variables %s)",
			ErrTooLarge, len(payload), MaxSize, strings.Join(names(secrets), ", "))
	}
	exe := o.Executable
	if exe == "" {
		if exe, err = selfExe(); err != nil {
			return nil, fmt.Errorf("sealenv: %w", err)
		}
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		_, ok := secrets[name]
		return ok || name == FDVar
	})
	err = reexec(exe, os.Args, env, payload)
	return nil, fmt.Errorf("sealenv: re-executing %s without %s: %w", exe, strings.Join(names(secrets), ", "), err)
}

// present returns the variables of names that are set and not empty.
func present(names []string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			out[n] = v
		}
	}
	return out
}

func names(m map[string]string) []string {
	return (&Env{sealed: m}).Sealed()
}

// receive reads the payload from the descriptor fdVar names and checks
// that none of its variables is still in the environment.
func receive(fdVar string) (*Env, error) {
	fd, err := strconv.Atoi(fdVar)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("sealenv: %s=%q: want a descriptor number above 2", FDVar, fdVar)
	}
	b, err := readPipe(fd)
	if err != nil {
		return nil, fmt.Errorf("sealenv: %s=%d: %w", FDVar, fd, err)
	}
	os.Unsetenv(FDVar)
	restoreName()
	m, err := decode(b)
	if err != nil {
		return nil, err
	}
	for n := range m {
		if _, ok := os.LookupEnv(n); ok {
			return nil, fmt.Errorf("sealenv: %s is in the environment although it was sealed", n)
		}
	}
	return &Env{sealed: m}, nil
}
