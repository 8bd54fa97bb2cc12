package deploy

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// repoRoot is relative to this package's directory, where go test runs.
const repoRoot = ".."

// --- compose model (the subset we check) ---

type composeFile struct {
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

type service struct {
	Image       string       `yaml:"image"`
	Build       *buildSpec   `yaml:"build"`
	Command     stringList   `yaml:"command"`
	Entrypoint  stringList   `yaml:"entrypoint"`
	Environment envMap       `yaml:"environment"`
	Ports       []string     `yaml:"ports"`
	Volumes     []string     `yaml:"volumes"`
	Healthcheck *healthcheck `yaml:"healthcheck"`
	DependsOn   dependsOn    `yaml:"depends_on"`
	Hostname    string       `yaml:"hostname"`
}

type healthcheck struct {
	Test    stringList `yaml:"test"`
	Disable bool       `yaml:"disable"`
}

// buildSpec accepts both `build: ctx` and `build: {context, dockerfile}`.
type buildSpec struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

func (b *buildSpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		b.Context = n.Value
		return nil
	}
	type plain buildSpec
	return n.Decode((*plain)(b))
}

// stringList accepts a YAML list or a single string (split on spaces, as
// compose does for command/entrypoint/healthcheck strings).
type stringList []string

func (s *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = strings.Fields(n.Value)
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*s = l
	return nil
}

// envMap accepts both `KEY: value` maps and `- KEY=value` lists.
type envMap map[string]string

func (e *envMap) UnmarshalYAML(n *yaml.Node) error {
	m := envMap{}
	if n.Kind == yaml.SequenceNode {
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, kv := range l {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
	} else {
		var raw map[string]any
		if err := n.Decode(&raw); err != nil {
			return err
		}
		for k, v := range raw {
			if v == nil {
				m[k] = ""
			} else {
				m[k] = fmt.Sprint(v)
			}
		}
	}
	*e = m
	return nil
}

// dependsOn accepts both the list and the map form.
type dependsOn map[string]string // service -> condition

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	m := dependsOn{}
	if n.Kind == yaml.SequenceNode {
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, s := range l {
			m[s] = "service_started"
		}
	} else {
		var raw map[string]struct {
			Condition string `yaml:"condition"`
		}
		if err := n.Decode(&raw); err != nil {
			return err
		}
		for s, c := range raw {
			if c.Condition == "" {
				c.Condition = "service_started"
			}
			m[s] = c.Condition
		}
	}
	*d = m
	return nil
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("parse compose.yaml: %v", err)
	}
	if len(c.Services) == 0 {
		t.Fatal("compose.yaml defines no services")
	}
	return c
}

// servicesWhere returns the sorted names of the services matching f.
func servicesWhere(c composeFile, f func(service) bool) []string {
	var names []string
	for name, s := range c.Services {
		if f(s) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

func isNATS(s service) bool     { return strings.HasPrefix(s.Image, "nats:") }
func isPostgres(s service) bool { return strings.HasPrefix(s.Image, "postgres:") }
func isErasure(s service) bool  { return s.Build != nil }

// hostnames returns the DNS names under which a service is reachable.
func hostnames(c composeFile, name string) []string {
	if h := c.Services[name].Hostname; h != "" {
		return []string{name, h}
	}
	return []string{name}
}

// flag returns the value of the first of names present in args, accepting
// "--f v", "-f v" and "--f=v".
func flag(args []string, names ...string) (string, bool) {
	for i, a := range args {
		for _, n := range names {
			for _, dash := range []string{"-", "--"} {
				if a == dash+n && i+1 < len(args) {
					return args[i+1], true
				}
				if v, ok := strings.CutPrefix(a, dash+n+"="); ok {
					return v, true
				}
			}
		}
	}
	return "", false
}

func hasFlag(args []string, names ...string) bool {
	for _, a := range args {
		for _, n := range names {
			if a == "-"+n || a == "--"+n || a == "--"+n+"=true" {
				return true
			}
		}
	}
	return false
}

// mountSource returns the source of the volume mounted at target.
func mountSource(s service, target string) (string, bool) {
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == target {
			return parts[0], true
		}
	}
	return "", false
}

// natsConf is what we read from a NATS config file (not YAML; regexps on
// the simple layout of deploy/nats.conf).
type natsConf struct {
	jetstream    bool
	syncAlways   bool
	storeDir     string
	clusterName  string
	clusterPort  string
	clientListen string
}

func block(conf, name string) (string, bool) {
	m := regexp.MustCompile(`(?m)^\s*` + name + `\s*[:=]?\s*\{([^}]*)\}`).FindStringSubmatch(conf)
	if m == nil {
		return "", false
	}
	return m[1], true
}

func setting(blk, key string) string {
	m := regexp.MustCompile(`(?m)^\s*` + key + `\s*[:=]\s*"?([^"\s#]+)"?`).FindStringSubmatch(blk)
	if m == nil {
		return ""
	}
	return m[1]
}

func stripComments(s string) string {
	return regexp.MustCompile(`(?m)(#|//).*$`).ReplaceAllString(s, "")
}

func parseNATSConf(t *testing.T, path string) natsConf {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read NATS config: %v", err)
	}
	conf := stripComments(string(b))
	var nc natsConf
	if js, ok := block(conf, "jetstream"); ok {
		nc.jetstream = true
		nc.syncAlways = setting(js, "sync_interval") == "always" || setting(js, "sync") == "always"
		nc.storeDir = setting(js, "store_dir")
	}
	if cl, ok := block(conf, "cluster"); ok {
		nc.clusterName = setting(cl, "name")
		if _, port, err := net.SplitHostPort(setting(cl, "listen")); err == nil {
			nc.clusterPort = port
		}
	}
	nc.clientListen = setting(conf, "listen")
	return nc
}

