package backup

import (
	"context"
	"strings"
	"testing"
)

func TestBackupConninfoKeepsPasswordOffTheCommandLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, conn, password string
	}{
		{"postgres://ck:s3cret@db:5432/ckalab?sslmode=require&pool_max_conns=8", "postgres://ck@db:5432/ckalab?sslmode=require", "s3cret"},
		{"postgresql://db/ckalab?user=ck&password=s3cret", "postgresql://db/ckalab?user=ck", "s3cret"},
		{"postgres:///ckalab?host=%2Ftmp%2Frun&user=ckalab", "postgres:///ckalab?host=%2Ftmp%2Frun&user=ckalab", ""},
		{"host=db user=ck password='s3 cr\\'et' dbname=ckalab statement_cache_capacity=0", "host='db' user='ck' dbname='ckalab'", "s3 cr'et"},
	} {
		conn, pw, err := conninfo(tc.in)
		if err != nil || conn != tc.conn || pw != tc.password {
			t.Errorf("conninfo(%q) = %q, %q, %v; want %q, %q", tc.in, conn, pw, err, tc.conn, tc.password)
		}
	}
	if _, _, err := conninfo("postgres://ck:s3cret@db:x/ckalab"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("malformed URL: %v", err)
	}
}

func TestBackupFindToolsNamesThePackage(t *testing.T) {
	t.Parallel()
	if _, err := FindTools(context.Background(), 99); err == nil || !strings.Contains(err.Error(), "postgresql-client-99") {
		t.Errorf("PostgreSQL 99: %v", err)
	}
	got, err := FindTools(context.Background(), 15)
	if err != nil || got.Major != 15 {
		t.Errorf("PostgreSQL 15: %+v %v", got, err)
	}
}
