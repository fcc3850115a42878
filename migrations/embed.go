// Package migrations holds ckalab's PostgreSQL schema as numbered up/down SQL
// files, embedded in the binary and applied by package store.
package migrations

import "embed"

// FS holds NNN_name.up.sql and NNN_name.down.sql files.
//
//go:embed *.sql
var FS embed.FS
