package envconf

import (
	"errors"
	"strings"
	"testing"
	"time"
)

type cfg struct {
	URL     string        `envconfig:"URL" required:"true"`
	Channel int           `envconfig:"CHANNEL" default:"1"`
	Wait    time.Duration `envconfig:"WAIT" default:"2s"`
	On      bool          `envconfig:"ON"`
}

var errNone = errors.New("thing: THING is not set")

var family = Family[string, int]{Package: "thing", Prefix: "THING", NotConfigured: errNone, Drivers: []Driver[string, int]{
	Entry("plug", "a plug", func(c cfg, dep int) (string, error) {
		return c.URL + "#" + string(rune('0'+c.Channel+dep)), nil
	}),
}}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFamilyOpen(t *testing.T) {
	got, err := family.Open(env(map[string]string{"THING": "plug", "THING_URL": "http://p"}), 1)
	if err != nil || got != "http://p#2" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "THING is not set; one of: plug"},
		{map[string]string{"THING": "socket"}, `unknown THING="socket"; one of: plug`},
		{map[string]string{"THING": "plug"}, "THING_URL is required"},
		{map[string]string{"THING": "plug", "THING_URL": "u", "THING_CHANNEL": "two"}, `THING_CHANNEL="two" is not an integer`},
		{map[string]string{"THING": "plug", "THING_URL": "u", "THING_WAIT": "soon"}, `THING_WAIT="soon" is not a duration`},
		{map[string]string{"THING": "plug", "THING_URL": "u", "THING_ON": "maybe"}, `THING_ON="maybe" is not true or false`},
	} {
		if _, err := family.Open(env(tc.env), 0); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%v) = %v, want %q", tc.env, err, tc.want)
		}
	}
	if _, err := family.Open(env(map[string]string{}), 0); !errors.Is(err, errNone) {
		t.Errorf("an unset family variable does not wrap NotConfigured: %v", err)
	}
}

func TestUsage(t *testing.T) {
	var b strings.Builder
	if err := family.Usage(&b); err != nil || !strings.Contains(b.String(), "THING=plug: a plug") || !strings.Contains(b.String(), "THING_URL") {
		t.Errorf("Usage = %v\n%s", err, b.String())
	}
}
