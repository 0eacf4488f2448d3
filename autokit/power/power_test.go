package power

import (
	"bytes"
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/kelseyhightower/envconfig"

	"github.com/balena/leviathan-action/autokit/dut"
	"github.com/balena/leviathan-action/autokit/power/button"
	"github.com/balena/leviathan-action/autokit/power/dli"
	"github.com/balena/leviathan-action/autokit/power/dummy"
	"github.com/balena/leviathan-action/autokit/power/pdudaemon"
	"github.com/balena/leviathan-action/autokit/power/shelly"
	"github.com/balena/leviathan-action/autokit/power/tasmota"
	"github.com/balena/leviathan-action/autokit/relay/relaytest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestOpenEachDriver(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want any
	}{
		{map[string]string{"POWER": "tasmota", "POWER_URL": "http://plug"}, (*tasmota.Driver)(nil)},
		{map[string]string{"POWER": "Shelly", "POWER_URL": "http://plug", "POWER_PASSWORD": "x"}, (*shelly.Driver)(nil)},
		{map[string]string{"POWER": "dli", "POWER_URL": "http://pdu", "POWER_OUTLET": "3", "POWER_PASSWORD": "1234"}, (*dli.Driver)(nil)},
		{map[string]string{"POWER": "pdudaemon", "POWER_URL": "http://pdud:16421", "POWER_ALIAS": "rpi4"}, (*pdudaemon.Driver)(nil)},
		{map[string]string{"POWER": "dummy"}, (*dummy.Driver)(nil)},
	} {
		p, err := Open(env(tc.env))
		if err != nil {
			t.Errorf("Open(%v): %v", tc.env, err)
			continue
		}
		if reflect.TypeOf(p) != reflect.TypeOf(tc.want) {
			t.Errorf("Open(%v) = %T; want %T", tc.env, p, tc.want)
		}
	}
}

// setOnly is a relay that cannot read its channels back.
type setOnly struct{}

func (setOnly) Set(context.Context, int, bool) error { return nil }

