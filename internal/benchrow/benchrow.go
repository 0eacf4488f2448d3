// Package benchrow collects the benchmarks' figures into one table. Each
// benchmark prints its own detail and records its headline figures as
// rows; `make bench` points EnvFile at one file for the whole run and
// prints the table at its end (bench/table), so that a run's figures can be
// quoted whole.
package benchrow

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// EnvFile names the file rows are appended to; without it Record does
// nothing.
const EnvFile = "LEVIATHAN_BENCH_ROWS"

// Row is one headline figure.
type Row struct {
	// What is measured, e.g. "exec: one command".
	What string `json:"what"`
	// Leviathan is Leviathan's figure, Baseline the tool compared against
	// and its figure ("" when the target is absolute).
	Leviathan string `json:"leviathan"`
	Baseline  string `json:"baseline,omitempty"`
	// Result is the comparison (a ratio, a difference), Spread its
	// min/median/max over the rounds, Target what it must meet.
	Result string `json:"result"`
	Spread string `json:"spread,omitempty"`
	Target string `json:"target,omitempty"`
	// Met says whether Result meets Target (nil: no target, or not
	// judged).
	Met *bool `json:"met,omitempty"`
}

// Judge returns a Met value.
func Judge(ok bool) *bool { return &ok }

// Record appends r to the file EnvFile names, when it is set.
func Record(r Row) error {
	p := os.Getenv(EnvFile)
	if p == "" {
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("benchrow: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("benchrow: %w", err)
	}
	return f.Close()
}

// Read reads the rows of a file Record appended to.
func Read(r io.Reader) ([]Row, error) {
	var rows []Row
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var row Row
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			return nil, fmt.Errorf("benchrow: line %d: %w", n, err)
		}
		rows = append(rows, row)
	}
	return rows, sc.Err()
}

// Print writes rows as one Markdown table with aligned columns, then how
// many targets were met.
func Print(w io.Writer, rows []Row) error {
	table := [][]string{{"what", "leviathan", "baseline", "result", "spread (min/median/max)", "target", "met"}}
	met, missed := 0, 0
	for _, r := range rows {
		verdict := ""
		if r.Met != nil {
			if *r.Met {
				verdict, met = "yes", met+1
			} else {
				verdict, missed = "NO", missed+1
			}
		}
		table = append(table, []string{r.What, r.Leviathan, r.Baseline, r.Result, r.Spread, r.Target, verdict})
	}
	width := make([]int, len(table[0]))
	for _, row := range table {
		for i, c := range row {
			width[i] = max(width[i], utf8.RuneCountInString(cell(c)))
		}
	}
	line := func(row []string) string {
		var b strings.Builder
		for i, c := range row {
			c = cell(c)
			b.WriteString("| " + c + strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)) + " ")
		}
		return b.String() + "|\n"
	}
	var b strings.Builder
	b.WriteString(line(table[0]))
	rule := make([]string, len(width))
	for i, n := range width {
		rule[i] = strings.Repeat("-", max(n, 3))
	}
	b.WriteString(line(rule))
	for _, row := range table[1:] {
		b.WriteString(line(row))
	}
	fmt.Fprintf(&b, "\n%d targets met, %d missed, %d rows\n", met, missed, len(rows))
	_, err := io.WriteString(w, b.String())
	return err
}

func cell(s string) string { return strings.ReplaceAll(s, "|", "/") }
