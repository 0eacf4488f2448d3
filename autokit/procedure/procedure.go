package procedure

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"
)

// Action is what a step does.
type Action string

// The actions.
const (
	PowerOff      Action = "power-off"       // cut power
	PowerOn       Action = "power-on"        // apply power
	Flash         Action = "flash"           // write the image (through the mux, or to the usb-boot device)
	WaitPowerDown Action = "wait-power-down" // wait until a flasher image has shut the DUT down
	MuxHost       Action = "mux-host"        // switch the medium to the testbot (away from the DUT)
	MuxDUT        Action = "mux-dut"         // switch the medium to the DUT
	USBBoot       Action = "usb-boot"        // run the USB boot tool and wait for the storage to appear
	Relay         Action = "relay"           // set a digital relay (boot switch, jumper)
	Sleep         Action = "sleep"           // wait a fixed time
)

// State is where the DUT is in a procedure.
type State string

// The states.
const (
	Unknown    State = "unknown"
	Off        State = "off"
	On         State = "on"
	Flashed    State = "flashed"     // off, with the image on its medium
	Halted     State = "halted"      // powered, but shut down by the flasher image
	USB        State = "usb"         // in USB boot mode, storage exposed to the testbot
	USBFlashed State = "usb-flashed" // as USB, with the image written
)

// transitions is the state machine: for each action, the states it may
// start from and where it leads. A state missing from an action's map has
// no transition. Actions not listed in same keep the state.
var transitions = map[Action]map[State]State{
	PowerOff:      {Unknown: Off, Off: Off, On: Off, Flashed: Flashed, Halted: Off, USB: Off, USBFlashed: Flashed},
	PowerOn:       {Off: On, Flashed: On},
	Flash:         {Off: Flashed, Flashed: Flashed, USB: USBFlashed},
	WaitPowerDown: {On: Halted},
	MuxHost:       {Off: Off, Flashed: Off},
	MuxDUT:        {Off: Off, Flashed: Flashed},
	USBBoot:       {On: USB},
	Relay:         {Unknown: Unknown, Off: Off, On: On, Flashed: Flashed, Halted: Halted, USB: USB, USBFlashed: USBFlashed},
	Sleep:         {Unknown: Unknown, Off: Off, On: On, Flashed: Flashed, Halted: Halted, USB: USB, USBFlashed: USBFlashed},
}

// Next is the state after action from s, and false when no transition
// exists.
func Next(s State, a Action) (State, bool) {
	to, ok := transitions[a][s]
	return to, ok
}

// Step is one step of a procedure.
type Step struct {
	Action Action
	Line   int // in the procedure file, 0 for built-in steps

	// wait-power-down
	Serial  *regexp.Regexp // a console message
	Carrier string         // an interface whose carrier drops
	// wait-power-down, usb-boot: how long; sleep: how long to sleep
	Timeout time.Duration
	// usb-boot
	Command []string
	Device  string
	// relay
	Channel int
	Closed  bool
}

// Procedure is how an image gets onto the boards of some device types.
type Procedure struct {
	File        string // where it was read from, for errors
	Name        string // the built-in's name, or the file's base name
	DeviceTypes []string
	Steps       []Step
}

