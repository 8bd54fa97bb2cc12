package deploy

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"unicode"
)

// readmeLimit is issue 17's bound: the README is what a newcomer reads in minutes; the reference
// lives under docs/.
const readmeLimit = 12 * 1024

// The README keeps the two commands verbatim (one runs the service with embedded defaults, one runs
// every test) and says which variables switch the binary to real servers.
func TestReadmeIsShortAndKeepsTheTwoCommands(t *testing.T) {
	raw, err := os.ReadFile(path.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) >= readmeLimit {
		t.Errorf("README.md is %d bytes, over the %d-byte limit: move reference text under docs/ and link it", len(raw), readmeLimit)
	}
	readme := string(raw)
	for _, want := range []string{
		"```sh\ngo run ./cmd/erasure serve\n```",
		"```sh\ngo test ./...\n```",
		"`NATS_URL`",
		"`DATABASE_URL`",
	} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.md lacks %q", want)
		}
	}
}

// Every relative link in README.md and under docs/ names a file or directory of the repository,
// and a link to a heading of a Markdown file (file.md#anchor, #anchor) names one that exists.
func TestDocLinksResolve(t *testing.T) {
	fsys := os.DirFS(repoRoot)
	files := []string{"README.md"}
	err := fs.WalkDir(fsys, "docs", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found no Markdown file under docs/: %v", files)
	}
	for _, f := range files {
		broken, err := brokenLinks(fsys, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range broken {
			t.Errorf("%s: %s", f, b)
		}
	}
}

// The check itself must catch a missing file, a missing anchor and a link out of the repository,
// and leave alone what is not a relative link: otherwise the test above could not fail.
func TestBrokenLinksAreFound(t *testing.T) {
	fsys := fstest.MapFS{
		"docs/api.md": {Data: []byte("# Native API\n\n## Request-level error codes\n\n## Sophon compatibility, under `/sophon/v2/face/`\n\n" +
			"## Load test (2026-11-23)\n\n## Load test (2026-11-23)\n\n```sh\n# Not a heading\n```\n")},
		"docs/adr/0001-x.md": {Data: []byte("# ADR\n")},
	}
	for _, tt := range []struct {
		name, text string
		want       []string
	}{
		{"file", "[api](docs/api.md) and [adr](docs/adr/0001-x.md)", nil},
		{"directory", "[decisions](docs/adr/) [docs](docs)", nil},
		{"anchor", "[codes](docs/api.md#request-level-error-codes)", nil},
		{"anchor with code and punctuation", "[s](docs/api.md#sophon-compatibility-under-sophonv2face)", nil},
		{"second heading of a name", "[l](docs/api.md#load-test-2026-11-23-1)", nil},
		{"own anchor", "# Title\n\n## Run distributed\n\nsee [it](#run-distributed)", nil},
		{"reference definition", "[api]: docs/api.md\n[gone]: docs/gone.md", []string{"docs/gone.md"}},
		{"web and mail", "[w](https://example.com/x.md) [m](mailto:a@example.com) [p](//example.com/y)", nil},
		{"title", `[api](docs/api.md "the API")`, nil},
		{"missing file", "[gone](docs/gone.md)", []string{"docs/gone.md"}},
		{"missing file beside an existing one", "[a](docs/api.md) [b](docs/apis.md)", []string{"docs/apis.md"}},
		{"missing anchor", "[x](docs/api.md#no-such-heading)", []string{"docs/api.md#no-such-heading"}},
		{"heading inside a code fence", "[x](docs/api.md#not-a-heading)", []string{"docs/api.md#not-a-heading"}},
		{"missing own anchor", "# Title\n\n[x](#nowhere)", []string{"#nowhere"}},
		{"out of the repository", "[x](../elsewhere.md)", []string{"../elsewhere.md"}},
		{"in a code fence", "```md\n[x](docs/gone.md)\n```", nil},
		{"in a code span", "`[x](docs/gone.md)`", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fsys := maps.Clone(fsys)
			fsys["README.md"] = &fstest.MapFile{Data: []byte(tt.text)}
			got, err := brokenLinks(fsys, "README.md")
			if err != nil {
				t.Fatal(err)
			}
			var targets []string
			for _, b := range got {
				targets = append(targets, b.target)
			}
			if !slices.Equal(targets, tt.want) {
				t.Errorf("brokenLinks = %v, want %v", got, tt.want)
			}
		})
	}
	// A link from a file below the root resolves against that file's directory.
	fsys["docs/a.md"] = &fstest.MapFile{Data: []byte("[b](adr/0001-x.md) [c](../README.md) [d](api.md#native-api) [e](docs/api.md)")}
	fsys["README.md"] = &fstest.MapFile{Data: []byte("# R\n")}
	got, err := brokenLinks(fsys, "docs/a.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].target != "docs/api.md" {
		t.Errorf("brokenLinks(docs/a.md) = %v, want only docs/api.md (docs/docs/api.md does not exist)", got)
	}
}