func TestComposeNATSCluster(t *testing.T) {
	c := loadCompose(t)
	natsNames := servicesWhere(c, isNATS)
	if len(natsNames) != 3 {
		t.Fatalf("want 3 NATS services, got %d: %v", len(natsNames), natsNames)
	}
	serverNames := map[string]string{}
	clusterNames := map[string]bool{}
	for _, name := range natsNames {
		s := c.Services[name]
		args := append(append([]string{}, s.Entrypoint...), s.Command...)
		if !strings.HasPrefix(s.Image, "nats:2.12") {
			t.Errorf("%s: image %q, want nats:2.12", name, s.Image)
		}

		var nc natsConf
		if cfg, ok := flag(args, "c", "config"); ok {
			src, mounted := mountSource(s, cfg)
			if !mounted {
				t.Errorf("%s: config %s is not mounted into the container", name, cfg)
				continue
			}
			if !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") {
				t.Errorf("%s: config mount source %q is not a file path", name, src)
				continue
			}
			nc = parseNATSConf(t, filepath.Join(repoRoot, src))
		}

		if !hasFlag(args, "js", "jetstream") && !nc.jetstream {
			t.Errorf("%s: JetStream is not enabled (no -js flag, no jetstream block)", name)
		}
		if !nc.syncAlways {
			t.Errorf("%s: JetStream sync_interval is not 'always'", name)
		}
		storeDir, ok := flag(args, "sd", "store_dir")
		if !ok {
			storeDir = nc.storeDir
		}
		if storeDir == "" {
			t.Errorf("%s: no JetStream store_dir", name)
		} else if _, ok := mountSource(s, storeDir); !ok {
			t.Errorf("%s: JetStream store_dir %s is not on a volume", name, storeDir)
		}

		sn, ok := flag(args, "n", "name", "server_name")
		if !ok || sn == "" {
			t.Errorf("%s: no server_name (JetStream clustering needs one)", name)
		} else if other, dup := serverNames[sn]; dup {
			t.Errorf("%s and %s share server_name %q", other, name, sn)
		}
		serverNames[sn] = name

		cn, ok := flag(args, "cluster_name")
		if !ok {
			cn = nc.clusterName
		}
		if cn == "" {
			t.Errorf("%s: no cluster name", name)
		}
		clusterNames[cn] = true

		clusterPort := nc.clusterPort
		if cl, ok := flag(args, "cluster"); ok {
			if u, err := url.Parse(cl); err == nil {
				clusterPort = u.Port()
			}
		}
		if clusterPort == "" {
			t.Errorf("%s: no cluster listen port", name)
		}

		routes, ok := flag(args, "routes")
		if !ok || routes == "" {
			t.Errorf("%s: no --routes", name)
			continue
		}
		routed := map[string]bool{}
		for _, r := range strings.Split(routes, ",") {
			u, err := url.Parse(strings.TrimSpace(r))
			if err != nil || u.Scheme != "nats" && u.Scheme != "nats-route" {
				t.Errorf("%s: bad route %q", name, r)
				continue
			}
			if u.Port() != "6222" && u.Port() != clusterPort {
				t.Errorf("%s: route %s does not use the cluster port %s", name, r, clusterPort)
			}
			routed[u.Hostname()] = true
		}
		for _, peer := range natsNames {
			if peer == name {
				continue
			}
			found := false
			for _, h := range hostnames(c, peer) {
				found = found || routed[h]
			}
			if !found {
				t.Errorf("%s: routes %q do not include peer %s", name, routes, peer)
			}
		}
		for h := range routed {
			known := false
			for _, peer := range natsNames {
				for _, ph := range hostnames(c, peer) {
					known = known || ph == h
				}
			}
			if !known {
				t.Errorf("%s: route to %q, which is not a NATS service", name, h)
			}
		}
	}
	if len(clusterNames) != 1 {
		t.Errorf("NATS nodes disagree on the cluster name: %v", clusterNames)
	}
}