// FileError is a problem in a procedure file.
type FileError struct {
	File string
	Line int // 0 when unknown
	Err  error
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("procedure: %s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("procedure: %s: %v", e.File, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// Defaults for the built-ins.
const (
	DefaultPowerDownTimeout = 30 * time.Minute
	DefaultUSBBootTimeout   = 2 * time.Minute
	DefaultPowerDownMessage = `reboot: Power down|Power down`
)

// Builtins lists the built-in procedure names.
func Builtins() []string { return []string{"flasher", "sd-mux", "usb-boot"} }

// MaxFileSize bounds a procedure file.
const MaxFileSize = 64 << 10

// Parse reads a procedure file's YAML. name is used in errors; getenv
// expands ${VAR} (os.Getenv for the process environment).
func Parse(name string, data []byte, getenv func(string) string) (*Procedure, error) {
	p := &parser{file: name, getenv: getenv}
	if len(data) > MaxFileSize {
		return nil, p.errf(0, "larger than %d bytes", MaxFileSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, p.errf(0, "empty: a procedure needs device-types and a procedure or steps")
		}
		var le *yaml.LoadError
		if errors.As(err, &le) && le.Mark.Line > 0 {
			return nil, p.errf(le.Mark.Line, "yaml: %s", le.Message)
		}
		return nil, &FileError{File: name, Err: err}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	return p.top(root)
}

// Load reads the procedure file at name in fsys.
func Load(fsys fs.FS, name string, getenv func(string) string) (*Procedure, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("procedure: %w", err)
	}
	return Parse(name, data, getenv)
}

// Set is the procedures of a directory, by device type.
type Set struct {
	byType map[string]*Procedure
}

// LoadDir reads every *.yaml and *.yml file in dir of fsys. A device type
// claimed by two files is an error naming both.
func LoadDir(fsys fs.FS, dir string, getenv func(string) string) (*Set, error) {
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("procedure: %w", err)
	}
	s := &Set{byType: map[string]*Procedure{}}
	for _, e := range ents {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			continue
		}
		p, err := Load(fsys, path.Join(dir, e.Name()), getenv)
		if err != nil {
			return nil, err
		}
		for _, dt := range p.DeviceTypes {
			if old, ok := s.byType[dt]; ok {
				return nil, &FileError{File: p.File, Err: fmt.Errorf("device type %q is also claimed by %s", dt, old.File)}
			}
			s.byType[dt] = p
		}
	}
	return s, nil
}

// For returns the procedure for a device type.
func (s *Set) For(deviceType string) (*Procedure, error) {
	if p, ok := s.byType[deviceType]; ok {
		return p, nil
	}
	known := make([]string, 0, len(s.byType))
	for k := range s.byType {
		known = append(known, k)
	}
	slices.Sort(known)
	return nil, fmt.Errorf("procedure: no procedure for device type %q; known: %s", deviceType, strings.Join(known, ", "))
}

type parser struct {
	file   string
	getenv func(string) string
}

func (p *parser) errf(line int, format string, a ...any) error {
	return &FileError{File: p.file, Line: line, Err: fmt.Errorf(format, a...)}
}

var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// str reads a scalar string, expanding ${VAR}.
func (p *parser) str(n *yaml.Node, field string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", p.errf(n.Line, "%s: want a string", field)
	}
	var err error
	out := varRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
		name := varRef.FindStringSubmatch(ref)[1]
		v := ""
		if p.getenv != nil {
			v = p.getenv(name)
		}
		if v == "" && err == nil {
			err = p.errf(n.Line, "%s: %s is not set", field, name)
		}
		return v
	})
	return out, err
}

func (p *parser) duration(n *yaml.Node, field string) (time.Duration, error) {
	s, err := p.str(n, field)
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, p.errf(n.Line, "%s: %q is not a positive duration such as 90s or 30m", field, s)
	}
	return d, nil
}

