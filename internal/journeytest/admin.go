package journeytest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/arbor-auth/arbor/admin"
)

// AdminRunner returns the admin API's case runner (validate?test=true): it runs one
// suite against a journey document that is saved nowhere but a temporary directory,
// loaded as --journeys is, beside the built-in journeys and the server's stored ones
// (run.Stored, disabled as run.Disabled says), with base's config file.
func AdminRunner(base Options) admin.CaseRunner {
	return func(ctx context.Context, run admin.CaseRun) (*admin.CaseReport, error) {
		s, err := Parse("request", run.Suite)
		if err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp("", "arbor-cases-")
		if err != nil {
			return nil, fmt.Errorf("run cases: %w", err)
		}
		defer os.RemoveAll(dir)
		files := map[string][]byte{"journey.json": run.Doc}
		i := 0
		for _, doc := range run.Stored {
			// Numbered, not named: a journey's name is the document's, not a file name.
			i++
			files["stored-"+strconv.Itoa(i)+".json"] = doc
		}
		for f, doc := range files {
			if err := os.WriteFile(filepath.Join(dir, f), doc, 0o600); err != nil {
				return nil, fmt.Errorf("run cases: %w", err)
			}
		}
		opts := base
		opts.Journeys = dir
		opts.Disabled = run.Disabled
		rep := Run(ctx, []*Suite{s}, opts)
		out := &admin.CaseReport{Passed: !rep.Failed(), Results: []admin.CaseResult{}, Coverage: []string{}}
		for _, r := range rep.Results {
			out.Results = append(out.Results, admin.CaseResult{Name: r.Name, Passed: r.Passed, Failure: r.Failure})
		}
		for _, c := range rep.Coverage {
			out.Coverage = append(out.Coverage, c.lines()...)
		}
		return out, nil
	}
}
