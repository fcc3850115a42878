package grader

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ckalab/ckalab/labs"
)

// revKey is etcd's revision key: main, '_', sub, and 't' for a deletion.
func revKey(main, sub int64, tombstone bool) []byte {
	b := make([]byte, 17, 18)
	binary.BigEndian.PutUint64(b, uint64(main))
	b[8] = '_'
	binary.BigEndian.PutUint64(b[9:], uint64(sub))
	if tombstone {
		b = append(b, 't')
	}
	return b
}

// kv is a protobuf mvccpb.KeyValue with key (1), mod_revision (3) and value (5).
func kv(key, value string, rev int64) []byte {
	var b []byte
	b = append(b, 0x0a)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = append(b, 0x18)
	b = binary.AppendUvarint(b, uint64(rev))
	b = append(b, 0x2a)
	b = binary.AppendUvarint(b, uint64(len(value)))
	return append(b, value...)
}

// testDB is an etcd-like bolt database: marker and doomed written, doomed
// then deleted; extra more pods fill pages (branch pages beyond a few hundred).
func testDB(t *testing.T, extra ...int) []byte {
	path := filepath.Join(t.TempDir(), "db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("key"))
		if err != nil {
			return err
		}
		for _, e := range []struct {
			rev       int64
			key       string
			tombstone bool
		}{{2, "/registry/configmaps/default/marker", false}, {3, "/registry/pods/default/doomed", false}, {4, "/registry/pods/default/doomed", true}} {
			if err := b.Put(revKey(e.rev, 0, e.tombstone), kv(e.key, "v", e.rev)); err != nil {
				return err
			}
		}
		for i := range append(extra, 0)[0] {
			if err := b.Put(revKey(int64(10+i), 0, false), kv(fmt.Sprintf("/registry/pods/default/p%05d", i), strings.Repeat("x", 200), int64(10+i))); err != nil {
				return err
			}
		}
		_, err = tx.CreateBucket([]byte("meta"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func withHash(db []byte) []byte {
	h := sha256.Sum256(db)
	return append(append([]byte{}, db...), h[:]...)
}

func TestOpenSnapshot(t *testing.T) {
	db := testDB(t)
	snap, err := openSnapshot(withHash(db))
	if err != nil {
		t.Fatal(err)
	}
	if snap.revision != 4 || !snap.keys["/registry/configmaps/default/marker"] || snap.keys["/registry/pods/default/doomed"] {
		t.Fatalf("snapshot %+v", snap)
	}
	if _, err := openSnapshot(db); err != errNoHash {
		t.Fatalf("a copy of the data file: %v", err)
	}
	damaged := withHash(db)
	damaged[100] ^= 0xff
	if _, err := openSnapshot(damaged); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("a damaged snapshot: %v", err)
	}
	// Crafted: random pages with a correct hash must fail, not crash.
	junk := make([]byte, 4*4096)
	rand.Read(junk)
	if _, err := openSnapshot(withHash(junk)); err == nil {
		t.Fatal("random bytes opened as a snapshot")
	}
	// A real database whose pages were scrambled after its meta pages.
	scrambled := append([]byte{}, db...)
	for i := 2 * 4096; i < len(scrambled); i++ {
		scrambled[i] = byte(i * 7)
	}
	if _, err := openSnapshot(withHash(scrambled)); err == nil {
		t.Fatal("a scrambled database opened")
	}
}

func TestEtcdSnapshotCheckReadsOnTheServer(t *testing.T) {
	db := testDB(t)
	c := fakeFiles(t, map[string]string{
		"c-control-plane:/opt/backup/etcd.db":   string(withHash(db)),
		"c-control-plane:/opt/backup/copied.db": string(db),
	})
	for _, tc := range []struct {
		name string
		e    labs.EtcdSnapshotCheck
		pass bool
		why  string
	}{
		{"valid", labs.EtcdSnapshotCheck{Node: "control-plane", Path: "/opt/backup/etcd.db", Keys: []string{"/registry/configmaps/default/marker"}, AbsentKeys: []string{"/registry/pods/default/doomed"}}, true, ""},
		{"missing key", labs.EtcdSnapshotCheck{Node: "control-plane", Path: "/opt/backup/etcd.db", Keys: []string{"/registry/configmaps/default/other"}}, false, "does not hold /registry/configmaps/default/other"},
		{"deleted key present", labs.EtcdSnapshotCheck{Node: "control-plane", Path: "/opt/backup/etcd.db", AbsentKeys: []string{"/registry/configmaps/default/marker"}}, false, "still holds"},
		{"copied data file", labs.EtcdSnapshotCheck{Node: "control-plane", Path: "/opt/backup/copied.db"}, false, "no integrity hash"},
		{"no file", labs.EtcdSnapshotCheck{Node: "control-plane", Path: "/opt/backup/none.db"}, false, "no snapshot at"},
	} {
		passed, msg, _, err := c.etcdSnapshot(context.Background(), &tc.e)
		if err != nil || passed != tc.pass || !strings.Contains(msg, tc.why) {
			t.Errorf("%s: passed=%v msg=%q err=%v", tc.name, passed, msg, err)
		}
	}
}

// A large database (branch pages) reads whole; a branch page made to
// point at itself fails at once instead of looping.
func TestSnapshotPagesAreWalkedOnce(t *testing.T) {
	db := testDB(t, 5000)
	snap, err := openSnapshot(withHash(db))
	if err != nil || len(snap.keys) != 5001 || snap.revision != 5009 {
		t.Fatalf("large snapshot: %v keys, revision %v, %v", len(snap.keys), snap.revision, err)
	}
	const ps = 4096
	looped := false
	for id := 2; id < len(db)/ps; id++ {
		p := db[id*ps:]
		if binary.LittleEndian.Uint16(p[8:]) == boltBranch && binary.LittleEndian.Uint16(p[10:]) > 0 {
			crafted := append([]byte{}, db...)
			binary.LittleEndian.PutUint64(crafted[id*ps+boltPageHeader+8:], uint64(id)) // first child: itself
			start := time.Now()
			if _, err := openSnapshot(withHash(crafted)); err == nil {
				t.Fatal("a self-referencing page opened")
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("a self-referencing page took %s", time.Since(start))
			}
			looped = true
			break
		}
	}
	if !looped {
		t.Fatal("no branch page in the test database")
	}
}