func TestOpenButton(t *testing.T) {
	e := env(map[string]string{"POWER": "button", "POWER_PRESS_ON": "200ms", "POWER_PRESS_OFF": "6s", "POWER_CHANNEL": "1"})
	if _, err := Open(e); err == nil || !strings.Contains(err.Error(), "DIGITAL_RELAY") {
		t.Fatalf("Open without a relay = %v", err)
	}
	p, err := Open(e, WithRelay(setOnly{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.(*button.Driver); !ok {
		t.Fatalf("Open = %T", p)
	}
}

func TestOpenRelay(t *testing.T) {
	ctx := t.Context()
	for _, nc := range []string{"false", "true"} {
		e := env(map[string]string{"POWER": "relay", "POWER_CHANNEL": "2", "POWER_NORMALLY_CLOSED": nc})
		r := &relaytest.Fake{N: 2}
		p, err := Open(e, WithRelay(r))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.On(ctx); err != nil {
			t.Fatal(err)
		}
		if closed, _ := r.State(ctx, 2); closed != (nc == "false") {
			t.Errorf("NORMALLY_CLOSED=%s: after On the relay is closed=%v", nc, closed)
		}
	}
	for _, tc := range []struct {
		env   map[string]string
		relay dut.Relay
		want  string
	}{
		{map[string]string{"POWER": "relay", "POWER_CHANNEL": "1"}, nil, "configure DIGITAL_RELAY"},
		{map[string]string{"POWER": "relay", "POWER_CHANNEL": "1"}, setOnly{}, "reads its channels back"},
		{map[string]string{"POWER": "relay"}, &relaytest.Fake{N: 1}, "POWER_CHANNEL is required"},
		{map[string]string{"POWER": "relay", "POWER_CHANNEL": "0"}, &relaytest.Fake{N: 1}, "channels count from 1"},
	} {
		var opts []Option
		if tc.relay != nil {
			opts = append(opts, WithRelay(tc.relay))
		}
		if _, err := Open(env(tc.env), opts...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%v) = %v; want an error containing %q", tc.env, err, tc.want)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "POWER is not set; one of: button, dli, dummy, pdudaemon, relay, shelly, tasmota"},
		{map[string]string{"POWER": "apc"}, `unknown POWER="apc"; one of: button, dli, dummy, pdudaemon, relay, shelly, tasmota`},
		{map[string]string{"POWER": "tasmota"}, "POWER=tasmota: POWER_URL is required"},
		{map[string]string{"POWER": "tasmota", "POWER_URL": "http://plug", "POWER_CHANNEL": "two"}, `POWER_CHANNEL="two" is not an integer`},
		{map[string]string{"POWER": "shelly", "POWER_URL": "http://plug", "POWER_TIMEOUT": "5"}, `POWER_TIMEOUT="5" is not a duration`},
		{map[string]string{"POWER": "dli", "POWER_URL": "http://pdu"}, "POWER_PASSWORD is required"},
		{map[string]string{"POWER": "pdudaemon", "POWER_URL": "http://pdud"}, "POWER_HOSTNAME and POWER_PORT (or POWER_ALIAS) are required"},
		{map[string]string{"POWER": "tasmota", "POWER_URL": "http://admin:pw@plug"}, "carries credentials"},
		{map[string]string{"POWER": "dummy", "POWER_INITIAL": "maybe"}, `initial state "maybe"`},
	} {
		_, err := Open(env(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "power: ") {
			t.Errorf("Open(%v) = %v; want an error containing %q", tc.env, err, tc.want)
		}
	}
	if _, err := Open(env(nil)); !errors.Is(err, ErrNotConfigured) {
		t.Errorf("Open with no POWER = %v; want ErrNotConfigured", err)
	}
}

// TestLoadAgreesWithEnvconfig checks that Load reads every driver's Config
// as envconfig.Process does from the process environment.
func TestLoadAgreesWithEnvconfig(t *testing.T) {
	vars := map[string]string{
		"POWER_URL": "http://device:8080", "POWER_CHANNEL": "3", "POWER_OUTLET": "0x2", "POWER_USER": "root",
		"POWER_PASSWORD": "pw", "POWER_TIMEOUT": "1500ms", "POWER_SETTLE": "2s", "POWER_HOSTNAME": "pdu1",
		"POWER_PORT": "4", "POWER_DELAY": "1", "POWER_PRESS_ON": "300ms", "POWER_INITIAL": "on",
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
	for _, d := range Drivers() {
		// POWER_PRESS_OFF and POWER_ALIAS stay unset: defaults and
		// empty optional fields must agree too.
		viaEnvconfig, viaLoad := d.Config(), d.Config()
		if err := envconfig.Process(Prefix, viaEnvconfig); err != nil {
			t.Fatalf("%s: envconfig: %v", d.Name, err)
		}
		if err := Load(os.Getenv, Prefix, viaLoad); err != nil {
			t.Fatalf("%s: Load: %v", d.Name, err)
		}
		if !reflect.DeepEqual(viaEnvconfig, viaLoad) {
			t.Errorf("%s: envconfig read %+v, Load read %+v", d.Name, viaEnvconfig, viaLoad)
		}
	}
}

func TestUsage(t *testing.T) {
	var b bytes.Buffer
	if err := Usage(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"POWER=tasmota", "POWER_URL", "POWER_PRESS_OFF", "5s", "POWER_OUTLET"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("Usage lacks %q:\n%s", want, b.String())
		}
	}
}

func TestDriversImplementPower(t *testing.T) {
	for _, d := range Drivers() {
		if d.Name != strings.ToLower(d.Name) {
			t.Errorf("driver name %q is not lower case", d.Name)
		}
	}
	var _ dut.Power = (*dummy.Driver)(nil)
}
