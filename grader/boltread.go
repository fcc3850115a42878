package grader

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// boltReader reads a bbolt database (etcd's backend) from memory, read
// only, trusting nothing in it: every offset is checked, each page is
// visited at most once per walk and trees are at most maxBoltDepth deep.
// It reads what a check needs (buckets, keys, values), not free lists.
type boltReader struct {
	data     []byte
	pageSize int
	root     boltTree // the root bucket
}

// boltTree is a bucket's tree: a page, or a page inlined in its value.
type boltTree struct {
	pgid   uint64
	inline []byte // the inline page when pgid is 0
}

const (
	boltMagic      = 0xED0CDAED
	boltPageHeader = 16 // id, flags, count, overflow
	boltElem       = 16 // both branch and leaf elements
	boltBranch     = 0x01
	boltLeaf       = 0x02
	boltBucketFlag = 0x01 // a leaf element holding a bucket
	maxBoltDepth   = 64
)

func newBoltReader(data []byte) (*boltReader, error) {
	if len(data) < 2*4096 {
		return nil, errors.New("too small for a bolt database")
	}
	var best *boltReader
	var bestTx uint64
	// Two meta pages (0 and 1): the valid one with the newest transaction.
	for i := range 2 {
		// The first meta page names the page size; try it and the common one.
		for _, ps := range []int{4096, int(binary.LittleEndian.Uint32(data[boltPageHeader+8:]))} {
			off := i * ps
			if ps < 1024 || ps > 1<<16 || off+boltPageHeader+64 > len(data) {
				continue
			}
			m := data[off+boltPageHeader:]
			if binary.LittleEndian.Uint32(m[0:]) != boltMagic || int(binary.LittleEndian.Uint32(m[8:])) != ps {
				continue
			}
			root := binary.LittleEndian.Uint64(m[16:])
			tx := binary.LittleEndian.Uint64(m[48:])
			if best == nil || tx > bestTx {
				best, bestTx = &boltReader{data: data, pageSize: ps, root: boltTree{pgid: root}}, tx
			}
		}
	}
	if best == nil {
		return nil, errors.New("no valid meta page")
	}
	return best, nil
}

// page returns the bytes of page id, header included, with its overflow.
func (r *boltReader) page(id uint64) ([]byte, error) {
	if id < 2 || id >= uint64(len(r.data)/r.pageSize) {
		return nil, fmt.Errorf("page %d out of the file", id)
	}
	off := int(id) * r.pageSize
	p := r.data[off:]
	if binary.LittleEndian.Uint64(p) != id {
		return nil, fmt.Errorf("page %d has id %d", id, binary.LittleEndian.Uint64(p))
	}
	size := (1 + int(binary.LittleEndian.Uint32(p[12:]))) * r.pageSize
	if size > len(p) || size < 0 {
		return nil, fmt.Errorf("page %d overflows the file", id)
	}
	return p[:size], nil
}

// each calls fn with every key, value and element flags of a tree, in
// order. A value is a slice of the file: fn must not keep it.
func (r *boltReader) each(t boltTree, fn func(k, v []byte, flags uint32) error) error {
	seen := map[uint64]bool{}
	var walk func(p []byte, depth int) error
	walk = func(p []byte, depth int) error {
		if depth > maxBoltDepth {
			return errors.New("tree too deep")
		}
		if len(p) < boltPageHeader {
			return errors.New("short page")
		}
		flags := binary.LittleEndian.Uint16(p[8:])
		count := int(binary.LittleEndian.Uint16(p[10:]))
		if boltPageHeader+count*boltElem > len(p) {
			return errors.New("page elements overflow the page")
		}
		for i := range count {
			e := boltPageHeader + i*boltElem
			switch flags {
			case boltBranch:
				child := binary.LittleEndian.Uint64(p[e+8:])
				if seen[child] {
					return fmt.Errorf("page %d is reached twice", child)
				}
				seen[child] = true
				cp, err := r.page(child)
				if err != nil {
					return err
				}
				if err := walk(cp, depth+1); err != nil {
					return err
				}
			case boltLeaf:
				eflags := binary.LittleEndian.Uint32(p[e:])
				pos := int(binary.LittleEndian.Uint32(p[e+4:]))
				ksize := int(binary.LittleEndian.Uint32(p[e+8:]))
				vsize := int(binary.LittleEndian.Uint32(p[e+12:]))
				start := e + pos
				if pos < 0 || ksize < 0 || vsize < 0 || start < e || start+ksize+vsize > len(p) || start+ksize+vsize < start {
					return errors.New("leaf element out of its page")
				}
				if err := fn(p[start:start+ksize], p[start+ksize:start+ksize+vsize], eflags); err != nil {
					return err
				}
			default:
				return fmt.Errorf("page flags %#x: not a branch or a leaf", flags)
			}
		}
		return nil
	}
	if t.pgid == 0 {
		return walk(t.inline, 0)
	}
	seen[t.pgid] = true
	p, err := r.page(t.pgid)
	if err != nil {
		return err
	}
	return walk(p, 0)
}

// bucket finds the sub-bucket name in a tree.
func (r *boltReader) bucket(t boltTree, name string) (boltTree, error) {
	var found *boltTree
	err := r.each(t, func(k, v []byte, flags uint32) error {
		if string(k) != name || flags&boltBucketFlag == 0 {
			return nil
		}
		if len(v) < 16 {
			return fmt.Errorf("bucket %s: short header", name)
		}
		b := boltTree{pgid: binary.LittleEndian.Uint64(v)}
		if b.pgid == 0 {
			b.inline = v[16:]
		}
		found = &b
		return errStop
	})
	if err != nil && err != errStop {
		return boltTree{}, err
	}
	if found == nil {
		return boltTree{}, fmt.Errorf("it has no %s bucket", name)
	}
	return *found, nil
}

var errStop = errors.New("stop")
