// Package version tells which tenantd this is, for `tenantd --version` and
// /healthz.
package version

import (
	"runtime/debug"
	"sync"
)

// Version is set at link time for a release:
//
//	go build -ldflags "-X github.com/tenantd/tenantd/internal/version.Version=v1.2.0" ./cmd/tenantd
//
// Without it the version comes from the build information Go records: the
// module version (`go install …@v1.2.0`), or for a build in a checkout the
// version Go derives from the commit (v0.0.0-<time>-<commit>, +dirty when
// the work tree has changes).
var Version string

// String returns the version.
var String = sync.OnceValue(func() string {
	if Version != "" {
		return Version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += "+dirty"
	}
	return "devel-" + rev
})
