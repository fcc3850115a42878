package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/ckalab/ckalab/store"
)

func (c *cli) migrate(ctx context.Context, args []string) error {
	fs, cfg, envErr := c.flags("migrate", "ckalab migrate up|down [N]|status|force V [options]")
	if err := c.parse(fs, cfg, envErr, args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return usageError{"migrate needs up, down, status or force"}
	}
	log := newLogger(cfg, c.stderr)
	st, stop, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer stop()
	var status store.SchemaStatus
	switch rest[0] {
	case "up":
		status, err = st.MigrateUp(ctx)
	case "down":
		steps := 1
		if len(rest) > 1 {
			if rest[1] == "all" {
				steps = 0
			} else if steps, err = strconv.Atoi(rest[1]); err != nil || steps < 1 {
				return usageError{"migrate down takes a number of steps (default 1) or all"}
			}
		}
		status, err = st.MigrateDown(ctx, steps)
	case "status":
		status, err = st.Status(ctx)
		if err == nil {
			for _, n := range store.MigrationNames() {
				v, _ := strconv.Atoi(n[:3])
				mark := "pending"
				if uint(v) <= status.Version {
					mark = "applied"
				}
				fmt.Fprintf(c.stdout, "%-8s %s\n", mark, n)
			}
		}
	case "force":
		if len(rest) != 2 {
			return usageError{"migrate force needs the version to record"}
		}
		v, perr := strconv.Atoi(rest[1])
		if perr != nil {
			return usageError{"migrate force needs a numeric version"}
		}
		status, err = st.MigrateForce(ctx, v)
	default:
		return usageError{fmt.Sprintf("unknown migrate command %q: want up, down, status or force", rest[0])}
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, status)
	return nil
}
