// Package githubspec gives tests GitHub's own description of its REST API
// and webhook payloads, so test doubles and fixtures are checked against
// GitHub rather than against themselves.
//
// The description is api.github.com.subset.json, a cut of GitHub's
// OpenAPI 3.0.3 document (from the @octokit/openapi package, MIT licence in
// LICENSE.openapi) holding the operations Leviathan uses and the x-webhooks
// payload schemas for push, pull_request (opened, reopened, synchronize,
// labeled), workflow_dispatch, workflow_run completed and check_run. It is
// data: regenerate it, do not edit it by hand.
//
// Only tests and test helpers import this package; it embeds the 700 KB
// document.
package githubspec

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
)

//go:embed api.github.com.subset.json
var document []byte

var load = sync.OnceValues(func() (*openapi3.T, error) {
	l := openapi3.NewLoader()
	doc, err := l.LoadFromData(document)
	if err != nil {
		return nil, fmt.Errorf("githubspec: load the REST description: %w", err)
	}
	return doc, nil
})

// Load returns the parsed REST description. The document is shared: do
// not modify it.
func Load() (*openapi3.T, error) { return load() }

// Webhooks lists the webhook names the description has schemas for
// ("push", "pull-request-opened", …).
func Webhooks() ([]string, error) {
	doc, err := Load()
	if err != nil {
		return nil, err
	}
	hooks, _ := doc.Extensions["x-webhooks"].(map[string]any)
	names := make([]string, 0, len(hooks))
	for n := range hooks {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// WebhookSchema returns the payload schema of the named webhook.
func WebhookSchema(name string) (*openapi3.Schema, error) {
	doc, err := Load()
	if err != nil {
		return nil, err
	}
	hooks, _ := doc.Extensions["x-webhooks"].(map[string]any)
	hook, ok := hooks[name].(map[string]any)
	if !ok {
		names, _ := Webhooks()
		return nil, fmt.Errorf("githubspec: no webhook %q in the description (have %s)", name, strings.Join(names, ", "))
	}
	ref, err := payloadRef(hook)
	if err != nil {
		return nil, fmt.Errorf("githubspec: webhook %q: %w", name, err)
	}
	const prefix = "#/components/schemas/"
	s := doc.Components.Schemas[strings.TrimPrefix(ref, prefix)]
	if !strings.HasPrefix(ref, prefix) || s == nil || s.Value == nil {
		return nil, fmt.Errorf("githubspec: webhook %q: schema %s not found", name, ref)
	}
	return s.Value, nil
}

// payloadRef digs post.requestBody.content["application/json"].schema.$ref
// out of an x-webhooks entry, which the loader leaves unresolved.
func payloadRef(hook map[string]any) (string, error) {
	v := any(hook)
	for _, k := range []string{"post", "requestBody", "content", "application/json", "schema", "$ref"} {
		m, ok := v.(map[string]any)
		if !ok {
			return "", fmt.Errorf("no %s in the entry", k)
		}
		v = m[k]
	}
	ref, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("the payload schema is not a $ref")
	}
	return ref, nil
}

// ValidateWebhook checks a webhook payload (JSON) against the named
// webhook's schema and returns an error naming the first mismatch.
func ValidateWebhook(name string, payload []byte) error {
	s, err := WebhookSchema(name)
	if err != nil {
		return err
	}
	var v any
	if err := json.Unmarshal(payload, &v); err != nil {
		return fmt.Errorf("githubspec: %s payload: %w", name, err)
	}
	if err := s.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		return fmt.Errorf("githubspec: %s payload does not match GitHub's schema: %w", name, err)
	}
	return nil
}
