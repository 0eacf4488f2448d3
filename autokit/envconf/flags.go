package envconf

import (
	"flag"
	"fmt"
	"time"
)

// Flags is a flag.FlagSet whose flags may fall back to an environment
// variable, so that a setting is defined once for both: the command line
// wins, then the variable (when not empty), then the flag's default.
// Variables are read through Getenv only, when Parse runs, so tests
// inject them and --help never prints a variable's value (a token).
type Flags struct {
	*flag.FlagSet
	// Getenv reads the variables.
	Getenv func(string) string
	vars   []flagVar
}

// flagVar binds a flag to its variable.
type flagVar struct{ flag, env string }

// NewFlags wraps fs, reading variables through getenv.
func NewFlags(fs *flag.FlagSet, getenv func(string) string) *Flags {
	return &Flags{FlagSet: fs, Getenv: getenv}
}

// EnvVar declares flag name, backed by v, that falls back to variable env.
// Its usage ends in [$ENV].
func (f *Flags) EnvVar(v flag.Value, name, env, usage string) {
	f.Var(v, name, usage+" [$"+env+"]")
	f.vars = append(f.vars, flagVar{name, env})
}

// EnvStringVar declares a string flag that falls back to variable env.
func (f *Flags) EnvStringVar(p *string, name, env, value, usage string) {
	f.StringVar(p, name, value, usage+" [$"+env+"]")
	f.vars = append(f.vars, flagVar{name, env})
}

// EnvIntVar declares an int flag that falls back to variable env.
func (f *Flags) EnvIntVar(p *int, name, env string, value int, usage string) {
	f.IntVar(p, name, value, usage+" [$"+env+"]")
	f.vars = append(f.vars, flagVar{name, env})
}

// EnvBoolVar declares a bool flag that falls back to variable env (true,
// false, 1, 0, as strconv.ParseBool reads them).
func (f *Flags) EnvBoolVar(p *bool, name, env string, value bool, usage string) {
	f.BoolVar(p, name, value, usage+" [$"+env+"]")
	f.vars = append(f.vars, flagVar{name, env})
}

// Parse parses args, then sets each flag the command line left out from
// its variable. A malformed variable is an error that names it.
func (f *Flags) Parse(args []string) error {
	if err := f.FlagSet.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	for _, v := range f.vars {
		raw := f.Getenv(v.env)
		if given[v.flag] || raw == "" {
			continue
		}
		if err := f.Set(v.flag, raw); err != nil {
			return &VariableError{fmt.Sprintf("%s=%q (for --%s) %s", v.env, raw, v.flag, wrong(f.Lookup(v.flag), err))}
		}
	}
	return nil
}

// VariableError is an environment variable whose value its flag refuses.
// Unlike a bad flag, the flag set has not printed it.
type VariableError struct{ msg string }

func (e *VariableError) Error() string { return e.msg }

// wrong says what is wrong with a value fl refused with err.
func wrong(fl *flag.Flag, err error) string {
	if g, ok := fl.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case time.Duration:
			return "is not a duration such as 500ms or 5s"
		case int, int64, uint, uint64:
			return "is not an integer"
		case bool:
			return "is not true or false"
		case float64:
			return "is not a number"
		}
	}
	return "is not valid: " + err.Error()
}
