//go:build ignore

// Throwaway: prints a required-fields skeleton of a webhook payload.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/balena/leviathan-action/internal/githubspec"
	"github.com/getkin/kin-openapi/openapi3"
)

func walk(s *openapi3.Schema, name string, depth int) any {
	if s == nil || depth > 12 {
		return nil
	}
	if len(s.AllOf) > 0 {
		m := map[string]any{}
		for _, r := range s.AllOf {
			if v, ok := walk(r.Value, name, depth+1).(map[string]any); ok {
				for k, x := range v {
					m[k] = x
				}
			}
		}
		return m
	}
	if len(s.AnyOf) > 0 {
		return walk(s.AnyOf[0].Value, name, depth+1)
	}
	if len(s.OneOf) > 0 {
		return walk(s.OneOf[0].Value, name, depth+1)
	}
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	t := s.Type
	switch {
	case t.Is("object") || len(s.Properties) > 0:
		m := map[string]any{}
		for _, r := range s.Required {
			p := s.Properties[r]
			if p == nil {
				m[r] = "?"
				continue
			}
			m[r] = walk(p.Value, r, depth+1)
		}
		return m
	case t.Is("array"):
		return []any{}
	case t.Is("string"):
		switch s.Format {
		case "date-time":
			return "2026-03-02T10:00:00Z"
		case "uri", "uri-template":
			return "https://example.invalid/" + name
		}
		return "<" + name + ">"
	case t.Is("integer"), t.Is("number"):
		return 1
	case t.Is("boolean"):
		return false
	}
	if s.Nullable {
		return nil
	}
	return fmt.Sprintf("<%s:%v>", name, t)
}

func main() {
	s, err := githubspec.WebhookSchema(os.Args[1])
	if err != nil {
		panic(err)
	}
	b, _ := json.MarshalIndent(walk(s, "", 0), "", "  ")
	os.Stdout.Write(b)
}
