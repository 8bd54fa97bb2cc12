package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/erasure-dev/erasure/config"
)

// setUsage makes fs's --help print head (the usage lines and what the command does), the flags
// as they are typed (--data, not Go's -data), the environment variables the command reads with
// their defaults (from config.Variables) and the exit codes. command names the exit codes
// (exitCodesOf) and the variables (config.VariablesOf).
func setUsage(fs *flag.FlagSet, command, head string) {
	fs.Usage = func() { writeHelp(fs.Output(), fs, command, head) }
}

func writeHelp(w io.Writer, fs *flag.FlagSet, command, head string) {
	fmt.Fprintf(w, "%s\n\nFlags:\n", strings.TrimRight(head, "\n"))
	printFlags(w, fs)
	fmt.Fprintln(w)
	var env strings.Builder
	config.WriteEnvironment(&env, command)
	if env.Len() > 0 {
		fmt.Fprintf(w, "%s\n", env.String())
	}
	fmt.Fprintf(w, "%s\n", exitCodesOf(command))
}

// printFlags is flag.PrintDefaults with two dashes: "--name type", then the usage indented,
// with the default when it is not the zero value.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  --%s", f.Name)
		if typ != "" {
			fmt.Fprintf(w, " %s", typ)
		}
		fmt.Fprintf(w, "\n        %s", strings.ReplaceAll(usage, "\n", "\n        "))
		switch def := f.DefValue; {
		case def == "" || def == "0" || def == "false" || def == "0s":
		case fmt.Sprintf("%T", f.Value) == "*flag.stringValue":
			fmt.Fprintf(w, " (default %q)", def)
		default:
			fmt.Fprintf(w, " (default %s)", def)
		}
		fmt.Fprintln(w)
	})
}
