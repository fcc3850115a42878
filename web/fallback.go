//go:build !embedweb

// Package web is ckalab's browser app: a TypeScript project built by Vite
// into dist/ and embedded into the binary with -tags embedweb. Without the
// tag (plain `go build`, `go test ./...`) a small fallback page is served,
// so Go work never needs a Node build.
package web

import (
	"embed"
	"io/fs"
)

//go:embed fallback
var fallback embed.FS

// FS is the fallback page: the binary was built without -tags embedweb.
func FS() fs.FS {
	sub, err := fs.Sub(fallback, "fallback")
	if err != nil {
		panic(err)
	}
	return sub
}

// Embedded reports whether the real web app is built in.
const Embedded = false
