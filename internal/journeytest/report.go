package journeytest

import (
	"fmt"
	"io"
	"strings"
)

// WriteGoTest prints the report as go test -v does, then the coverage of each journey,
// and a final PASS or FAIL.
func (r *Report) WriteGoTest(w io.Writer) {
	for _, res := range r.Results {
		fmt.Fprintf(w, "=== RUN   %s\n", res.Name)
		verdict := "PASS"
		if !res.Passed {
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "--- %s: %s (%.2fs)\n", verdict, res.Name, res.Elapsed.Seconds())
		if !res.Passed {
			for _, line := range strings.Split(res.Failure, "\n") {
				fmt.Fprintf(w, "    %s\n", line)
			}
		}
	}
	for _, c := range r.Coverage {
		for _, line := range c.lines() {
			fmt.Fprintln(w, line)
		}
	}
	if r.Failed() {
		fmt.Fprintln(w, "FAIL")
	} else {
		fmt.Fprintln(w, "PASS")
	}
}

// WriteTAP prints the report in the Test Anything Protocol (version 13), the coverage
// as comments.
func (r *Report) WriteTAP(w io.Writer) {
	fmt.Fprintln(w, "TAP version 13")
	fmt.Fprintf(w, "1..%d\n", len(r.Results))
	for i, res := range r.Results {
		if res.Passed {
			fmt.Fprintf(w, "ok %d - %s\n", i+1, res.Name)
			continue
		}
		fmt.Fprintf(w, "not ok %d - %s\n", i+1, res.Name)
		fmt.Fprintln(w, "  ---")
		fmt.Fprintln(w, "  message: |")
		for _, line := range strings.Split(res.Failure, "\n") {
			fmt.Fprintf(w, "    %s\n", line)
		}
		fmt.Fprintln(w, "  ...")
	}
	for _, c := range r.Coverage {
		for _, line := range c.lines() {
			fmt.Fprintln(w, "# "+line)
		}
	}
}

// lines describes the coverage of one journey.
func (c Coverage) lines() []string {
	out := []string{fmt.Sprintf("coverage: %s: %d/%d nodes reached, %d/%d outcomes taken", c.Journey, c.Reached, c.Nodes, c.Taken, c.Outcomes)}
	if len(c.MissedNodes) > 0 {
		out = append(out, "    nodes never reached: "+strings.Join(c.MissedNodes, ", "))
	}
	if len(c.MissedOutcomes) > 0 {
		out = append(out, "    outcomes never taken: "+strings.Join(c.MissedOutcomes, ", "))
	}
	return out
}
