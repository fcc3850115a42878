package grader

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ckalab/ckalab/labs"
)

// maxSnapshotBytes bounds the etcd snapshot a check copies off a node.
const maxSnapshotBytes = 128 << 20

// etcdSnapshot inspects a snapshot in the server process: nothing on the
// node (its etcdutl, its shell) takes part.
func (c *cluster) etcdSnapshot(ctx context.Context, e *labs.EtcdSnapshotCheck) (bool, string, any, error) {
	data, err := c.readNodeFile(ctx, e.Node, e.Path, maxSnapshotBytes)
	if err != nil {
		return false, fmt.Sprintf("no snapshot at %s on %s: %v", e.Path, e.Node, err), nil, nil
	}
	snap, err := openSnapshot(data)
	ev := map[string]any{"bytes": len(data)}
	if err != nil {
		return false, fmt.Sprintf("%s on %s is not a usable etcd snapshot: %v", e.Path, e.Node, err), ev, nil
	}
	ev["revision"], ev["keys"] = snap.revision, len(snap.keys)
	for _, k := range e.Keys {
		if !snap.keys[k] {
			return false, fmt.Sprintf("the snapshot (revision %d) does not hold %s", snap.revision, k), ev, nil
		}
	}
	for _, k := range e.AbsentKeys {
		if snap.keys[k] {
			return false, fmt.Sprintf("the snapshot (revision %d) still holds %s", snap.revision, k), ev, nil
		}
	}
	return true, "", ev, nil
}

// snapshot is what a check reads of an etcd v3 snapshot.
type snapshot struct {
	revision int64
	keys     map[string]bool // live keys at the snapshot's revision
}

// errNoHash is a file without the integrity hash `etcdctl snapshot save`
// appends: most often a copy of etcd's member/snap/db.
var errNoHash = errors.New("it has no integrity hash (a copy of etcd's data file, not `etcdctl snapshot save`?)")

// openSnapshot verifies a snapshot's hash and reads its keys. The file is
// the student's and may be crafted: it is read by boltReader, which checks
// every offset, visits each page once and stops after maxSnapshotKeys
// revisions, so no file can loop, overflow the stack or crash the server.
func openSnapshot(data []byte) (*snapshot, error) {
	// etcd appends sha256(db) to a snapshot; the db is a multiple of 512 bytes.
	if len(data)%512 != sha256.Size {
		return nil, errNoHash
	}
	db, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if h := sha256.Sum256(db); !bytes.Equal(h[:], sum) {
		return nil, errors.New("its integrity hash does not match: the file is damaged")
	}
	r, err := newBoltReader(db)
	if err != nil {
		return nil, fmt.Errorf("its database does not open: %w", err)
	}
	keyBucket, err := r.bucket(r.root, "key")
	if err != nil {
		return nil, err
	}
	snap := &snapshot{keys: map[string]bool{}}
	n := 0
	// Keys are revisions in order: main (8 bytes), '_', sub (8 bytes), and
	// a 't' for a deletion; values are mvccpb.KeyValue.
	err = r.each(keyBucket, func(rev, kv []byte, _ uint32) error {
		if n++; n > maxSnapshotKeys {
			return fmt.Errorf("it has over %d revisions", maxSnapshotKeys)
		}
		if len(rev) < 17 {
			return fmt.Errorf("revision key of %d bytes", len(rev))
		}
		snap.revision = max(snap.revision, int64(binary.BigEndian.Uint64(rev[:8])))
		key, err := kvKey(kv)
		if err != nil {
			return err
		}
		snap.keys[string(key)] = len(rev) == 17 // 18 bytes: a tombstone
		return nil
	})
	if err != nil {
		return nil, err
	}
	for k, live := range snap.keys {
		if !live {
			delete(snap.keys, k)
		}
	}
	return snap, nil
}

// maxSnapshotKeys bounds the revisions a check reads.
const maxSnapshotKeys = 2_000_000

// kvKey reads field 1 (key, bytes) of a protobuf mvccpb.KeyValue.
func kvKey(b []byte) ([]byte, error) {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("bad protobuf tag")
		}
		b = b[n:]
		switch tag & 7 {
		case 0: // varint
			_, m := binary.Uvarint(b)
			if m <= 0 {
				return nil, errors.New("bad protobuf varint")
			}
			b = b[m:]
		case 2: // bytes
			l, m := binary.Uvarint(b)
			if m <= 0 || uint64(len(b)-m) < l {
				return nil, errors.New("bad protobuf length")
			}
			if tag>>3 == 1 {
				return b[m : m+int(l)], nil
			}
			b = b[m+int(l):]
		default:
			return nil, fmt.Errorf("protobuf wire type %d", tag&7)
		}
	}
	return nil, errors.New("a value without a key")
}
