package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/ckalab/ckalab/migrations"
)

// ErrSchema means the database schema cannot be used by this binary.
var ErrSchema = errors.New("database schema unusable")

// SchemaStatus describes the database's schema version.
type SchemaStatus struct {
	Version uint // 0: nothing applied
	Dirty   bool
	Latest  uint // newest version this binary knows
}

func (st SchemaStatus) String() string {
	s := fmt.Sprintf("schema version %d (this binary knows up to %d)", st.Version, st.Latest)
	if st.Dirty {
		s += ", DIRTY: a migration failed half-way"
	}
	return s
}

// LatestMigration is the newest schema version embedded in the binary.
func LatestMigration() uint {
	entries, _ := fs.ReadDir(migrations.FS, ".")
	var max uint
	for _, e := range entries {
		n, err := strconv.ParseUint(strings.SplitN(e.Name(), "_", 2)[0], 10, 32)
		if err == nil && uint(n) > max {
			max = uint(n)
		}
	}
	return max
}

func (s *Store) migrator() (*migrate.Migrate, func(), error) {
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return nil, nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	db := stdlib.OpenDBFromPool(s.pool)
	drv, err := migratepgx.WithInstance(db, &migratepgx.Config{})
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("prepare migrations: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("prepare migrations: %w", err)
	}
	return m, func() { _, _ = m.Close() }, nil
}

// Status reads the schema version.
func (s *Store) Status(ctx context.Context) (SchemaStatus, error) {
	st := SchemaStatus{Latest: LatestMigration()}
	m, done, err := s.migrator()
	if err != nil {
		return st, err
	}
	defer done()
	v, dirty, err := m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read schema version: %w", err)
	}
	st.Version, st.Dirty = v, dirty
	return st, nil
}

// checkUsable refuses a dirty schema or one newer than the binary.
func checkUsable(st SchemaStatus) error {
	if st.Dirty {
		return fmt.Errorf("%w: %s; repair the schema by hand, then run `ckalab migrate force %d`", ErrSchema, st, st.Version)
	}
	if st.Version > st.Latest {
		return fmt.Errorf("%w: %s; this ckalab is older than the database: run a newer ckalab", ErrSchema, st)
	}
	return nil
}

// MigrateUp applies every pending migration. It refuses a dirty schema or
// one newer than the binary.
func (s *Store) MigrateUp(ctx context.Context) (SchemaStatus, error) {
	st, err := s.Status(ctx)
	if err != nil {
		return st, err
	}
	if err := checkUsable(st); err != nil {
		return st, err
	}
	m, done, err := s.migrator()
	if err != nil {
		return st, err
	}
	defer done()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return st, fmt.Errorf("apply migrations: %w", err)
	}
	s.pool.Reset() // connections cache type OIDs of the old schema
	return s.Status(ctx)
}

// MigrateDown reverts the newest steps migrations (all when steps <= 0).
func (s *Store) MigrateDown(ctx context.Context, steps int) (SchemaStatus, error) {
	st, err := s.Status(ctx)
	if err != nil {
		return st, err
	}
	if err := checkUsable(st); err != nil {
		return st, err
	}
	m, done, err := s.migrator()
	if err != nil {
		return st, err
	}
	defer done()
	if steps <= 0 {
		err = m.Down()
	} else {
		err = m.Steps(-steps)
	}
	if err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return st, fmt.Errorf("revert migrations: %w", err)
	}
	s.pool.Reset()
	return s.Status(ctx)
}

// MigrateForce marks the schema as being at version v and clean, after a
// human repaired a failed migration.
func (s *Store) MigrateForce(ctx context.Context, v int) (SchemaStatus, error) {
	m, done, err := s.migrator()
	if err != nil {
		return SchemaStatus{}, err
	}
	defer done()
	if err := m.Force(v); err != nil {
		return SchemaStatus{}, fmt.Errorf("force version %d: %w", v, err)
	}
	return s.Status(ctx)
}

// MigrationNames lists the embedded migrations, for status output.
func MigrationNames() []string {
	entries, _ := fs.ReadDir(migrations.FS, ".")
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".up.sql") {
			names = append(names, strings.TrimSuffix(e.Name(), ".up.sql"))
		}
	}
	sort.Strings(names)
	return names
}
