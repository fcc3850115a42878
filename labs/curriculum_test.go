package labs

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func TestCurriculumIsConsistent(t *testing.T) {
	total := 0
	seen := map[string]bool{}
	for _, d := range Curriculum {
		if _, ok := Domains[d.Key]; !ok {
			t.Errorf("curriculum domain %q is not in Domains", d.Key)
		}
		if seen["domain:"+d.Key] {
			t.Errorf("domain %q is listed twice", d.Key)
		}
		seen["domain:"+d.Key] = true
		if len(d.Competencies) == 0 {
			t.Errorf("domain %q has no competencies", d.Key)
		}
		total += d.Weight
		for _, c := range d.Competencies {
			if !idRe.MatchString(c.ID) || seen[c.ID] || strings.TrimSpace(c.Text) == "" {
				t.Errorf("competency %q: ids are unique, lowercase and dashes, and need a text", c.ID)
			}
			seen[c.ID] = true
		}
	}
	if len(Curriculum) != len(Domains) {
		t.Errorf("the curriculum has %d domains, Domains %d", len(Curriculum), len(Domains))
	}
	if total != 100 {
		t.Errorf("domain weights add up to %d %%, want 100", total)
	}
	everything := &Lab{ID: "all"}
	for id := range competencyDomain {
		everything.Competencies = append(everything.Competencies, id)
	}
	if got := Coverage([]*Lab{everything}); math.Abs(got-100) > 1e-9 {
		t.Errorf("a lab that trains everything covers %v %%, want 100", got)
	}
}

func TestCoverageCountsEachCompetencyOnce(t *testing.T) {
	a := &Lab{ID: "a", Competencies: []string{"rbac", "network-policies"}}
	b := &Lab{ID: "b", Competencies: []string{"rbac"}}
	want := 25.0/8 + 20.0/6
	if got := Coverage([]*Lab{a, b}); math.Abs(got-want) > 1e-9 {
		t.Errorf("coverage %v, want %v", got, want)
	}
	if got := CoverageLine([]*Lab{a, b}); got != "Weighted coverage: 6 %" {
		t.Errorf("%q: want whole percent, rounded down", got)
	}
}

func TestCompetenciesAreRequiredAndKnown(t *testing.T) {
	lab := func(competencies string) string { return minimalLab("one", competencies, "") }
	for _, tc := range []struct {
		name, competencies string
		want               []string // problems, or none
	}{
		{"known", "competencies: [persistent-volumes, rbac]\n", nil},
		{"unknown id", "competencies: [persistent-volumes, pvc]\n", []string{`labs/one/lab.yaml:7: competency "pvc": want one of `}},
		{"twice", "competencies:\n  - rbac\n  - rbac\n", []string{`labs/one/lab.yaml:9: competency "rbac" is listed twice`}},
		{"empty", "competencies: []\n", []string{`labs/one/lab.yaml:7: competencies is required`}},
		{"missing", "", []string{`labs/one/lab.yaml:1: competencies is required`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{"one/lab.yaml": {Data: []byte(lab(tc.competencies))}, "one/t.md": {Data: []byte("x")}}
			_, err := LoadFS(fsys, "labs")
			msgs := fmt.Sprint(err)
			if tc.want == nil && err != nil {
				t.Fatalf("want no problem, got:\n%s", msgs)
			}
			for _, w := range tc.want {
				if !strings.Contains(msgs, w) {
					t.Errorf("missing %q in:\n%s", w, msgs)
				}
			}
		})
	}
}

// TestCurriculumDocIsCurrent keeps docs/curriculum.md what the curriculum
// and the shipped labs say; CKALAB_UPDATE_DOCS=1 rewrites it.
func TestCurriculumDocIsCurrent(t *testing.T) {
	all, err := LoadAll(".")
	if err != nil {
		t.Fatalf("shipped labs:\n%v", err)
	}
	path := filepath.Join("..", "docs", "curriculum.md")
	want := CurriculumMarkdown(all)
	if os.Getenv("CKALAB_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s: %s", path, CoverageLine(all))
		return
	}
	got, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("docs/curriculum.md is not what the labs say (%s, %d labs); regenerate it with\n"+
			"    CKALAB_UPDATE_DOCS=1 go test ./labs/ -run TestCurriculumDocIsCurrent\n"+
			"and commit the result", CoverageLine(all), len(all))
	}
}