// brokenLink is one link that leads nowhere, and why.
type brokenLink struct {
	target, reason string
}

func (b brokenLink) String() string { return fmt.Sprintf("link %s: %s", b.target, b.reason) }

var (
	// inlineLink matches [text](target) and [text](target "title"); the target is group 1.
	inlineLink = regexp.MustCompile(`\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	// referenceLink matches a reference definition line: [name]: target.
	referenceLink = regexp.MustCompile(`(?m)^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?`)
	codeSpan      = regexp.MustCompile("`+[^`]*`+")
	heading       = regexp.MustCompile(`^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$`)
	scheme        = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
	headingLink   = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
)

// brokenLinks returns the relative links of the Markdown file name (a slash path in fsys) whose
// file does not exist, or whose anchor names no heading of the Markdown file it points to. Links in
// code fences and code spans are text, not links; links with a scheme are not checked.
func brokenLinks(fsys fs.FS, name string) ([]brokenLink, error) {
	raw, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	prose := strings.Join(outsideFences(string(raw)), "\n")
	prose = codeSpan.ReplaceAllString(prose, "")
	var targets []string
	for _, re := range []*regexp.Regexp{inlineLink, referenceLink} {
		for _, m := range re.FindAllStringSubmatch(prose, -1) {
			targets = append(targets, m[1])
		}
	}
	var broken []brokenLink
	for _, target := range targets {
		if scheme.MatchString(target) || strings.HasPrefix(target, "//") {
			continue
		}
		file, anchor, _ := strings.Cut(target, "#")
		resolved := name
		if file != "" {
			resolved = path.Join(path.Dir(name), file)
			if !fs.ValidPath(resolved) || strings.HasPrefix(resolved, "../") {
				broken = append(broken, brokenLink{target, "outside the repository"})
				continue
			}
			if _, err := fs.Stat(fsys, resolved); err != nil {
				broken = append(broken, brokenLink{target, fmt.Sprintf("%s does not exist", resolved)})
				continue
			}
		}
		if anchor == "" || !strings.HasSuffix(resolved, ".md") {
			continue
		}
		anchors, err := headingAnchors(fsys, resolved)
		if err != nil {
			return nil, err
		}
		if !anchors[anchor] {
			broken = append(broken, brokenLink{target, fmt.Sprintf("%s has no heading #%s", resolved, anchor)})
		}
	}
	return broken, nil
}

// outsideFences returns the lines of a Markdown text that are not in a fenced code block.
func outsideFences(text string) []string {
	var lines []string
	fence := ""
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		switch {
		case fence != "":
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
		case strings.HasPrefix(trimmed, "```"), strings.HasPrefix(trimmed, "~~~"):
			fence = trimmed[:3]
		default:
			lines = append(lines, line)
		}
	}
	return lines
}

// headingAnchors returns the anchors GitHub gives the headings of a Markdown file: the heading's
// text lowercased, without punctuation other than '-' and '_', spaces as '-', and "-1", "-2", …
// after a repeated one.
func headingAnchors(fsys fs.FS, name string) (map[string]bool, error) {
	raw, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	anchors := map[string]bool{}
	seen := map[string]int{}
	for _, line := range outsideFences(string(raw)) {
		m := heading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		text := headingLink.ReplaceAllString(m[1], "$1") // a link's text is the heading's text
		var slug strings.Builder
		for _, r := range strings.ToLower(text) {
			switch {
			case r == ' ':
				slug.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
				slug.WriteRune(r)
			}
		}
		anchor := slug.String()
		if n := seen[anchor]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", anchor, n)] = true
		} else {
			anchors[anchor] = true
		}
		seen[anchor]++
	}
	return anchors, nil
}
