// Package config is the action's configuration: the step's inputs
// (INPUT_* variables, read with go-githubactions), the workflow run's
// context (GITHUB_* variables, go-githubactions' Context) and what
// Leviathan's runner hook exported to the job (LEVIATHAN_WORKER_URL,
// LEVIATHAN_LEASE, LEVIATHAN_WORKER_TOKEN, LEVIATHAN_TESTRUNNER_IMAGE,
// LEVIATHAN_JOB_DIR), all read through the injected getenv.
//
// Load validates everything at once and returns every problem joined, each
// an *Error naming the input ("input \"boot-timeout\"") or the variable
// ("LEVIATHAN_WORKER_URL"); error messages never carry a secret's value.
// It checks the mode and the inputs each mode requires, numbers,
// durations, booleans (true/True/TRUE/false/False/FALSE, as the Actions
// toolkit's getBooleanInput), regular expressions, list syntax, the GitHub
// App private key (a PEM-encoded RSA key) and, for submit, that the image
// file exists. Config.Secrets lists what must be masked: the GitHub token,
// every line of the App key, the worker token and the values of the
// variables allowed into the suites.
//
// An input is looked up as go-githubactions does (INPUT_ followed by the
// upper-cased name, hyphens kept: INPUT_GITHUB-TOKEN, as the runner sets
// them for Docker actions) and then with hyphens turned into underscores
// (INPUT_GITHUB_TOKEN), the spelling the composite action.yml uses because
// shells cannot name the first.
//
// Every variable is read through the Action's getenv, never os.Getenv:
// the command passes one that serves the secrets it sealed out of its
// environment (package internal/sealenv), and tests may replace it.
//
// Limits: Lists are split on
// commas and newlines, or parsed as a JSON array when they start with
// "["; an item cannot contain a comma. The config input is checked to be
// JSON or YAML, not against any suite's schema.
package config
