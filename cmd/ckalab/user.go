package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"

	"golang.org/x/term"

	"github.com/ckalab/ckalab/auth"
	"github.com/ckalab/ckalab/store"
)

func (c *cli) user(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "add" {
		return usageError{"usage: ckalab user add --email E --role student|instructor|admin [--name N]"}
	}
	fs, cfg, envErr := c.flags("user add", "ckalab user add --email E --role student|instructor|admin [--name N] [options]\n\nThe password is read from standard input (first line) when it is not a terminal,\nprompted for on a terminal, or generated and printed once when left empty.")
	email := fs.String("email", "", "email address of the account (required)")
	role := fs.String("role", "student", "role: student, instructor or admin")
	name := fs.String("name", "", "display name")
	if err := c.parse(fs, cfg, envErr, args[1:]); err != nil {
		return err
	}
	if *email == "" {
		return usageError{"--email is required"}
	}
	r := store.Role(*role)
	if !r.Valid() {
		return usageError{fmt.Sprintf("--role=%q: want student, instructor or admin", *role)}
	}
	pw, err := c.readPassword()
	if err != nil {
		return err
	}
	generated := pw == ""
	if generated {
		pw = auth.GeneratePassword()
	} else if err := auth.CheckPasswordPolicy(pw); err != nil {
		return usageError{err.Error()}
	}
	hash, err := auth.HashPassword(ctx, pw)
	if err != nil {
		return err
	}
	log := newLogger(cfg, c.stderr)
	st, stop, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer stop()
	if _, err := st.MigrateUp(ctx); err != nil {
		return err
	}
	u, err := st.CreateUser(ctx, *email, *name, r, hash)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("an account with email %s already exists", store.NormalizeEmail(*email))
	}
	if err != nil {
		return err
	}
	_ = st.Audit(ctx, nil, "user.add", u.Email, map[string]any{"role": string(u.Role)}, "cli")
	fmt.Fprintf(c.stdout, "created %s %s (%s)\n", u.Role, u.Email, u.ID)
	if generated {
		fmt.Fprintf(c.stdout, "password: %s\n(shown once; store it now)\n", pw)
	}
	return nil
}

// readPassword takes the first line of a non-terminal stdin, or prompts on
// a terminal without echo. Empty means "generate one".
func (c *cli) readPassword() (string, error) {
	if f, ok := c.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(c.stderr, "Password (empty to generate one): ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(c.stderr)
		return string(b), err
	}
	if c.stdin == nil {
		return "", nil
	}
	sc := bufio.NewScanner(c.stdin)
	if sc.Scan() {
		return trimLine(sc.Text()), nil
	}
	return "", sc.Err()
}
