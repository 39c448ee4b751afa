package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/arbor-auth/arbor/internal/journeytest"
)

// journeysTest runs `arbor journeys test [--tap] [--journeys DIR] [--config FILE]
// DIR...`: the journey test cases in each DIR, each on a fresh in-process server. It
// exits 1 when a case fails.
func journeysTest(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("arbor journeys test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tap := fs.Bool("tap", false, "print TAP (version 13) instead of go test -v style")
	jdir := fs.String("journeys", "", "directory of journey files to load besides the built-in ones (as serve --journeys)")
	cfgFile := fs.String("config", "", "config file (as serve --config), for push delivery settings")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: arbor journeys test [--tap] [--journeys DIR] [--config FILE] DIR...\n\nRuns the journey test cases (*.yaml, *.json) in each DIR; see README.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	var suites []*journeytest.Suite
	for _, dir := range fs.Args() {
		s, err := journeytest.LoadDir(dir)
		if err != nil {
			fmt.Fprintf(stderr, "arbor journeys test: %v\n", err)
			return 1
		}
		suites = append(suites, s...)
	}
	rep := journeytest.Run(context.Background(), suites, journeytest.Options{Journeys: *jdir, Config: *cfgFile})
	if *tap {
		rep.WriteTAP(stdout)
	} else {
		rep.WriteGoTest(stdout)
	}
	if rep.Failed() {
		return 1
	}
	return 0
}