func (p *parser) strs(n *yaml.Node, field string) ([]string, error) {
	if n.Kind == yaml.ScalarNode {
		s, err := p.str(n, field)
		if err != nil {
			return nil, err
		}
		return strings.Fields(s), nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, p.errf(n.Line, "%s: want a list of strings", field)
	}
	var out []string
	for _, c := range n.Content {
		s, err := p.str(c, field)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// fields walks a mapping, calling f for each key; unknown keys are f's
// to reject.
func (p *parser) fields(n *yaml.Node, what string, f func(key string, v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return p.errf(n.Line, "%s: want a mapping", what)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			return p.errf(k.Line, "%s: %s given twice", what, k.Value)
		}
		seen[k.Value] = true
		if err := f(k.Value, v); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) top(root *yaml.Node) (*Procedure, error) {
	proc := &Procedure{File: p.file, Name: strings.TrimSuffix(strings.TrimSuffix(path.Base(p.file), ".yaml"), ".yml")}
	var builtin string
	var builtinLine int
	var steps, powerDown, usbBoot *yaml.Node
	err := p.fields(root, "procedure file", func(k string, v *yaml.Node) error {
		var err error
		switch k {
		case "device-types":
			proc.DeviceTypes, err = p.strs(v, k)
		case "procedure":
			builtin, err = p.str(v, k)
			builtinLine = v.Line
		case "steps":
			steps = v
		case "power-down":
			powerDown = v
		case "usb-boot":
			usbBoot = v
		default:
			err = p.errf(v.Line, "unknown key %q; allowed: device-types, procedure, steps, power-down, usb-boot", k)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(proc.DeviceTypes) == 0 {
		return nil, p.errf(root.Line, "device-types is missing or empty")
	}
	switch {
	case builtin != "" && steps != nil:
		return nil, p.errf(builtinLine, "give either procedure or steps, not both")
	case builtin == "" && steps == nil:
		return nil, p.errf(root.Line, "neither procedure (one of %s) nor steps is given", strings.Join(Builtins(), ", "))
	case steps != nil:
		if powerDown != nil || usbBoot != nil {
			return nil, p.errf(root.Line, "power-down and usb-boot configure the built-in procedures; with steps, put them on the steps")
		}
		if steps.Kind != yaml.SequenceNode || len(steps.Content) == 0 {
			return nil, p.errf(steps.Line, "steps: want a non-empty list")
		}
		for _, n := range steps.Content {
			s, err := p.step(n)
			if err != nil {
				return nil, err
			}
			proc.Steps = append(proc.Steps, s)
		}
	default:
		proc.Name = builtin
		wait := Step{Action: WaitPowerDown, Line: builtinLine, Timeout: DefaultPowerDownTimeout}
		usb := Step{Action: USBBoot, Line: builtinLine, Timeout: DefaultUSBBootTimeout}
		switch builtin {
		case "sd-mux":
			proc.Steps = []Step{{Action: PowerOff}, {Action: Flash}}
		case "flasher":
			if powerDown != nil {
				if err := p.params(&wait, powerDown); err != nil {
					return nil, err
				}
			}
			if wait.Serial == nil && wait.Carrier == "" {
				wait.Serial = regexp.MustCompile(DefaultPowerDownMessage)
			}
			proc.Steps = []Step{{Action: PowerOff}, {Action: Flash}, {Action: PowerOn}, wait, {Action: PowerOff}, {Action: MuxHost}}
		case "usb-boot":
			if usbBoot == nil {
				return nil, p.errf(builtinLine, "procedure usb-boot needs a usb-boot section with command and device")
			}
			if err := p.params(&usb, usbBoot); err != nil {
				return nil, err
			}
			proc.Steps = []Step{{Action: PowerOff}, {Action: PowerOn}, usb, {Action: Flash}, {Action: PowerOff}}
		default:
			return nil, p.errf(builtinLine, "unknown procedure %q; one of: %s", builtin, strings.Join(Builtins(), ", "))
		}
		if builtin != "flasher" && powerDown != nil {
			return nil, p.errf(powerDown.Line, "power-down applies to procedure flasher only")
		}
		if builtin != "usb-boot" && usbBoot != nil {
			return nil, p.errf(usbBoot.Line, "usb-boot applies to procedure usb-boot only")
		}
	}
	for i := range proc.Steps {
		if err := p.check(&proc.Steps[i]); err != nil {
			return nil, err
		}
	}
	if err := p.walk(proc); err != nil {
		return nil, err
	}
	return proc, nil
}

// step reads "action" or "action: {params}".
func (p *parser) step(n *yaml.Node) (Step, error) {
	s := Step{Line: n.Line}
	switch n.Kind {
	case yaml.ScalarNode:
		s.Action = Action(n.Value)
	case yaml.MappingNode:
		if len(n.Content) != 2 {
			return s, p.errf(n.Line, "a step is one action with its parameters")
		}
		s.Action = Action(n.Content[0].Value)
		if err := p.params(&s, n.Content[1]); err != nil {
			return s, err
		}
	default:
		return s, p.errf(n.Line, "a step is an action name or a mapping of one action to its parameters")
	}
	if _, ok := transitions[s.Action]; !ok {
		names := make([]string, 0, len(transitions))
		for a := range transitions {
			names = append(names, string(a))
		}
		slices.Sort(names)
		return s, p.errf(n.Line, "unknown action %q; one of: %s", s.Action, strings.Join(names, ", "))
	}
	return s, nil
}

// params fills s's parameters from a mapping; which keys apply depends on
// s.Action.
func (p *parser) params(s *Step, n *yaml.Node) error {
	allowed := map[Action][]string{
		WaitPowerDown: {"serial", "carrier", "timeout"},
		USBBoot:       {"command", "device", "timeout"},
		Relay:         {"channel", "closed"},
		Sleep:         {"timeout"},
	}[s.Action]
	what := string(s.Action)
	return p.fields(n, what, func(k string, v *yaml.Node) error {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return p.errf(v.Line, "%s takes no parameters", what)
			}
			return p.errf(v.Line, "%s: unknown key %q; allowed: %s", what, k, strings.Join(allowed, ", "))
		}
		var err error
		switch k {
		case "serial":
			var re string
			if re, err = p.str(v, what+".serial"); err == nil {
				if s.Serial, err = regexp.Compile(re); err != nil {
					err = p.errf(v.Line, "%s.serial: %v", what, err)
				}
			}
		case "carrier":
			s.Carrier, err = p.str(v, what+".carrier")
		case "timeout":
			s.Timeout, err = p.duration(v, what+".timeout")
		case "command":
			s.Command, err = p.strs(v, what+".command")
		case "device":
			s.Device, err = p.str(v, what+".device")
		case "channel":
			if err = v.Decode(&s.Channel); err != nil {
				err = p.errf(v.Line, "%s.channel: want a number", what)
			}
		case "closed":
			if err = v.Decode(&s.Closed); err != nil {
				err = p.errf(v.Line, "%s.closed: want true or false", what)
			}
		}
		return err
	})
}

// check validates a step's parameters and fills defaults.
func (p *parser) check(s *Step) error {
	switch s.Action {
	case WaitPowerDown:
		if s.Serial == nil && s.Carrier == "" {
			return p.errf(s.Line, "wait-power-down needs serial (a message) or carrier (an interface) or both")
		}
		if s.Carrier != "" && (strings.ContainsAny(s.Carrier, "/ ") || s.Carrier == "." || s.Carrier == "..") {
			return p.errf(s.Line, "wait-power-down.carrier: %q is not an interface name", s.Carrier)
		}
		if s.Timeout == 0 {
			s.Timeout = DefaultPowerDownTimeout
		}
	case USBBoot:
		if len(s.Command) == 0 || s.Device == "" {
			return p.errf(s.Line, "usb-boot needs command (the rpiboot-compatible tool) and device (the block device it exposes)")
		}
		if s.Timeout == 0 {
			s.Timeout = DefaultUSBBootTimeout
		}
	case Sleep:
		if s.Timeout == 0 {
			return p.errf(s.Line, "sleep needs a timeout (how long)")
		}
	}
	return nil
}

// walk runs the state machine over the steps without doing them.
func (p *parser) walk(proc *Procedure) error {
	st := Unknown
	flashed := false
	for _, s := range proc.Steps {
		next, ok := Next(st, s.Action)
		if !ok {
			return p.errf(s.Line, "%s: no transition from state %s", s.Action, st)
		}
		st = next
		flashed = flashed || s.Action == Flash
	}
	if !flashed {
		return p.errf(0, "the procedure never flashes")
	}
	return nil
}

// Find reads the procedure at path: a procedure file, or a directory of
// them from which the one claiming deviceType is taken. A file that does
// not list deviceType is an error too, so a testbot is never flashed the
// way another device type is.
func Find(path, deviceType string, getenv func(string) string) (*Procedure, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("procedure: %w", err)
	}
	if fi.IsDir() {
		if deviceType == "" {
			return nil, fmt.Errorf("procedure: %s is a directory of procedures: name the board's device type (DEVICE_TYPE, --device-type) to choose one", path)
		}
		s, err := LoadDir(os.DirFS(path), ".", getenv)
		if err != nil {
			return nil, fmt.Errorf("%w (in %s)", err, path)
		}
		p, err := s.For(deviceType)
		if err != nil {
			return nil, err
		}
		p.File = filepath.Join(path, p.File)
		return p, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("procedure: %w", err)
	}
	p, err := Parse(path, data, getenv)
	if err != nil {
		return nil, err
	}
	if deviceType != "" && !slices.Contains(p.DeviceTypes, deviceType) {
		return nil, fmt.Errorf("procedure: %s is for %s, not for device type %q", path, strings.Join(p.DeviceTypes, ", "), deviceType)
	}
	return p, nil
}

// String lists the procedure's steps, for logs and `worker --check`.
func (p *Procedure) String() string {
	steps := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		steps[i] = string(s.Action)
	}
	return fmt.Sprintf("%s (%s): %s", p.Name, p.File, strings.Join(steps, ", "))
}
