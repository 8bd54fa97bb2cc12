package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/erasure-dev/erasure/internal/buildinfo"
)

// versionCmd prints the build: `erasure version` and `erasure --version`.
func versionCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("erasure version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object instead of lines")
	setUsage(fs, "version", "Usage: erasure version [--json]\n       erasure --version\n\n"+
		"Prints the build: module version (devel for a build from a work tree), VCS revision and commit\n"+
		"time, whether the work tree had uncommitted changes, and the Go version. A field the binary does\n"+
		"not record (go run stamps no VCS information) reads unknown. /metrics exports the same as\n"+
		"erasure_build_info{version,revision,go_version}.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	info := buildinfo.Read()
	if *asJSON {
		return json.NewEncoder(stdout).Encode(info)
	}
	_, err := fmt.Fprintf(stdout, "version: %s\nrevision: %s\ntime: %s\nmodified: %s\ngo_version: %s\n",
		info.Version, info.Revision, info.Time, info.Modified, info.GoVersion)
	return err
}
