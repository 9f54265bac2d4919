package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations holds the schema's versions: migrations/NNNN_name.sql takes
// the schema from version NNNN-1 to NNNN. A file, once released, never
// changes; a change of the schema is a new file.
//
//go:embed migrations/*.sql
var migrations embed.FS

// ErrSchemaTooNew is returned by Open when the schema was migrated by a
// newer truce than this one: this binary would not know how to read or
// write it. Upgrade the binary, or point it at another schema.
var ErrSchemaTooNew = errors.New("postgres: the schema was migrated by a newer truce")

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the embedded migrations in version order, checking
// that their versions are 1, 2, 3, ….
func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, n := range names {
		base := path.Base(n)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("postgres: migration %s is not named NNNN_name.sql", base)
		}
		b, err := migrations.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("postgres: migration %s: want version %d", m.name, i+1)
		}
	}
	return out, nil
}

// SchemaVersion is the version of the schema this binary creates and
// understands: that of its newest migration.
func SchemaVersion() int {
	ms, err := loadMigrations()
	if err != nil {
		panic(err) // the embedded files are checked by the tests
	}
	return len(ms)
}

// migrate creates the schema if needed and applies the migrations it lacks,
// all in one transaction under an advisory lock of the schema, so that
// nodes starting at once apply each migration once: the others wait for
// the lock, then find nothing to do.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return storeError(ctx, "migrate", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "truce.migrate:"+schema); err != nil {
		return storeError(ctx, "migrate: lock", err)
	}
	if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return storeError(ctx, "migrate: create schema", err)
	}
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS schema_version (version int NOT NULL)"); err != nil {
		return storeError(ctx, "migrate", err)
	}
	var have int
	err = tx.QueryRow(ctx, "SELECT version FROM schema_version").Scan(&have)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := tx.Exec(ctx, "INSERT INTO schema_version (version) VALUES (0)"); err != nil {
			return storeError(ctx, "migrate", err)
		}
	case err != nil:
		return storeError(ctx, "migrate: read the schema version", err)
	}
	if have > len(ms) {
		return fmt.Errorf("%w: schema %q is at version %d, this truce knows versions up to %d", ErrSchemaTooNew, schema, have, len(ms))
	}
	for _, m := range ms[have:] {
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return storeError(ctx, "migrate: "+m.name, err)
		}
	}
	if _, err := tx.Exec(ctx, "UPDATE schema_version SET version = $1", len(ms)); err != nil {
		return storeError(ctx, "migrate", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return storeError(ctx, "migrate: commit", err)
	}
	return nil
}
