package labs

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzLabLoad loads arbitrary lab.yaml bytes beside the shipped labs'
// other files: it never panics, and gives either a lab or problems that
// each name lab.yaml and a line.
func FuzzLabLoad(f *testing.F) {
	files := fstest.MapFS{}
	err := fs.WalkDir(os.DirFS("."), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(p, "testdata/") || path.Ext(p) == ".go" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if _, rest, ok := strings.Cut(p, "/"); ok {
			if rest == "lab.yaml" {
				f.Add(b)
			} else {
				files[rest] = &fstest.MapFile{Data: b} // tasks/…, setup.yaml: as seen from a lab folder
			}
		}
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"lab.yaml": {Data: data}}
		for name, file := range files {
			fsys[name] = file
		}
		lab, err := load(fsys, "fuzz")
		if err == nil {
			if lab == nil {
				t.Fatal("neither a lab nor an error")
			}
			return
		}
		if lab != nil {
			t.Fatalf("a lab and an error: %v", err)
		}
		var ps Problems
		if !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("want problems with file and line, got %T: %v", err, err)
		}
		lines := yamlLines(data)
		for _, p := range ps {
			if p.File != "fuzz/lab.yaml" || p.Line < 1 || p.Line > lines || p.Msg == "" {
				t.Fatalf("problem without its place (file of %d lines): %#v", lines, p)
			}
		}
	})
}

// yamlLines counts the lines of a YAML text: YAML also breaks lines at a
// lone \r and at NEL, LS and PS.
func yamlLines(b []byte) int {
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	n := 1
	for _, brk := range []string{"\n", "\r", "\u0085", "\u2028", "\u2029"} {
		n += strings.Count(s, brk)
	}
	return n
}
