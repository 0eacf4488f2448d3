package hookcmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/balena/leviathan-action/action/report"
	"github.com/balena/leviathan-action/runner-hook/hook"
	"github.com/balena/leviathan-action/runner-hook/supervisor"
)

const superviseUsage = "supervise --runner-dir DIR --runner-user USER --repo OWNER/REPO|--org ORG --labels L,… (--token-file F | --app-id N --app-key F) [flags]"

const superviseAbout = `Run the runner as an ephemeral, one-job runner, over and over: register a
just-in-time runner with GitHub (fresh name, the given labels), run the
runner's run.sh as USER, wait for it to exit after its job, kill every
process left running as USER, empty the work directory and USER's home,
remove USER's files from /tmp, /var/tmp and /dev/shm, and start again.
Runs as root, from contrib/systemd/leviathan-runner-supervisor.service.

Credentials are read from files only root can read (chmod 600), again
for every registration, so a replaced file takes effect without a
restart: a token (--token-file: a classic token with the repo scope, or
admin:org for --org; or a fine-grained one with "Administration: write"),
or a GitHub App (--app-id, --app-key, and --app-installation-id unless it
can be looked up from --repo) with the repository permission
"Administration: write" or the organisation permission "Self-hosted
runners: write".`

// superviseOptions are supervise's flags.
type superviseOptions struct {
	runnerDir, runnerUser string
	repo, org             string
	labels                string
	groupID               int64
	prefix                string
	githubAPI             string
	tokenFile             string
	appID, appInst        int64
	appKey                string
	group                 string
	runs                  int
	force                 bool
	empty                 multiFlag
}

// supervise is the supervise command: see superviseAbout.
func supervise(ctx context.Context, e Env, args []string) error {
	o, err := parseSupervise(e, args)
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("supervise must run as root: it runs the runner as --runner-user and kills that user's processes after each job")
	}
	owner, name, _ := strings.Cut(o.repo, "/")
	if o.repo != "" && (owner == "" || name == "" || strings.Contains(name, "/")) {
		return fmt.Errorf("%w: --repo %q: want OWNER/REPO", errUsage, o.repo)
	}
	dir, id, err := o.checkRunner(e)
	if err != nil {
		return err
	}
	if err := o.checkCredentials(); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(e.Stderr, nil))
	s := &supervisor.Supervisor{
		Config: supervisor.Config{
			RunnerDir: dir, User: id, Labels: splitList(o.labels), NamePrefix: o.prefix, Runs: o.runs,
		},
		Registrar: &freshRegistrar{client: o.githubClient(owner, name, log),
			gh: supervisor.GitHub{Owner: owner, Repo: name, Org: o.org, RunnerGroupID: o.groupID}},
		Log:    log,
		Output: e.Stdout,
	}
	if len(o.empty) > 0 {
		s.Config.Empty = o.empty
	}
	return s.Run(ctx)
}

// parseSupervise reads supervise's flags and checks that they go
// together.
func parseSupervise(e Env, args []string) (*superviseOptions, error) {
	o := &superviseOptions{}
	flags := e.flags(superviseUsage, superviseAbout)
	flags.StringVar(&o.runnerDir, "runner-dir", "", "the runner's install (where run.sh is), owned by root")
	flags.StringVar(&o.runnerUser, "runner-user", "", "the user the runner and its jobs run as")
	flags.StringVar(&o.repo, "repo", "", "register repository runners for OWNER/REPO")
	flags.StringVar(&o.org, "org", "", "register organisation runners for ORG")
	flags.StringVar(&o.labels, "labels", "", "the runner's labels, comma-separated (what jobs' runs-on select)")
	flags.Int64Var(&o.groupID, "runner-group-id", 1, "the runner group")
	flags.StringVar(&o.prefix, "name-prefix", "", "runner names start with this (default: the host name)")
	flags.StringVar(&o.githubAPI, "github-api", "https://api.github.com/", "GitHub's REST API (https://HOST/api/v3/ for GitHub Enterprise Server)")
	flags.StringVar(&o.tokenFile, "token-file", "", "file holding a GitHub token, readable by root only")
	flags.Int64Var(&o.appID, "app-id", 0, "GitHub App id")
	flags.Int64Var(&o.appInst, "app-installation-id", 0, "the App's installation id (looked up from --repo when 0)")
	flags.StringVar(&o.appKey, "app-key", "", "the App's private key (PEM) file, readable by root only")
	flags.StringVar(&o.group, "group", "leviathan-hook", "the hook's group, which the runner's user must not be in")
	flags.IntVar(&o.runs, "runs", 0, "stop after this many jobs (0: run until stopped)")
	flags.BoolVar(&o.force, "force", false, "run even though the runner's user can change the runner's install")
	flags.Var(&o.empty, "empty", "a directory of the runner's user to empty after each job (default: RUNNER_DIR/_work and the user's home); repeatable")
	if err := parse(flags, args); err != nil {
		return nil, err
	}
	switch {
	case o.runnerDir == "" || o.runnerUser == "":
		return nil, fmt.Errorf("%w: --runner-dir and --runner-user are required", errUsage)
	case (o.repo == "") == (o.org == ""):
		return nil, fmt.Errorf("%w: give one of --repo OWNER/REPO and --org ORG", errUsage)
	case o.labels == "":
		return nil, fmt.Errorf("%w: --labels is required (for example self-hosted,leviathan,raspberrypi4-64)", errUsage)
	case (o.tokenFile == "") == (o.appID == 0):
		return nil, fmt.Errorf("%w: give one of --token-file and --app-id with --app-key", errUsage)
	case o.appID != 0 && o.appKey == "":
		return nil, fmt.Errorf("%w: --app-id needs --app-key", errUsage)
	case o.appID != 0 && o.org != "" && o.appInst == 0:
		return nil, fmt.Errorf("%w: --org with a GitHub App needs --app-installation-id", errUsage)
	}
	return o, nil
}

