package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPasswordHashRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, err := HashPassword(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$") || strings.Contains(h, "correct horse") {
		t.Fatalf("hash %q", h)
	}
	if err := VerifyPassword(ctx, h, "correct horse"); err != nil {
		t.Fatal(err)
	}
	if err := VerifyPassword(ctx, h, "correct horsE"); err != ErrBadPassword {
		t.Fatalf("wrong password: %v", err)
	}
	h2, _ := HashPassword(ctx, "correct horse")
	if h == h2 {
		t.Fatal("hashes must be salted")
	}
}

func TestBurnPasswordCheckMatchesNothing(t *testing.T) {
	t.Parallel()
	if err := BurnPasswordCheck(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if err := VerifyPassword(context.Background(), dummyHash, ""); !errors.Is(err, ErrBadPassword) {
		t.Fatalf("the dummy hash must match no password: %v", err)
	}
}

// TestHashingIsBounded: with every slot taken, hashing waits for one and
// gives up with ErrBusy when its context ends; a freed slot lets it run.
// Not parallel: it holds the package's slots.
func TestHashingIsBounded(t *testing.T) {
	if cap(hashSlots) < 1 {
		t.Fatalf("%d hashing slots", cap(hashSlots))
	}
	for i := 0; i < cap(hashSlots); i++ {
		hashSlots <- struct{}{}
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			for i := 0; i < cap(hashSlots); i++ {
				<-hashSlots
			}
		})
	}
	t.Cleanup(release)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := HashPassword(ctx, "correct horse"); !errors.Is(err, ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hash with every slot taken: %v, want ErrBusy", err)
	}
	if err := VerifyPassword(ctx, dummyHash, "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("verify with every slot taken: %v, want ErrBusy", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := HashPassword(context.Background(), "correct horse")
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("hashed without a free slot (%v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a freed slot did not let the waiting hash run")
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
