package labs

import (
	"embed"
	"io/fs"
)

// The labs shipped with ckalab, built into the binary.
//
//go:embed */lab.yaml */*.yaml */tasks/*.md
var builtin embed.FS

// Builtin loads the labs built into the binary.
func Builtin() ([]*Lab, error) {
	return LoadFS(fs.FS(builtin), "labs")
}
