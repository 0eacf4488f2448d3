package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"
)

// The policy file's keys.
const (
	keyVersion       = "version"
	keyRepositories  = "repositories"
	keyActors        = "actors"
	keyWorkflows     = "workflows"
	keyEvents        = "events"
	keyForks         = "forks"
	keyTrustedLabels = "trusted-labels"
	keyTrustedActors = "trusted-actors"
)

var topKeys = []string{keyVersion, keyRepositories, keyActors, keyWorkflows, keyEvents, keyForks, keyTrustedLabels, keyTrustedActors}

// forkKeys are the keys under forks:, event names.
var forkKeys = []string{"pull_request", "pull_request_target"}

// MaxFileSize bounds the policy files Load reads.
const MaxFileSize = 1 << 20

// FileError is an error in a policy file, at a line (1-based; 0 when the
// YAML parser did not say).
type FileError struct {
	File string // the name given to Parse or Load
	Line int    // 1-based; 0 when unknown
	Err  error  // what is wrong
}

// Error gives "policy: file:line: what is wrong".
func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("policy: %s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("policy: %s: %v", e.File, e.Err)
}

// Unwrap returns what is wrong, without the position.
func (e *FileError) Unwrap() error { return e.Err }

// Load reads the policy file at name. A missing file is an error that
// matches fs.ErrNotExist; the caller decides whether Default applies.
func Load(name string) (*Policy, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, &FileError{File: name, Err: fmt.Errorf("larger than %d bytes", MaxFileSize)}
	}
	return Parse(name, data)
}

// Parse reads a policy file's YAML; name is used in errors and as the
// policy's Source. An empty file (or one holding only comments) gives
// Default. Keys left out keep Default's values. Errors are *FileError
// values naming the file and line.
func Parse(name string, data []byte) (*Policy, error) {
	p := Default()
	p.Source = name
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return p, nil
		}
		return nil, yamlError(name, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, &FileError{File: name, Line: next.Line, Err: errors.New("a second YAML document: a policy file holds one")}
	case !errors.Is(err, io.EOF):
		return nil, yamlError(name, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return p, nil
		}
		root = root.Content[0]
	}
	ps := parser{file: name}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return p, nil
	}
	if err := ps.top(p, root); err != nil {
		return nil, err
	}
	return p, nil
}

// yamlError turns the YAML parser's error into a FileError with its line.
func yamlError(name string, err error) error {
	var le *yaml.LoadError
	if errors.As(err, &le) && le.Mark.Line > 0 {
		return &FileError{File: name, Line: le.Mark.Line, Err: &syntaxError{le.Message, err}}
	}
	return &FileError{File: name, Err: err}
}

// syntaxError is the YAML parser's error, without the position FileError
// already gives.
type syntaxError struct {
	msg string
	err error
}

func (e *syntaxError) Error() string { return "yaml: " + e.msg }
func (e *syntaxError) Unwrap() error { return e.err }

type parser struct{ file string }

func (ps parser) errf(n *yaml.Node, format string, args ...any) error {
	return &FileError{File: ps.file, Line: n.Line, Err: fmt.Errorf(format, args...)}
}

func (ps parser) wrap(n *yaml.Node, key string, err error) error {
	return &FileError{File: ps.file, Line: n.Line, Err: fmt.Errorf("%s: %w", key, err)}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		}
		return fmt.Sprintf("%s %s", strings.TrimPrefix(n.ShortTag(), "!!"), n.Value)
	}
	return "nothing"
}

// plain refuses anchors and aliases: a policy is short and read by people.
func (ps parser) plain(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return ps.errf(n, "anchors and aliases are not supported in a policy file")
	}
	return nil
}

