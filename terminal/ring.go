package terminal

// ring keeps the last size bytes written, for replay on reattach.
type ring struct {
	buf  []byte
	size int
}

func newRing(size int) *ring { return &ring{size: size} }

func (r *ring) Write(p []byte) {
	if len(p) >= r.size {
		r.buf = append(r.buf[:0], p[len(p)-r.size:]...)
		return
	}
	if over := len(r.buf) + len(p) - r.size; over > 0 {
		r.buf = append(r.buf[:0], r.buf[over:]...)
	}
	r.buf = append(r.buf, p...)
}

// Bytes returns a copy of the kept output.
func (r *ring) Bytes() []byte { return append([]byte(nil), r.buf...) }
