package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/journeys/forgerock"
)

// journeysImport runs `arbor journeys import [-o DIR] FILE...`: it converts ForgeRock
// exports to native journey files in DIR, one <name>.json per journey that converts, and
// exits 1 listing every problem if any journey or file does not.
func journeysImport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("arbor journeys import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", ".", "directory the native journey files are written to")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: arbor journeys import [-o DIR] FILE...\n\nConverts ForgeRock AM / frodo / amster journey exports to Arbor journey files.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	var files []forgerock.File
	for _, p := range fs.Args() {
		b, err := os.ReadFile(p)
		if err != nil {
			fmt.Fprintf(stderr, "arbor journeys import: %v\n", err)
			return 1
		}
		files = append(files, forgerock.File{Name: p, Data: b})
	}
	known := map[string]bool{}
	if b, err := journeys.Builtin(); err == nil {
		for n := range b {
			known[n] = true
		}
	}
	res := forgerock.Import(files, forgerock.Options{Registry: Registry(), Known: func(n string) bool { return known[n] }})
	for _, p := range res.Problems {
		fmt.Fprintf(stdout, "%s\n", p)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintf(stderr, "arbor journeys import: %v\n", err)
		return 1
	}
	for _, j := range res.Journeys {
		if len(j.Problems) > 0 {
			fmt.Fprintf(stdout, "%s: %s: refused, %d problem(s), nothing written\n", j.File, j.AMName, len(j.Problems))
			for _, p := range j.Problems {
				fmt.Fprintf(stdout, "  %s\n", p)
			}
			continue
		}
		path := filepath.Join(*out, j.Name+".json")
		if err := os.WriteFile(path, j.Doc, 0o644); err != nil {
			fmt.Fprintf(stderr, "arbor journeys import: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: %s -> %s\n", j.File, j.AMName, path)
		for _, n := range j.Notes {
			fmt.Fprintf(stdout, "  note: %s\n", n)
		}
	}
	if !res.OK() {
		return 1
	}
	return 0
}

// journeysExport runs `arbor journeys export [-o FILE] NAME|FILE.json...`: built-in
// journeys by name, or native journey files, written in frodo's format.
func journeysExport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("arbor journeys export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "file to write (default: standard output)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: arbor journeys export [-o FILE] NAME|FILE.json...\n\nWrites built-in journeys (by name) or journey files in frodo's export format.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	builtin, err := journeys.Builtin()
	if err != nil {
		fmt.Fprintf(stderr, "arbor journeys export: %v\n", err)
		return 1
	}
	var js []*journeys.Journey
	for _, arg := range fs.Args() {
		data, ok := builtin[arg]
		if !ok || strings.HasSuffix(arg, ".json") {
			if data, err = os.ReadFile(arg); err != nil {
				fmt.Fprintf(stderr, "arbor journeys export: %s is neither a built-in journey nor a readable file: %v\n", arg, err)
				return 1
			}
		}
		j, ps := journeys.Parse(data)
		if ps != nil {
			fmt.Fprintf(stdout, "%s: %d problem(s)\n", arg, len(ps))
			for _, p := range ps {
				fmt.Fprintf(stdout, "  %s\n", p)
			}
			return 1
		}
		js = append(js, j)
	}
	meta := &forgerock.ExportMeta{Origin: "arbor", ExportedBy: "arbor journeys export",
		ExportDate: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), ExportTool: "arbor", ExportToolVersion: "arbor"}
	b, err := forgerock.Export(js, Registry(), meta)
	if err != nil {
		var e forgerock.ExportError
		if errors.As(err, &e) {
			names := make([]string, 0, len(e))
			for n := range e {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, name := range names {
				fmt.Fprintf(stdout, "%s: cannot be exported, %d problem(s)\n", name, len(e[name]))
				for _, p := range e[name] {
					fmt.Fprintf(stdout, "  %s\n", p)
				}
			}
			return 1
		}
		fmt.Fprintf(stderr, "arbor journeys export: %v\n", err)
		return 1
	}
	if *out == "" {
		_, _ = stdout.Write(b)
		return 0
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintf(stderr, "arbor journeys export: %v\n", err)
		return 1
	}
	return 0
}
