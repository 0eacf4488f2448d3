package envconf

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

type listCfg struct {
	Names []string `envconfig:"NAMES" default:"a,b"`
	Lines []int    `envconfig:"LINES" required:"true" desc:"line offsets, e.g. 17,27"`
}

type checked struct {
	Port int `envconfig:"PORT" default:"80"`
}

func (c checked) Validate() error {
	if c.Port > 65535 {
		return errors.New("thing: THING_PORT is past 65535")
	}
	return nil
}

func TestLoad(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		spec any
		want string // error; "" for success
	}{
		{"defaults and a list", map[string]string{"THING_LINES": "17, 27"}, &listCfg{}, ""},
		{"missing variable", map[string]string{}, &listCfg{}, "THING_LINES is required (line offsets, e.g. 17,27)"},
		{"bad list item", map[string]string{"THING_LINES": "17,x"}, &listCfg{}, `THING_LINES="17,x": "x" is not an integer`},
		{"empty list item", map[string]string{"THING_LINES": "17,,27"}, &listCfg{}, `THING_LINES="17,,27" has an empty item`},
		{"valid", map[string]string{"THING_PORT": "8080"}, &checked{}, ""},
		{"invalid", map[string]string{"THING_PORT": "99999"}, &checked{}, "THING_PORT is past 65535"},
		{"bad integer before Validate", map[string]string{"THING_PORT": "http"}, &checked{}, `THING_PORT="http" is not an integer`},
		{"not a struct pointer", nil, listCfg{}, "needs a pointer to a struct"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Load(env(tc.env), "THING", tc.spec)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	var c listCfg
	if err := Load(env(map[string]string{"THING_LINES": "17, 27"}), "THING", &c); err != nil ||
		!slices.Equal(c.Names, []string{"a", "b"}) || !slices.Equal(c.Lines, []int{17, 27}) {
		t.Errorf("Load = %+v, %v", c, err)
	}
}
