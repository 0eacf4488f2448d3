package ghlogtest

import (
	"strconv"
	"strings"
	"unicode"
)

// Command is a line the runner processes as a workflow command.
type Command struct {
	Line int    // 1-based, counted as the runner splits lines
	Name string // "group", "stop-commands", or the token of a resume
	Data string
	// Resume is true for the line that ended a stopped region.
	Resume bool
}

// String is the command as NAME::DATA.
func (c Command) String() string { return c.Name + "::" + c.Data }

// Log is what the runner makes of a step's output.
type Log struct {
	// Commands are the lines processed as commands, stops and resumes
	// included, in order.
	Commands []Command
	// Stopped is true when the output ends with commands stopped: the
	// runner would process no command written after it.
	Stopped bool
}

// Effective returns the commands other than stop-commands and resumes, as
// NAME::DATA: the ones that act.
func (l Log) Effective() []string {
	var out []string
	for _, c := range l.Commands {
		if c.Resume || strings.EqualFold(c.Name, "stop-commands") {
			continue
		}
		out = append(out, c.String())
	}
	return out
}

// Tokens returns the tokens of the stop-commands lines, in order.
func (l Log) Tokens() []string {
	var out []string
	for _, c := range l.Commands {
		if !c.Resume && strings.EqualFold(c.Name, "stop-commands") {
			out = append(out, c.Data)
		}
	}
	return out
}

// Parse reads output as the runner reads a step's output.
func Parse(output string) Log {
	var l Log
	token := ""
	for i, line := range Lines(output) {
		name, data, ok := parse(line)
		if !ok {
			continue
		}
		if l.Stopped {
			if token != "" && strings.EqualFold(name, token) {
				l.Commands = append(l.Commands, Command{Line: i + 1, Name: name, Data: data, Resume: true})
				l.Stopped, token = false, ""
			}
			continue
		}
		l.Commands = append(l.Commands, Command{Line: i + 1, Name: name, Data: data})
		if strings.EqualFold(name, "stop-commands") {
			l.Stopped, token = true, data
		}
	}
	return l
}

// Lines splits output where the runner does: at "\r\n", "\n" and "\r". A
// final line without an ending counts.
func Lines(output string) []string {
	var lines []string
	for len(output) > 0 {
		i := strings.IndexAny(output, "\r\n")
		if i < 0 {
			lines = append(lines, output)
			break
		}
		lines = append(lines, output[:i])
		if strings.HasPrefix(output[i:], "\r\n") {
			i++
		}
		output = output[i+1:]
	}
	return lines
}

// parse returns the command a line holds.
func parse(line string) (name, data string, ok bool) {
	if s := strings.TrimLeftFunc(line, unicode.IsSpace); strings.HasPrefix(s, "::") {
		if end := strings.Index(s[2:], "::"); end >= 0 {
			info := s[2 : 2+end]
			name, _, _ = strings.Cut(info, " ")
			if name != "" {
				return name, unescape(s[2+end+2:]), true
			}
		}
	}
	if i := strings.Index(line, "##["); i >= 0 {
		rest := line[i+3:]
		if end := strings.IndexByte(rest, ']'); end >= 0 {
			name, _, _ = strings.Cut(rest[:end], " ")
			if name != "" {
				return name, unescape(rest[end+1:]), true
			}
		}
	}
	return "", "", false
}

// unescape undoes the escaping of a command's data.
func unescape(s string) string {
	return strings.NewReplacer("%0D", "\r", "%0A", "\n", "%25", "%").Replace(s)
}

// Hostile is output that tries to issue workflow commands past a filter:
// plain and indented commands, the legacy form, commands hidden behind a
// lone carriage return or a non-breaking space, fake groups, and a guessed
// stop and resume. Tests write it, in any pieces, through the code under
// test and check that Parse finds none of it.
var Hostile = []string{
	"::warning::x",
	"   ::error::x",
	"\t::set-output name=a::b",
	"::add-mask::x",
	"::endgroup::",
	"::group::fake",
	"::stop-commands::guess",
	"::guess::",
	"::warning::after a guessed resume",
	"::STOP-COMMANDS::",
	"::notice::after an empty stop token",
	"text ##[error]legacy form",
	"\u00a0::debug::after a non-breaking space",
	"progress 50%\r::warning::after a lone CR",
	"::error::CRLF line\r",
	"::save-state name=s::v",
}

// Normalize replaces the stop tokens in output with TOKEN1, TOKEN2, … in
// the order they appear, so output can be compared with a golden file.
func Normalize(output string) string {
	var pairs []string
	for i, tok := range Parse(output).Tokens() {
		if tok != "" {
			pairs = append(pairs, tok, "TOKEN"+strconv.Itoa(i+1))
		}
	}
	return strings.NewReplacer(pairs...).Replace(output)
}
