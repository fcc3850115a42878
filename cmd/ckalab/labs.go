package main

import (
	"errors"
	"fmt"

	"github.com/ckalab/ckalab/labs"
)

// labs validate [DIR]: load every lab folder and print all problems.
func (c *cli) labs(args []string) error {
	if len(args) == 0 || args[0] != "validate" || len(args) > 2 {
		return usageError{"usage: ckalab labs validate [DIR]"}
	}
	dir := "labs"
	if len(args) == 2 {
		dir = args[1]
	}
	all, err := labs.LoadAll(dir)
	var ps labs.Problems
	if errors.As(err, &ps) {
		fmt.Fprintln(c.stderr, ps.Error())
		return fmt.Errorf("%d problem(s) in %s; fix them and run `ckalab labs validate %s` again", len(ps), dir, dir)
	}
	if err != nil {
		return err
	}
	for _, l := range all {
		checks := 0
		for _, t := range l.Tasks {
			checks += len(t.Checks)
		}
		fmt.Fprintf(c.stdout, "ok  %-28s %-22s %d task(s), %d check(s)\n", l.ID, l.Domain, len(l.Tasks), checks)
	}
	fmt.Fprintf(c.stdout, "%d lab(s) valid\n", len(all))
	fmt.Fprintf(c.stdout, "%s of the CKA curriculum (docs/curriculum.md)\n", labs.CoverageLine(all))
	return nil
}