// mapping walks a mapping's keys, refusing duplicates and keys not in known.
// where prefixes its errors; empty for the top level.
func (ps parser) mapping(n *yaml.Node, where string, known []string, f func(key string, k, v *yaml.Node) error) error {
	if err := ps.plain(n); err != nil {
		return err
	}
	if n.Kind != yaml.MappingNode {
		if where == "" {
			return ps.errf(n, "want a mapping of keys such as %s, got %s", keyRepositories, kindName(n))
		}
		return ps.errf(n, "%s: want a mapping, got %s", where, kindName(n))
	}
	if where != "" {
		where += ": "
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if err := ps.plain(k); err != nil {
			return err
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			return ps.errf(k, "%swant a key name, got %s", where, kindName(k))
		}
		if line, ok := seen[k.Value]; ok {
			return ps.errf(k, "%skey %q repeated (first at line %d)", where, k.Value, line)
		}
		seen[k.Value] = k.Line
		if !slices.Contains(known, k.Value) {
			return ps.errf(k, "%sunknown key %q (known keys: %s)", where, k.Value, strings.Join(known, ", "))
		}
		if err := ps.plain(v); err != nil {
			return err
		}
		if err := f(k.Value, k, v); err != nil {
			return err
		}
	}
	return nil
}

func (ps parser) top(p *Policy, root *yaml.Node) error {
	return ps.mapping(root, "", topKeys, func(key string, k, v *yaml.Node) error {
		switch key {
		case keyVersion:
			if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" || v.Value != "1" {
				return ps.errf(v, "%s: want 1, got %s", key, kindName(v))
			}
			return nil
		case keyRepositories:
			return ps.list(&p.Repositories, key, k, v, checkRepositoryGlob, true)
		case keyActors:
			return ps.list(&p.Actors, key, k, v, checkActorGlob, true)
		case keyWorkflows:
			return ps.list(&p.Workflows, key, k, v, checkWorkflowGlob, true)
		case keyEvents:
			return ps.list(&p.Events, key, k, v, checkEvent, false)
		case keyTrustedLabels:
			return ps.list(&p.TrustedLabels, key, k, v, checkLabel, false)
		case keyTrustedActors:
			return ps.list(&p.TrustedActors, key, k, v, checkActorGlob, true)
		case keyForks:
			return ps.forks(p, v)
		}
		return nil
	})
}

func (ps parser) forks(p *Policy, n *yaml.Node) error {
	return ps.mapping(n, keyForks, forkKeys, func(key string, _, v *yaml.Node) error {
		where := keyForks + "." + key
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
			return ps.errf(v, "%s: want %q or %q, got %s", where, Refuse, AllowWithLabel, kindName(v))
		}
		m := ForkMode(v.Value)
		if err := checkMode(m); err != nil {
			return ps.wrap(v, where, err)
		}
		switch key {
		case "pull_request":
			p.PullRequestForks = m
		case "pull_request_target":
			p.PullRequestTargetForks = m
		}
		return nil
	})
}

// list reads a list of strings into dst, checking each item. emptyOK says
// whether an empty list is allowed (it means "any"); lists that must not
// be empty tell the reader to leave the key out for the default.
func (ps parser) list(dst *[]string, key string, k, v *yaml.Node, check func(string) error, emptyOK bool) error {
	if v.Kind != yaml.SequenceNode {
		hint := ""
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" {
			hint = fmt.Sprintf(" (write [%s])", v.Value)
		}
		return ps.errf(v, "%s: want a list of strings, got %s%s", key, kindName(v), hint)
	}
	if len(v.Content) == 0 && !emptyOK {
		return ps.errf(k, "%s: empty list; leave the key out for the default", key)
	}
	out := make([]string, 0, len(v.Content))
	for _, it := range v.Content {
		if err := ps.plain(it); err != nil {
			return err
		}
		if it.Kind != yaml.ScalarNode || (it.ShortTag() != "!!str" && it.ShortTag() != "!!int") {
			return ps.errf(it, "%s: want a string, got %s", key, kindName(it))
		}
		if err := check(it.Value); err != nil {
			return ps.wrap(it, key, err)
		}
		out = append(out, it.Value)
	}
	*dst = out
	return nil
}
