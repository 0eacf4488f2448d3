// Package envconf is the one place configuration is read from the
// environment, always through an injected getenv so that tests and
// callers choose the environment.
//
// Each driver family (POWER, SD_MUX, DIGITAL_RELAY, KEYBOARD, VIDEO,
// NETWORK) is a Family: a table of drivers chosen by the family's
// variable, each with a plain configuration struct whose fields carry
// envconfig tags and are read from FAMILY_<tag> variables by Load. A
// configuration with a Validate method is checked as it is loaded. The
// drivers themselves never read the environment.
//
// Flags declares command-line flags whose values fall back to an
// environment variable, so a setting has one definition for both.
//
// Limits: field types string, int, bool, time.Duration and
// comma-separated slices of string or int.
package envconf

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// Driver is one entry of a family's table: a name, what it drives, and
// how to build it (a T) from its configuration and the family's
// dependencies (a D: a logger, an HTTP client…).
type Driver[T, D any] struct {
	Name string
	Doc  string
	// Config returns a pointer to a new zero configuration struct with
	// envconfig tags.
	Config func() any
	open   func(cfg any, d D) (T, error)
}

// Entry makes a Driver whose configuration is a C.
func Entry[C, T, D any](name, doc string, open func(C, D) (T, error)) Driver[T, D] {
	return Driver[T, D]{
		Name:   name,
		Doc:    doc,
		Config: func() any { return new(C) },
		open:   func(cfg any, d D) (T, error) { return open(*cfg.(*C), d) },
	}
}

// Family is a table of drivers chosen by one variable.
type Family[T, D any] struct {
	// Package prefixes errors ("power").
	Package string
	// Prefix is the variable naming the driver and the prefix of its
	// settings ("POWER").
	Prefix string
	// NotConfigured is wrapped by Open's error when Prefix is empty.
	NotConfigured error
	// Drivers, sorted by name.
	Drivers []Driver[T, D]
}

// Names lists the driver names.
func (f Family[T, D]) Names() []string {
	n := make([]string, len(f.Drivers))
	for i, d := range f.Drivers {
		n[i] = d.Name
	}
	return n
}

// Open builds the driver getenv(Prefix) names from its settings. It fails
// with NotConfigured when the variable is empty, with an error listing
// the drivers for an unknown name, and with one naming the variable when a
// setting is missing or malformed.
func (f Family[T, D]) Open(getenv func(string) string, deps D) (T, error) {
	var zero T
	name := strings.ToLower(strings.TrimSpace(getenv(f.Prefix)))
	if name == "" {
		return zero, fmt.Errorf("%w; one of: %s", f.NotConfigured, strings.Join(f.Names(), ", "))
	}
	for _, d := range f.Drivers {
		if d.Name != name {
			continue
		}
		cfg := d.Config()
		if err := Load(getenv, f.Prefix, cfg); err != nil {
			return zero, fmt.Errorf("%s: %s=%s: %w", f.Package, f.Prefix, name, err)
		}
		v, err := d.open(cfg, deps)
		if err != nil {
			return zero, fmt.Errorf("%s: %s=%s: %w", f.Package, f.Prefix, name, err)
		}
		return v, nil
	}
	return zero, fmt.Errorf("%s: unknown %s=%q; one of: %s", f.Package, f.Prefix, name, strings.Join(f.Names(), ", "))
}

// Usage writes, for each driver, the variables it reads with their
// defaults and descriptions, as envconfig formats them.
func (f Family[T, D]) Usage(w io.Writer) error {
	for _, d := range f.Drivers {
		fmt.Fprintf(w, "%s=%s: %s\n", f.Prefix, d.Name, d.Doc)
		tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
		if err := envconfig.Usagef(f.Prefix, d.Config(), tw, "{{range .}}  {{usage_key .}}\t{{usage_type .}}\t{{usage_default .}}\t{{usage_required .}}\t{{usage_description .}}\n{{end}}"); err != nil {
			return err
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// Validator is a configuration that checks itself once loaded. Its
// errors name the variables at fault.
type Validator interface {
	Validate() error
}

// Load fills the struct spec points to from getenv, following envconfig's
// rules for the tags the drivers use: each field's variable is
// prefix + "_" + its envconfig tag, "default" applies when the variable is
// empty, and "required" makes an empty variable an error. Field types:
// string, int, bool, time.Duration and comma-separated []string or []int.
// When spec is a Validator, Load returns its Validate error. Every error
// names the variable. (envconfig itself reads only the process
// environment; a test checks both agree.)
func Load(getenv func(string) string, prefix string, spec any) error {
	v := reflect.ValueOf(spec)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return errors.New("envconf: Load needs a pointer to a struct")
	}
	v = v.Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("envconfig")
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		key := strings.ToUpper(prefix + "_" + tag)
		raw := getenv(key)
		if raw == "" {
			if f.Tag.Get("required") == "true" {
				return required(key, f.Tag.Get("desc"))
			}
			raw = f.Tag.Get("default")
			if raw == "" {
				continue
			}
		}
		if err := set(v.Field(i), key, raw); err != nil {
			return err
		}
	}
	if c, ok := spec.(Validator); ok {
		return c.Validate()
	}
	return nil
}

// required is the error of a required variable left empty.
func required(key, desc string) error {
	if desc == "" {
		return fmt.Errorf("%s is required", key)
	}
	return fmt.Errorf("%s is required (%s)", key, desc)
}

// set parses raw, the value of variable key, into fv.
func set(fv reflect.Value, key, raw string) error {
	if fv.Kind() == reflect.Slice {
		return setSlice(fv, key, raw)
	}
	switch {
	case fv.Type() == reflect.TypeFor[time.Duration]():
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Errorf("%s=%q is not a duration such as 500ms or 5s", key, raw)
		}
		fv.SetInt(int64(d))
	case fv.Kind() == reflect.String:
		fv.SetString(raw)
	case fv.Kind() == reflect.Int:
		n, err := strconv.ParseInt(raw, 0, 64)
		if err != nil {
			return fmt.Errorf("%s=%q is not an integer", key, raw)
		}
		fv.SetInt(n)
	case fv.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("%s=%q is not true or false", key, raw)
		}
		fv.SetBool(b)
	default:
		return fmt.Errorf("envconf: %s: field type %s is not supported", key, fv.Type())
	}
	return nil
}

// setSlice parses raw as a comma-separated list, as envconfig does, into
// the slice fv; blank items are errors.
func setSlice(fv reflect.Value, key, raw string) error {
	elem := fv.Type().Elem().Kind()
	if elem != reflect.String && elem != reflect.Int {
		return fmt.Errorf("envconf: %s: field type %s is not supported", key, fv.Type())
	}
	items := strings.Split(raw, ",")
	s := reflect.MakeSlice(fv.Type(), len(items), len(items))
	for i, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			return fmt.Errorf("%s=%q has an empty item; want a comma-separated list", key, raw)
		}
		if elem == reflect.String {
			s.Index(i).SetString(item)
			continue
		}
		n, err := strconv.ParseInt(item, 0, 64)
		if err != nil {
			return fmt.Errorf("%s=%q: %q is not an integer; want a comma-separated list of integers", key, raw, item)
		}
		s.Index(i).SetInt(n)
	}
	fv.Set(s)
	return nil
}
