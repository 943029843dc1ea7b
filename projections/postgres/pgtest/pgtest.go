// Package pgtest gives tests a PostgreSQL database: the one DATABASE_URL
// names, in a schema of their own that is dropped afterwards. Without
// DATABASE_URL the test skips with a message that says how to run it, unless
// SHARELEDGER_REQUIRE_DB is set (as .ci/run sets it): then it fails.
package pgtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// URL returns DATABASE_URL or skips (fails under SHARELEDGER_REQUIRE_DB).
func URL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		msg := "PostgreSQL tests need DATABASE_URL, e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable go test ./... (or run bash .ci/run, which starts PostgreSQL and sets it)"
		if os.Getenv("SHARELEDGER_REQUIRE_DB") != "" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return url
}

// Schema creates a fresh schema for the test and drops it afterwards.
func Schema(tb testing.TB) (url, schema string) {
	tb.Helper()
	url = URL(tb)
	schema = "t_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("connect to %s: %v", url, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE SCHEMA %s`, pgx.Identifier{schema}.Sanitize())); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), url)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), fmt.Sprintf(`DROP SCHEMA %s CASCADE`, pgx.Identifier{schema}.Sanitize())); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return url, schema
}
