package envconf

import (
	"flag"
	"io"
	"strings"
	"testing"
)

type flagged struct {
	url    string
	memory int
	strict bool
}

func newFlagged(getenv func(string) string) (*Flags, *flagged) {
	var v flagged
	fs := NewFlags(flag.NewFlagSet("t", flag.ContinueOnError), getenv)
	fs.SetOutput(io.Discard)
	fs.EnvStringVar(&v.url, "worker", "T_URL", "http://default", "worker URL")
	fs.EnvIntVar(&v.memory, "memory", "T_MEMORY", 512, "memory in MiB")
	fs.EnvBoolVar(&v.strict, "strict", "T_STRICT", false, "be strict")
	return fs, &v
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want flagged
		err  string
	}{
		{"defaults", nil, nil, flagged{"http://default", 512, false}, ""},
		{"environment", map[string]string{"T_URL": "http://env", "T_MEMORY": "1024", "T_STRICT": "true"}, nil, flagged{"http://env", 1024, true}, ""},
		{"command line wins", map[string]string{"T_URL": "http://env", "T_MEMORY": "1024", "T_STRICT": "true"},
			[]string{"--worker", "http://flag", "--memory", "256", "--strict=false"}, flagged{"http://flag", 256, false}, ""},
		{"a bad variable the command line overrides", map[string]string{"T_MEMORY": "lots"}, []string{"--memory", "64"}, flagged{"http://default", 64, false}, ""},
		{"bad integer", map[string]string{"T_MEMORY": "lots"}, nil, flagged{}, `T_MEMORY="lots" (for --memory) is not an integer`},
		{"bad bool", map[string]string{"T_STRICT": "maybe"}, nil, flagged{}, `T_STRICT="maybe" (for --strict) is not true or false`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, got := newFlagged(env(tc.env))
			err := fs.Parse(tc.args)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Parse = %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil || *got != tc.want {
				t.Errorf("Parse = %+v, %v; want %+v", *got, err, tc.want)
			}
		})
	}
}

// TestFlagsUsage: --help names each flag's variable and never prints a
// variable's value.
func TestFlagsUsage(t *testing.T) {
	fs, _ := newFlagged(env(map[string]string{"T_URL": "http://secret"}))
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	for _, want := range []string{"worker URL [$T_URL]", "[$T_MEMORY]", "[$T_STRICT]"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "secret") {
		t.Errorf("usage shows a variable's value:\n%s", b.String())
	}
}
