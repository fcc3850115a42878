// Package auth holds the account security primitives: password hashing
// (argon2id), random tokens and their hashes, and the sign-in rate limiter.
// It must not import the HTTP layer or the store.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"
)

var (
	// ErrBadPassword means a password does not match its hash.
	ErrBadPassword = errors.New("wrong password")
	// ErrBusy means no hashing slot came free before the context ended.
	ErrBusy = errors.New("too many passwords being hashed")
)

// hashSlots bounds the argon2 computations running at once, one per
// usable CPU: each holds argonMemory, so a flood of sign-ins queues here
// instead of exhausting memory. It is per process because the memory is.
var hashSlots = make(chan struct{}, runtime.GOMAXPROCS(0))

// withSlot runs f once a hashing slot is free, or fails when ctx ends first.
func withSlot(ctx context.Context, f func()) error {
	select {
	case hashSlots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	}
	defer func() { <-hashSlots }()
	f()
	return nil
}

// Argon2id parameters (OWASP's second recommended set: 19 MiB, t=2, p=1).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 8

// CheckPasswordPolicy explains what is wrong with a new password.
func CheckPasswordPolicy(pw string) error {
	if len(pw) < MinPasswordLen {
		return fmt.Errorf("password must be at least %d characters", MinPasswordLen)
	}
	if len(pw) > 200 {
		return errors.New("password must be at most 200 characters")
	}
	return nil
}

// HashPassword returns a PHC-style argon2id hash. It waits for a hashing
// slot; ErrBusy means ctx ended first.
func HashPassword(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	var key []byte
	if err := withSlot(ctx, func() { key = argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen) }); err != nil {
		return "", err
	}
	return encodeHash(salt, key), nil
}

func encodeHash(salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// VerifyPassword checks pw against a hash from HashPassword. It waits for
// a hashing slot like HashPassword.
func VerifyPassword(ctx context.Context, hash, pw string) error {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return errors.New("unknown password hash format")
	}
	var v int
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return errors.New("unsupported argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return fmt.Errorf("bad argon2 parameters: %w", err)
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return fmt.Errorf("bad salt: %w", err)
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil {
		return fmt.Errorf("bad key: %w", err)
	}
	var got []byte
	if err := withSlot(ctx, func() { got = argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want))) }); err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrBadPassword
	}
	return nil
}

// dummyHash lets a sign-in for an unknown email cost as much as a real one.
var dummyHash = encodeHash(make([]byte, 16), make([]byte, argonKeyLen))

// BurnPasswordCheck spends the time of a password check, so unknown
// emails and wrong passwords cannot be told apart by timing.
func BurnPasswordCheck(ctx context.Context, pw string) error {
	if err := VerifyPassword(ctx, dummyHash, pw); !errors.Is(err, ErrBadPassword) {
		return err
	}
	return nil
}

// NewToken returns a random URL-safe token of 32 bytes.
func NewToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashToken is what the database stores instead of a token.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// GeneratePassword returns a random password for `ckalab user add`.
func GeneratePassword() string {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// TokensEqual compares tokens in constant time.
func TokensEqual(a, b string) bool {
	return len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
