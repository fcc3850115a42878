package auth

import (
	"strings"
	"testing"
	"time"
)

func TestPasswordHashRoundTrip(t *testing.T) {
	t.Parallel()
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$") || strings.Contains(h, "correct horse") {
		t.Fatalf("hash %q", h)
	}
	if err := VerifyPassword(h, "correct horse"); err != nil {
		t.Fatal(err)
	}
	if err := VerifyPassword(h, "correct horsE"); err != ErrBadPassword {
		t.Fatalf("wrong password: %v", err)
	}
	h2, _ := HashPassword("correct horse")
	if h == h2 {
		t.Fatal("hashes must be salted")
	}
}

func TestLimiterWindow(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	l := NewLimiter(3, time.Minute)
	l.now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("attempt %d refused", i)
		}
		l.Fail("a", "ip")
	}
	if ok, wait := l.Allow("a"); ok || wait != time.Minute {
		t.Fatalf("4th: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := l.Allow("b", "ip"); ok {
		t.Fatal("shared client key must also limit")
	}
	now = now.Add(61 * time.Second)
	if ok, _ := l.Allow("a", "ip"); !ok {
		t.Fatal("window did not slide")
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	a, b := NewToken(), NewToken()
	if a == b || len(a) < 40 || !TokensEqual(a, a) || TokensEqual(a, b) {
		t.Fatal("tokens")
	}
	if len(HashToken(a)) != 32 {
		t.Fatal("hash length")
	}
}