func TestComposePostgres(t *testing.T) {
	c := loadCompose(t)
	pg := servicesWhere(c, isPostgres)
	if len(pg) != 1 {
		t.Fatalf("want 1 PostgreSQL service, got %v", pg)
	}
	s := c.Services[pg[0]]
	if !strings.HasPrefix(s.Image, "postgres:16") {
		t.Errorf("%s: image %q, want postgres:16", pg[0], s.Image)
	}
	for _, k := range []string{"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"} {
		if s.Environment[k] == "" {
			t.Errorf("%s: %s not set", pg[0], k)
		}
	}
	if s.Healthcheck == nil || len(s.Healthcheck.Test) == 0 || s.Healthcheck.Disable {
		t.Errorf("%s: no healthcheck (the erasure replicas wait for it)", pg[0])
	}
	if _, ok := mountSource(s, "/var/lib/postgresql/data"); !ok {
		t.Errorf("%s: data directory is not on a volume", pg[0])
	}
}

func TestComposeErasureReplicas(t *testing.T) {
	c := loadCompose(t)
	natsNames := servicesWhere(c, isNATS)
	pgNames := servicesWhere(c, isPostgres)
	if len(natsNames) != 3 || len(pgNames) != 1 {
		t.Fatalf("need 3 NATS and 1 PostgreSQL service, got %v and %v", natsNames, pgNames)
	}
	pg := c.Services[pgNames[0]]

	replicas := servicesWhere(c, isErasure)
	if len(replicas) != 2 {
		t.Fatalf("want 2 erasure services (with build:), got %v", replicas)
	}
	hostPorts := map[string]string{}
	var dataVolumes, photoVolumes []string
	for _, name := range replicas {
		s := c.Services[name]
		env := s.Environment

		dockerfile := s.Build.Dockerfile
		if dockerfile == "" {
			dockerfile = "Dockerfile"
		}
		if _, err := os.Stat(filepath.Join(repoRoot, s.Build.Context, dockerfile)); err != nil {
			t.Errorf("%s: build %s/%s: %v", name, s.Build.Context, dockerfile, err)
		}
		if len(s.Command) > 0 && (len(s.Command) != 1 || s.Command[0] != "serve") {
			t.Errorf("%s: command %v, want [serve]", name, s.Command)
		}

		// NATS_URL lists exactly the three NATS nodes, on the client port.
		var natsHosts []string
		for _, raw := range strings.Split(env["NATS_URL"], ",") {
			u, err := url.Parse(strings.TrimSpace(raw))
			if err != nil || u.Scheme != "nats" || u.Port() != "4222" {
				t.Errorf("%s: bad NATS_URL entry %q", name, raw)
				continue
			}
			natsHosts = append(natsHosts, u.Hostname())
		}
		sort.Strings(natsHosts)
		if strings.Join(natsHosts, ",") != strings.Join(natsNames, ",") {
			t.Errorf("%s: NATS_URL hosts %v, want all NATS services %v", name, natsHosts, natsNames)
		}

		// DATABASE_URL points at the postgres service with its credentials.
		db, err := url.Parse(env["DATABASE_URL"])
		if err != nil || db.Scheme != "postgres" && db.Scheme != "postgresql" {
			t.Errorf("%s: bad DATABASE_URL %q", name, env["DATABASE_URL"])
		} else {
			pass, _ := db.User.Password()
			switch {
			case db.Hostname() != pgNames[0] || db.Port() != "5432":
				t.Errorf("%s: DATABASE_URL host %s, want %s:5432", name, db.Host, pgNames[0])
			case db.User.Username() != pg.Environment["POSTGRES_USER"] || pass != pg.Environment["POSTGRES_PASSWORD"]:
				t.Errorf("%s: DATABASE_URL credentials do not match POSTGRES_USER/POSTGRES_PASSWORD", name)
			case strings.TrimPrefix(db.Path, "/") != pg.Environment["POSTGRES_DB"]:
				t.Errorf("%s: DATABASE_URL database %q, want %q", name, db.Path, pg.Environment["POSTGRES_DB"])
			case db.Query().Get("sslmode") != "disable":
				t.Errorf("%s: DATABASE_URL needs sslmode=disable (the postgres image has no TLS)", name)
			}
		}

		if env["ERASURE_HTTP_ADDR"] != "0.0.0.0:8080" {
			t.Errorf("%s: ERASURE_HTTP_ADDR = %q, want 0.0.0.0:8080", name, env["ERASURE_HTTP_ADDR"])
		}
		if env["ERASURE_API_KEYS"] == "" {
			t.Errorf("%s: ERASURE_API_KEYS not set", name)
		}
		if !strings.HasPrefix(env["ERASURE_MASTER_KEY"], "${ERASURE_MASTER_KEY") {
			t.Errorf("%s: ERASURE_MASTER_KEY must come from the environment, got %q", name, env["ERASURE_MASTER_KEY"])
		}

		// Its own data directory on a volume; the photos on one volume every replica shares.
		mounts := map[string]string{}
		for _, v := range s.Volumes {
			src, dst, _ := strings.Cut(v, ":")
			mounts[strings.Split(dst, ":")[0]] = src
		}
		if env["ERASURE_DATA"] == "" || mounts[env["ERASURE_DATA"]] == "" {
			t.Errorf("%s: ERASURE_DATA %q must be a mounted volume (volumes %v)", name, env["ERASURE_DATA"], s.Volumes)
		}
		if env["ERASURE_PHOTO_DIR"] == "" || mounts[env["ERASURE_PHOTO_DIR"]] == "" {
			t.Errorf("%s: ERASURE_PHOTO_DIR %q must be a mounted volume (volumes %v)", name, env["ERASURE_PHOTO_DIR"], s.Volumes)
		}
		dataVolumes = append(dataVolumes, mounts[env["ERASURE_DATA"]])
		photoVolumes = append(photoVolumes, mounts[env["ERASURE_PHOTO_DIR"]])

		if len(s.Ports) != 1 {
			t.Errorf("%s: ports %v, want one mapping", name, s.Ports)
		}
		for _, p := range s.Ports {
			parts := strings.Split(p, ":")
			if len(parts) < 2 || parts[len(parts)-1] != "8080" {
				t.Errorf("%s: port %q does not publish container port 8080", name, p)
				continue
			}
			hp := parts[len(parts)-2]
			if other, dup := hostPorts[hp]; dup {
				t.Errorf("%s and %s both publish host port %s", other, name, hp)
			}
			hostPorts[hp] = name
		}

		if s.Healthcheck == nil || s.Healthcheck.Disable ||
			!strings.Contains(strings.Join(s.Healthcheck.Test, " "), "127.0.0.1:8080/readyz") &&
				!strings.Contains(strings.Join(s.Healthcheck.Test, " "), "localhost:8080/readyz") {
			t.Errorf("%s: healthcheck must probe :8080/readyz, got %+v", name, s.Healthcheck)
		}

		for _, dep := range append(append([]string{}, natsNames...), pgNames...) {
			if _, ok := s.DependsOn[dep]; !ok {
				t.Errorf("%s: does not depend on %s", name, dep)
			}
		}
		if s.DependsOn[pgNames[0]] != "service_healthy" {
			t.Errorf("%s: should wait for %s to be healthy", name, pgNames[0])
		}
	}
	if len(dataVolumes) == 2 && dataVolumes[0] == dataVolumes[1] {
		t.Errorf("the replicas share the data volume %s: each needs its own (the data-directory lock)", dataVolumes[0])
	}
	if len(photoVolumes) == 2 && photoVolumes[0] != photoVolumes[1] {
		t.Errorf("the replicas' photo volumes differ (%v): they must share one", photoVolumes)
	}
	if hostPorts["8081"] == "" || hostPorts["8082"] == "" {
		t.Errorf("erasure replicas should publish host ports 8081 and 8082, got %v", hostPorts)
	}
}

