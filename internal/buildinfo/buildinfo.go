// Package buildinfo says which build of erasure is running: the module version, the VCS revision
// and time it was built from, whether the work tree had uncommitted changes, and the Go version.
// `erasure version` prints it and /metrics exports it as erasure_build_info.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strconv"
)

// Unknown stands for a field the binary does not record: `go run` and `go test` stamp no VCS
// information, nor does a build outside a repository or with -buildvcs=false.
const Unknown = "unknown"

// Devel is the version of a build from a work tree rather than of a tagged module version
// (`go install module@version`).
const Devel = "devel"

// Info describes a build. Every field is set: a value the binary does not record reads Unknown
// (Version reads Devel).
type Info struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Time      string `json:"time"`     // the revision's commit time, RFC 3339
	Modified  string `json:"modified"` // "true" when built from a work tree with uncommitted changes, "false", or Unknown
	GoVersion string `json:"go_version"`
}

// Read returns the running binary's build information.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: Devel, Revision: Unknown, Time: Unknown, Modified: Unknown, GoVersion: runtime.Version()}
	}
	return From(bi)
}

// From reads an Info out of bi, filling what it lacks.
func From(bi *debug.BuildInfo) Info {
	info := Info{Version: bi.Main.Version, Revision: Unknown, Time: Unknown, Modified: Unknown, GoVersion: bi.GoVersion}
	// "(devel)" is what the go command records for a build from a work tree it could not version.
	if info.Version == "" || info.Version == "(devel)" {
		info.Version = Devel
	}
	if info.GoVersion == "" {
		info.GoVersion = runtime.Version()
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			if b, err := strconv.ParseBool(s.Value); err == nil {
				info.Modified = strconv.FormatBool(b)
			}
		}
	}
	return info
}
