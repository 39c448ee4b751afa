package cli

import (
	"context"
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
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/store/embedded"
	"github.com/arbor-auth/arbor/store/redisstore"
)

// journeysImport runs `arbor journeys import [-o DIR | --data DIR | --redis URL]
// FILE...`: it converts ForgeRock exports to native journeys, one per journey that
// converts, written as <name>.json files in DIR or saved as new versions in the store
// serve reads (the embedded store in --data, or Redis), and exits 1 listing every
// problem if any journey or file does not convert.
func journeysImport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("arbor journeys import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", ".", "directory the native journey files are written to")
	data := fs.String("data", "", "save into the embedded store in this directory instead (Arbor must not be running on it)")
	redisURL := fs.String("redis", "", "save into this Redis instead (redis://host:6379/0); running instances use the journeys within a second")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: arbor journeys import [-o DIR | --data DIR | --redis URL] FILE...\n\nConverts ForgeRock AM / frodo / amster journey exports to Arbor journeys.\n\n")
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
	ctx := context.Background()
	repo, closeRepo, err := openOfflineRepo(*data, *redisURL)
	if err != nil {
		fmt.Fprintf(stderr, "arbor journeys import: %v\n", err)
		return 1
	}
	defer closeRepo()
	if repo != nil {
		names, err := repo.Names(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "arbor journeys import: %v\n", err)
			return 1
		}
		for _, n := range names {
			known[n] = true
		}
	} else if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintf(stderr, "arbor journeys import: %v\n", err)
		return 1
	}
	res := forgerock.Import(files, forgerock.Options{Registry: Registry(), Known: func(n string) bool { return known[n] }})
	for _, p := range res.Problems {
		fmt.Fprintf(stdout, "%s\n", p)
	}
	var set []string // the names converted, which may run each other as inner journeys
	for _, j := range res.Journeys {
		if len(j.Problems) == 0 {
			set = append(set, j.Name)
		}
	}
	for _, j := range res.Journeys {
		if len(j.Problems) > 0 {
			fmt.Fprintf(stdout, "%s: %s: refused, %d problem(s), nothing written\n", j.File, j.AMName, len(j.Problems))
			for _, p := range j.Problems {
				fmt.Fprintf(stdout, "  %s\n", p)
			}
			continue
		}
		off := j.Enabled != nil && !*j.Enabled // disabled in AM
		if repo != nil {
			// The tree's enabled flag is saved with it, in one write: a tree disabled in
			// AM never becomes startable here.
			v, err := repo.SaveWith(ctx, j.Doc, journeys.SaveOptions{Source: "import:" + j.File, Extra: set, Enable: j.Enabled,
				Same: func(cur, doc []byte) bool { return forgerock.SameJourney(cur, doc, Registry()) }})
			if err != nil {
				fmt.Fprintf(stderr, "arbor journeys import: %s: %v\n", j.Name, err)
				return 1
			}
			state := ""
			if off {
				state = ", disabled as in AM"
			}
			fmt.Fprintf(stdout, "%s: %s -> journey %s version %d%s\n", j.File, j.AMName, j.Name, v, state)
		} else {
			path := filepath.Join(*out, j.Name+".json")
			if err := os.WriteFile(path, j.Doc, 0o644); err != nil {
				fmt.Fprintf(stderr, "arbor journeys import: %v\n", err)
				return 1
			}
			fmt.Fprintf(stdout, "%s: %s -> %s\n", j.File, j.AMName, path)
			if off {
				fmt.Fprintf(stdout, "  note: the tree is disabled in AM and a journey file has no enabled flag: list %s in disabled_journeys to keep it disabled\n", j.Name)
			}
		}
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
	data := fs.String("data", "", "read journeys by name from the embedded store in this directory (their current versions)")
	redisURL := fs.String("redis", "", "read journeys by name from this Redis (their current versions)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: arbor journeys export [-o FILE] [--data DIR | --redis URL] NAME|FILE.json...\n\n"+
			"Writes journeys in frodo's export format: by name, the current version in the store (with --data or --redis)\n"+
			"or a built-in journey; FILE.json, a journey file.\n\n")
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
	ctx := context.Background()
	repo, closeRepo, err := openOfflineRepo(*data, *redisURL)
	if err != nil {
		fmt.Fprintf(stderr, "arbor journeys export: %v\n", err)
		return 1
	}
	defer closeRepo()
	var js []*journeys.Journey
	off := map[string]bool{} // stored journeys that are disabled
	for _, arg := range fs.Args() {
		doc, disabled, err := exportSource(ctx, repo, builtin, arg)
		if err != nil {
			fmt.Fprintf(stderr, "arbor journeys export: %v\n", err)
			return 1
		}
		j, ps := journeys.Parse(doc)
		if ps != nil {
			fmt.Fprintf(stdout, "%s: %d problem(s)\n", arg, len(ps))
			for _, p := range ps {
				fmt.Fprintf(stdout, "  %s\n", p)
			}
			return 1
		}
		js = append(js, j)
		off[j.Name] = disabled
	}
	meta := &forgerock.ExportMeta{Origin: "arbor", ExportedBy: "arbor journeys export",
		ExportDate: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), ExportTool: "arbor", ExportToolVersion: "arbor"}
	b, err := forgerock.Export(js, Registry(), meta, func(name string) bool { return off[name] })
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

// openStore opens the store serve would: the embedded one in dir, or Redis at url.
func openStore(dir, url string) (store.Store, error) {
	if url != "" {
		st, err := redisstore.Open(url)
		if err != nil {
			return nil, err
		}
		if err := st.Ping(context.Background()); err != nil {
			st.Close()
			return nil, fmt.Errorf("redis: %w", err)
		}
		return st, nil
	}
	return embedded.Open(embedded.Options{Dir: dir})
}

// exportSource finds what export writes for arg: a journey file (FILE.json), else the
// current version of a stored journey (when there is a store), else a built-in one; and
// whether it is a stored journey that is disabled, which its export says.
func exportSource(ctx context.Context, repo *journeys.Repo, builtin map[string][]byte, arg string) ([]byte, bool, error) {
	if strings.HasSuffix(arg, ".json") {
		doc, err := os.ReadFile(arg)
		return doc, false, err
	}
	if repo != nil {
		v, enabled, err := repo.Latest(ctx, arg)
		if err == nil {
			return v.Doc, !enabled, nil
		}
		if !errors.Is(err, journeys.ErrNotFound) {
			return nil, false, err
		}
	}
	if doc, ok := builtin[arg]; ok {
		return doc, false, nil
	}
	return nil, false, fmt.Errorf("%s is neither a journey file, a stored journey nor a built-in journey", arg)
}

// openOfflineRepo opens the journey repository over the store serve would (openStore)
// with the node types and no services, as the commands that work without a server
// compile journeys, and a func that closes it. With neither dir nor url there is no
// store: the repository is nil.
func openOfflineRepo(dir, url string) (*journeys.Repo, func(), error) {
	if dir == "" && url == "" {
		return nil, func() {}, nil
	}
	st, err := openStore(dir, url)
	if err != nil {
		return nil, nil, err
	}
	repo := journeys.NewRepo(st, journeys.CompileOptions{Registry: Registry(), Deps: &nodes.Deps{}})
	return repo, func() { st.Close() }, nil
}
