package web

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOneCasingForSignIn: the pages, the built-in journeys' headers and the nodes'
// defaults all say "Sign in" (sentence case, issue 13), so that a page never shows
// "Sign In" above a "Sign in" button. The AM exports under journeys/forgerock/testdata
// keep AM's own text and are not scanned.
func TestOneCasingForSignIn(t *testing.T) {
	type source struct {
		fsys fs.FS
		root string
		keep func(path string) bool
	}
	goSource := func(p string) bool { return strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") }
	sources := []source{
		{templateFS, "templates", func(string) bool { return true }},
		{os.DirFS(".."), "journeys/builtin", func(p string) bool { return strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".yaml") }},
		{os.DirFS(".."), "nodes", goSource},
		{os.DirFS(".."), "web", goSource},
	}
	scanned := 0
	for _, s := range sources {
		err := fs.WalkDir(s.fsys, s.root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !s.keep(p) {
				return err
			}
			b, err := fs.ReadFile(s.fsys, p)
			if err != nil {
				return err
			}
			scanned++
			for i, line := range strings.Split(string(b), "\n") {
				if strings.Contains(line, "Sign In") {
					t.Errorf("%s:%d says %q; write \"Sign in\"", filepath.ToSlash(p), i+1, strings.TrimSpace(line))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("scanning %s: %v", s.root, err)
		}
	}
	// A scan that found nothing to read would pass whatever the files say.
	if scanned < 20 {
		t.Fatalf("scanned only %d files", scanned)
	}
}