// TestComposeNamedVolumesDeclared catches typos in named volume references.
func TestComposeNamedVolumesDeclared(t *testing.T) {
	c := loadCompose(t)
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src, _, ok := strings.Cut(v, ":")
			if !ok || strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") || strings.HasPrefix(src, "~") {
				continue
			}
			if _, declared := c.Volumes[src]; !declared {
				t.Errorf("%s: named volume %q is not declared under volumes:", name, src)
			}
		}
	}
}

// dockerInstr is one Dockerfile instruction with continuations joined.
type dockerInstr struct {
	cmd  string // upper-case
	args string
}

func parseDockerfile(t *testing.T, path string) []dockerInstr {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerInstr
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		out = append(out, dockerInstr{strings.ToUpper(cmd), strings.TrimSpace(args)})
	}
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return out
}

func TestDockerfileBuildsErasure(t *testing.T) {
	instrs := parseDockerfile(t, filepath.Join(repoRoot, "Dockerfile"))

	type stage struct {
		base, alias string
		body        []dockerInstr
	}
	var stages []*stage
	for _, in := range instrs {
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			st := &stage{base: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.alias = f[2]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("instruction %s before FROM", in.cmd)
			}
			continue
		}
		stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
	}
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, got %d stage(s)", len(stages))
	}

	// A golang:1.26 stage builds ./cmd/erasure into some path.
	var builder *stage
	var binPath string
	outFlag := regexp.MustCompile(`-o\s+(\S+)`)
	for _, st := range stages {
		for _, in := range st.body {
			if in.cmd == "RUN" && strings.Contains(in.args, "go build") &&
				regexp.MustCompile(`(^|\s)\./cmd/erasure(\s|$)`).MatchString(in.args) {
				builder = st
				if m := outFlag.FindStringSubmatch(in.args); m != nil {
					binPath = m[1]
				}
			}
		}
	}
	if builder == nil {
		t.Fatal("no RUN go build ... ./cmd/erasure")
	}
	if !strings.HasPrefix(builder.base, "golang:1.26") {
		t.Errorf("build stage is FROM %s, want golang:1.26", builder.base)
	}
	if binPath == "" {
		t.Fatal("go build has no -o output path")
	}
	if fi, err := os.Stat(filepath.Join(repoRoot, "cmd", "erasure")); err != nil || !fi.IsDir() {
		t.Errorf("./cmd/erasure does not exist: %v", err)
	}

	// The final stage copies that binary to /erasure and runs `/erasure serve`.
	final := stages[len(stages)-1]
	if final == builder {
		t.Fatal("final stage is the build stage; want a separate run image")
	}
	if !strings.Contains(final.base, "distroless") && !strings.Contains(final.base, "debian") {
		t.Errorf("run image %s, want distroless or debian-slim", final.base)
	}
	copied := false
	for _, in := range final.body {
		f := strings.Fields(in.args)
		if in.cmd == "COPY" && len(f) == 3 && f[0] == "--from="+builder.alias && f[1] == binPath && f[2] == "/erasure" {
			copied = true
		}
	}
	if builder.alias == "" || !copied {
		t.Errorf("final stage does not COPY --from=<build stage> %s /erasure", binPath)
	}
	execForm := func(name string) []string {
		var v []string
		for _, in := range final.body {
			if in.cmd == name {
				v = nil
				if err := json.Unmarshal([]byte(in.args), &v); err != nil {
					t.Errorf("%s %s is not in exec (JSON) form: %v", name, in.args, err)
				}
			}
		}
		return v
	}
	if got := execForm("ENTRYPOINT"); len(got) != 1 || got[0] != "/erasure" {
		t.Errorf("ENTRYPOINT = %q, want [\"/erasure\"]", got)
	}
	if got := execForm("CMD"); len(got) != 1 || got[0] != "serve" {
		t.Errorf("CMD = %q, want [\"serve\"]", got)
	}
}