// checkRunner finds the runner's install and user, and refuses (unless
// --force) when that user is in the hook's group or can change the
// install, printing what it found.
func (o *superviseOptions) checkRunner(e Env) (dir string, id supervisor.Identity, err error) {
	if dir, err = filepath.Abs(o.runnerDir); err != nil {
		return "", id, err
	}
	if id, err = supervisor.LookupUser(o.runnerUser); err != nil {
		return "", id, err
	}
	if g, err := user.LookupGroup(o.group); err == nil {
		if gid, _ := strconv.ParseUint(g.Gid, 10, 32); id.InGroup(uint32(gid)) {
			return "", id, fmt.Errorf("%s is in the group %s, so every job could read the worker's token: gpasswd -d %s %s", id.Name, o.group, id.Name, o.group)
		}
	}
	rep, err := supervisor.CheckRunner(dir, id)
	if err != nil {
		return "", id, err
	}
	printReport(e, rep)
	if !rep.OK() && !o.force {
		return "", id, fmt.Errorf("%s can change the runner's install, so a job could change what later jobs run; fix it (above) or pass --force", id.Name)
	}
	return dir, id, nil
}

// checkCredentials checks that only root can read or change the
// credential files.
func (o *superviseOptions) checkCredentials() error {
	for _, f := range []string{o.tokenFile, o.appKey} {
		if f != "" {
			if err := checkRootOnly(f); err != nil {
				return err
			}
		}
	}
	return nil
}

// githubClient returns a func that builds a GitHub client from the
// credential files, read again at every call.
func (o *superviseOptions) githubClient(owner, repo string, log *slog.Logger) func(ctx context.Context) (*github.Client, error) {
	cfg := report.ClientConfig{BaseURL: o.githubAPI, Logger: log}
	return func(ctx context.Context) (*github.Client, error) {
		if o.tokenFile != "" {
			tok, err := readSecret(o.tokenFile)
			if err != nil {
				return nil, err
			}
			return report.NewTokenClient(tok, cfg)
		}
		key, err := os.ReadFile(o.appKey)
		if err != nil {
			return nil, err
		}
		return report.NewAppClient(ctx, report.App{ID: o.appID, InstallationID: o.appInst, Owner: owner, Repo: repo,
			PrivateKey: key, KeySource: o.appKey}, cfg)
	}
}

// freshRegistrar builds its GitHub client for every registration, reading
// the credentials again.
type freshRegistrar struct {
	client func(ctx context.Context) (*github.Client, error)
	gh     supervisor.GitHub
}

func (r *freshRegistrar) Register(ctx context.Context, name string, labels []string) (*supervisor.Registration, error) {
	c, err := r.client(ctx)
	if err != nil {
		return nil, fmt.Errorf("supervise: GitHub credentials: %w", err)
	}
	gh := r.gh
	gh.Client = c
	return gh.Register(ctx, name, labels)
}

// checkRootOnly checks that only root can read or change a credential
// file.
func checkRootOnly(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("credential file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("credential file %s is readable by others than root: chmod 600 %s", path, path)
	}
	if err := hook.CheckRootOwned(path, true); err != nil {
		return fmt.Errorf("credential file: %w", err)
	}
	return nil
}

// readSecret reads a one-line secret, without its line end.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	if s == "" || strings.ContainsAny(s, "\r\n") {
		return "", fmt.Errorf("%s: want the token alone on one line", path)
	}
	return s, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// printReport prints what CheckRunner found and how to fix it.
func printReport(e Env, r *supervisor.RunnerReport) {
	for _, w := range r.Warnings {
		fmt.Fprintf(e.Stderr, "warning: %s\n", w)
	}
	if r.OK() {
		return
	}
	fmt.Fprintf(e.Stderr, "\nWARNING: %s, the user the jobs run as, can change the runner's install %s:\n", r.User.Name, r.Dir)
	for _, p := range r.Problems {
		fmt.Fprintf(e.Stderr, "  - %s\n", p)
	}
	if r.More > 0 {
		fmt.Fprintf(e.Stderr, "  - and %d more\n", r.More)
	}
	fmt.Fprintf(e.Stderr, "A job could then change the runner's .env (the hooks it runs), its programs or scripts, for every later job.\nFix it, as root, with the runner stopped:\n")
	for _, c := range r.Fix() {
		fmt.Fprintf(e.Stderr, "  %s\n", c)
	}
	fmt.Fprintln(e.Stderr)
}
