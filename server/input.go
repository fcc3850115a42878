package server

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ckalab/ckalab/store"
)

// The limits of the text a request may carry. Every user string is checked
// here before it reaches a query or a hash: PostgreSQL refuses NUL in text
// (a 500 otherwise), and nothing stored should hold control characters.
const (
	maxEmailLen     = 254  // bytes, RFC 5321's limit
	maxNameLen      = 200  // characters, as the schema counts them
	maxPasswordLen  = 1024 // bytes
	maxUserAgentLen = 300  // bytes kept of a User-Agent header
)

// plain reports whether v is valid UTF-8 without control characters.
func plain(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// emailProblem says what is wrong with an email address ("" if nothing).
func emailProblem(v string) string {
	switch {
	case v == "":
		return "required"
	case len(v) > maxEmailLen:
		return fmt.Sprintf("at most %d characters", maxEmailLen)
	case !plain(v):
		return "must not contain control characters"
	}
	if a, err := mail.ParseAddress(v); err != nil || a.Address != v {
		return "not an email address"
	}
	return ""
}

// inputs collects every problem of a request's text fields, so that one
// 400 lists them all.
type inputs struct{ problems []string }

func (in *inputs) add(field, problem string) {
	in.problems = append(in.problems, field+": "+problem)
}

// email checks an address and returns the form it is stored in.
func (in *inputs) email(field, v string) string {
	v = strings.TrimSpace(v)
	if p := emailProblem(v); p != "" {
		in.add(field, p)
	}
	return store.NormalizeEmail(v)
}

// name checks a person's or a cohort's name and returns it trimmed.
func (in *inputs) name(field, v string, required bool) string {
	v = strings.TrimSpace(v)
	switch {
	case v == "" && required:
		in.add(field, "required")
	case utf8.RuneCountInString(v) > maxNameLen:
		in.add(field, fmt.Sprintf("at most %d characters", maxNameLen))
	case !plain(v):
		in.add(field, "must not contain control characters")
	}
	return v
}

// password checks a password's size and characters; its strength is
// auth.CheckPasswordPolicy's business.
func (in *inputs) password(field, v string) {
	switch {
	case v == "":
		in.add(field, "required")
	case len(v) > maxPasswordLen:
		in.add(field, fmt.Sprintf("at most %d bytes", maxPasswordLen))
	case !plain(v):
		in.add(field, "must not contain control characters")
	}
}

// ok reports whether no problem was found.
func (in *inputs) ok() bool { return len(in.problems) == 0 }

// err is the 400 listing every problem.
func (in *inputs) err(msg string) error { return errBadRequest(msg, in.problems) }

// cleanHeader makes header text (a User-Agent) fit to store: valid UTF-8
// without control characters, cut to max bytes on a character boundary.
func cleanHeader(v string, max int) string {
	v = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) { // RuneError: an invalid byte
			return -1
		}
		return r
	}, v)
	if len(v) > max {
		v = strings.ToValidUTF8(v[:max], "") // drops a character cut in two
	}
	return v
}
