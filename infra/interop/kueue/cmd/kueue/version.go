package main

import (
	"runtime/debug"

	"sigs.k8s.io/kueue/pkg/version"
)

// Kueue's release build stamps its version with -ldflags; this module pins the release in go.mod
// instead, so the manager reports the version it was built from (in its logs and user agent).
func init() {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	for _, dep := range info.Deps {
		if dep.Path == "sigs.k8s.io/kueue" {
			version.GitVersion = dep.Version
		}
	}
}
