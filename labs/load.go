package labs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Problem is one error in a lab file, with its place.
type Problem struct {
	File string
	Line int
	Msg  string
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg) }

// Problems are every error found in a lab folder (or a tree of them).
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// UnmarshalYAML reads "20m"; a bad value is reported by validation, so
// decoding goes on and every other problem is found too.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		d.bad = n.Value
		return nil
	}
	d.Duration = v
	return nil
}

// LoadAll loads every lab folder (a folder with a lab.yaml) under root
// on disk. All problems of all labs are reported together.
func LoadAll(root string) ([]*Lab, error) {
	return LoadFS(os.DirFS(root), root)
}

// LoadFS loads every lab folder of fsys; name is how errors call its root.
func LoadFS(fsys fs.FS, name string) ([]*Lab, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("reading labs: %w", err)
	}
	var out []*Lab
	var all Problems
	ids := map[string]string{}
	namespaces := map[string]string{} // namespace -> the lab confined to it
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sub, err := fs.Sub(fsys, e.Name())
		if err != nil {
			return nil, err
		}
		if _, err := fs.Stat(sub, "lab.yaml"); err != nil {
			continue
		}
		dir := filepath.Join(name, e.Name())
		lab, err := load(sub, dir)
		var ps Problems
		if errors.As(err, &ps) {
			all = append(all, ps...)
			continue
		}
		if err != nil {
			return nil, err
		}
		if other, dup := ids[lab.ID]; dup {
			all = append(all, Problem{filepath.Join(dir, "lab.yaml"), 1, fmt.Sprintf("id %q is also used by %s", lab.ID, other)})
			continue
		}
		ids[lab.ID] = dir
		// Labs that share clusters must not share namespaces.
		for _, ns := range lab.Topology.Namespaces {
			if other, dup := namespaces[ns]; dup {
				all = append(all, Problem{filepath.Join(dir, "lab.yaml"), lab.Topology.namespacesLine,
					fmt.Sprintf("topology.namespaces: %q is also confined to lab %s: labs that may share a cluster need namespaces of their own", ns, other)})
			}
			namespaces[ns] = lab.ID
		}
		out = append(out, lab)
	}
	if len(all) > 0 {
		return nil, all
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Load reads and validates one lab folder. Errors are Problems, all at once.
func Load(dir string) (*Lab, error) { return load(os.DirFS(dir), dir) }

func load(fsys fs.FS, dir string) (*Lab, error) {
	file := filepath.Join(dir, "lab.yaml")
	raw, err := fs.ReadFile(fsys, "lab.yaml")
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, Problems{{file, lineOf(err), strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if len(doc.Content) == 0 {
		return nil, Problems{{file, 1, "empty file"}}
	}
	v := &validator{file: file, fsys: fsys, pos: map[string]int{}}
	v.walk(doc.Content[0], reflect.TypeOf(Lab{}), "")
	lab := &Lab{Dir: dir, fsys: fsys}
	decodeErr := doc.Content[0].Decode(lab)
	if err := decodeErr; err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, e := range te.Errors {
				v.add(lineOf(errors.New(e)), "%s", strings.TrimPrefix(e, "yaml: "))
			}
		} else {
			v.add(lineOf(err), "%s", err.Error())
		}
	}
	// Type errors leave fields empty: validating those would only echo them.
	if decodeErr == nil {
		v.validate(lab)
	}
	if len(v.problems) > 0 {
		sort.SliceStable(v.problems, func(i, j int) bool { return v.problems[i].Line < v.problems[j].Line })
		return nil, v.problems
	}
	return lab, nil
}

var lineRe = regexp.MustCompile(`line (\d+)`)

func lineOf(err error) int {
	if m := lineRe.FindStringSubmatch(err.Error()); m != nil {
		var n int
		fmt.Sscan(m[1], &n)
		return n
	}
	return 1
}

type validator struct {
	file     string
	fsys     fs.FS
	pos      map[string]int // field path -> line
	problems Problems
	confined bool // the lab declares topology.namespaces
}

func (v *validator) add(line int, format string, args ...any) {
	msg := linePrefix.ReplaceAllString(fmt.Sprintf(format, args...), "")
	v.problems = append(v.problems, Problem{v.file, line, msg})
}

var linePrefix = regexp.MustCompile(`^line \d+: `)

// at reports a problem at a field path (or its nearest parent's line).
func (v *validator) at(path, format string, args ...any) {
	for p := path; ; {
		if line, ok := v.pos[p]; ok {
			v.add(line, format, args...)
			return
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			v.add(1, format, args...)
			return
		}
		p = p[:i]
	}
}

// walk records each field's line and reports unknown fields, everywhere,
// against the Go types' yaml tags.
func (v *validator) walk(n *yaml.Node, t reflect.Type, path string) {
	v.pos[path] = n.Line
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeOf(Duration{}):
		return
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
			if tag != "" && tag != "-" {
				fields[tag] = t.Field(i).Type
			}
		}
		if t == reflect.TypeOf(Check{}) {
			for name, make := range checkKinds() {
				fields[name] = reflect.TypeOf(make())
			}
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			ft, ok := fields[key.Value]
			if !ok {
				names := make([]string, 0, len(fields))
				for k := range fields {
					names = append(names, k)
				}
				sort.Strings(names)
				v.add(key.Line, "unknown field %q (known: %s)", key.Value, strings.Join(names, ", "))
				continue
			}
			if seen[key.Value] {
				v.add(key.Line, "field %q given twice", key.Value)
			}
			seen[key.Value] = true
			v.walk(val, ft, join(path, key.Value))
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			v.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
