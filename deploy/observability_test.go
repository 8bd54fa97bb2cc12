package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/erasure-dev/erasure/metrics"
)

var (
	dashboardFile = filepath.Join("grafana", "erasure-dashboard.json")
	alertsFile    = filepath.Join("prometheus", "alerts.yaml")
	metricsDoc    = filepath.Join(repoRoot, "docs", "operations-metrics.md")
)

// --- Grafana dashboard model (the subset we check) ---

type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Inputs        []struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		PluginID string `json:"pluginId"`
	} `json:"__inputs"`
}

type panel struct {
	ID         int        `json:"id"`
	Type       string     `json:"type"`
	Title      string     `json:"title"`
	Datasource datasource `json:"datasource"`
	GridPos    struct{ H, W, X, Y int }
	Targets    []struct {
		RefID      string     `json:"refId"`
		Expr       string     `json:"expr"`
		Datasource datasource `json:"datasource"`
	} `json:"targets"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// --- Prometheus rule file model ---

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

func readRules(t *testing.T) ruleFile {
	t.Helper()
	raw, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true) // a misspelt key (expr:, for:) is an error, as promtool would say
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	return f
}

// exercisedMetrics returns the names erasure's registry exposes once every recorder has recorded
// and every scraped gauge has a source; a histogram's series (_bucket, _sum, _count) included.
// A metric added to package metrics must be exercised here before a dashboard can use it.
func exercisedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	m := metrics.New()
	m.HTTPRequest("GET /v1/persons/{id}", 200, time.Millisecond)
	m.InFlight(1)
	m.Refused("native", "rate_limited")
	m.Event("PersonDeleted")
	m.SagaStep("purge_faces", time.Millisecond, errors.New("store down"))
	m.DeletionFailed("STEP_FAILED", "purge_faces")
	m.PersonDeletion("deleted", time.Second)
	m.ItemOutcome(metrics.ItemFailed, "ID_NOT_FOUND", 1)
	m.DeletionCompleted(time.Minute)
	m.TargetCall("edge", time.Millisecond, map[string]int{metrics.AttemptConfirmed: 1, metrics.AttemptRefused: 1})
	m.TargetConfirmed("edge")
	m.TargetFailed("edge")
	m.WebhookDelivery(metrics.WebhookDeadLettered)
	m.SetWebhookBacklog(func(context.Context) (int, int, error) { return 1, 1, nil })
	m.SetProjectionLag(func(context.Context) (uint64, float64, error) { return 1, 1, nil })
	m.SetDeletionBacklog(func(context.Context) (metrics.DeletionBacklog, error) {
		return metrics.DeletionBacklog{Running: 1, Pending: 1}, nil
	})
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
		// A histogram's or a summary's series carry suffixes; the family's own name is none.
		for _, series := range f.GetMetric() {
			switch {
			case series.GetHistogram() != nil:
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					names[f.GetName()+s] = true
				}
			case series.GetSummary() != nil:
				for _, s := range []string{"_sum", "_count"} {
					names[f.GetName()+s] = true
				}
			}
		}
	}
	return names
}

// metricName matches the names of erasure's series in a PromQL expression; a label name or a
// value in quotes cannot start with erasure_ and a name followed by a quote is not there.
var metricName = regexp.MustCompile(`\b` + metrics.Namespace + `_[a-zA-Z0-9_:]+\b`)

// unknownMetrics returns the erasure_ names expr uses that known lacks.
func unknownMetrics(expr string, known map[string]bool) []string {
	var out []string
	for _, name := range metricName.FindAllString(expr, -1) {
		if !known[name] && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// balanced reports whether expr's brackets pair up: a cut or mistyped expression fails here
// before a Prometheus refuses to load it.
func balanced(expr string) bool {
	var stack []rune
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	inQuote := false
	for _, r := range expr {
		switch {
		case r == '"':
			inQuote = !inQuote
		case inQuote:
		case r == '(' || r == '[' || r == '{':
			stack = append(stack, r)
		case pairs[r] != 0:
			if len(stack) == 0 || stack[len(stack)-1] != pairs[r] {
				return false
			}
			stack = stack[:len(stack)-1]
		}
	}
	return len(stack) == 0 && !inQuote
}

// The check itself must catch a name the registry lacks, a histogram suffix on a counter, and a
// bad expression: otherwise the tests below could not fail.
func TestUnknownMetricsAreFound(t *testing.T) {
	known := exercisedMetrics(t)
	tests := []struct {
		expr string
		want []string
	}{
		{`sum(rate(erasure_deletion_item_outcomes_total[5m]))`, nil},
		{`histogram_quantile(0.95, sum by (le) (rate(erasure_saga_step_duration_seconds_bucket[5m])))`, nil},
		{`max(erasure_deletions_running) + max(erasure_deletion_items{state="pending"})`, nil},
		{`sum(rate(erasure_person_deletion_failures[5m]))`, []string{"erasure_person_deletion_failures"}},
		{`rate(erasure_events_total_bucket[5m]) / rate(erasure_nope_total[5m])`, []string{"erasure_events_total_bucket", "erasure_nope_total"}},
	}
	for _, tt := range tests {
		if got := unknownMetrics(tt.expr, known); !slices.Equal(got, tt.want) {
			t.Errorf("unknownMetrics(%q) = %v, want %v", tt.expr, got, tt.want)
		}
	}
	for expr, want := range map[string]bool{
		`sum(rate(x{a="(]"}[5m]))`: true,
		`sum(rate(x[5m])`:          false,
		`max(x{a="b})`:             false,
	} {
		if balanced(expr) != want {
			t.Errorf("balanced(%q) = %v, want %v", expr, !want, want)
		}
	}
}

// The dashboard imports into Grafana (a datasource input, unique panel ids, every query on it)
// and every query names only metrics erasure exposes.
func TestDashboardUsesOnlyErasuresMetrics(t *testing.T) {
	d := readDashboard(t)
	known := exercisedMetrics(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 30 {
		t.Errorf("dashboard needs a uid, a title and a current schemaVersion: %q %q %d", d.UID, d.Title, d.SchemaVersion)
	}
	if len(d.Inputs) != 1 || d.Inputs[0].Name != "DS_PROMETHEUS" || d.Inputs[0].PluginID != "prometheus" {
		t.Errorf("dashboard needs one Prometheus datasource input DS_PROMETHEUS for import, has %+v", d.Inputs)
	}
	ids := map[int]bool{}
	used := map[string]bool{}
	queries := 0
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.Title == "" || p.GridPos.W == 0 || p.GridPos.H == 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %d (%q): needs a title and a place within 24 columns: %+v", p.ID, p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			queries++
			if q.Datasource.UID != "${DS_PROMETHEUS}" || p.Datasource.UID != "${DS_PROMETHEUS}" {
				t.Errorf("panel %q query %s: datasource %+v, want the DS_PROMETHEUS input", p.Title, q.RefID, q.Datasource)
			}
			if !balanced(q.Expr) {
				t.Errorf("panel %q query %s: unbalanced brackets in %s", p.Title, q.RefID, q.Expr)
			}
			if unknown := unknownMetrics(q.Expr, known); len(unknown) > 0 {
				t.Errorf("panel %q query %s uses %v, which erasure does not expose", p.Title, q.RefID, unknown)
			}
			for _, n := range metricName.FindAllString(q.Expr, -1) {
				used[n] = true
			}
		}
	}
	if queries == 0 {
		t.Fatal("no queries found: the dashboard's shape changed under the test")
	}
	// The panels the issue asks for.
	for _, name := range []string{
		"erasure_deletion_item_outcomes_total", "erasure_deletions_running", "erasure_deletion_items",
		"erasure_saga_step_duration_seconds_bucket", "erasure_target_attempts_total", "erasure_projection_lag_seconds",
		"erasure_webhook_backlog", "erasure_http_request_duration_seconds_count",
	} {
		if !used[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
}

// The alert rules load (known keys, a severity and a summary each) and use only metrics erasure
// exposes; the alerts the operations doc describes are all there.
func TestAlertRulesUseOnlyErasuresMetrics(t *testing.T) {
	f := readRules(t)
	known := exercisedMetrics(t)
	alerts := map[string]bool{}
	for _, g := range f.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: needs a name and rules", g.Name)
		}
		for _, r := range g.Rules {
			if r.Alert == "" || alerts[r.Alert] {
				t.Errorf("rule %q in %q: needs a unique alert name", r.Alert, g.Name)
			}
			alerts[r.Alert] = true
			if _, err := time.ParseDuration(r.For); err != nil {
				t.Errorf("alert %s: for %q: %v", r.Alert, r.For, err)
			}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("alert %s: needs labels.severity and annotations.summary", r.Alert)
			}
			if !balanced(r.Expr) || len(metricName.FindAllString(r.Expr, -1)) == 0 {
				t.Errorf("alert %s: expression %q is cut or names no erasure metric", r.Alert, r.Expr)
			}
			if unknown := unknownMetrics(r.Expr, known); len(unknown) > 0 {
				t.Errorf("alert %s uses %v, which erasure does not expose", r.Alert, unknown)
			}
		}
	}
	for _, want := range []string{"ErasureDeletionBacklogGrowing", "ErasureProjectionLagging", "ErasureWebhookDeadLetters",
		"ErasureItemsFailing", "ErasureTargetFailing"} {
		if !alerts[want] {
			t.Errorf("alert %s missing", want)
		}
	}
}

// docs/operations-metrics.md lists every metric erasure exposes, and every alert.
func TestOperationsDocCoversMetricsAndAlerts(t *testing.T) {
	raw, err := os.ReadFile(metricsDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for name := range exercisedMetrics(t) {
		if !strings.HasPrefix(name, metrics.Namespace+"_") || strings.HasSuffix(name, "_bucket") ||
			strings.HasSuffix(name, "_sum") || strings.HasSuffix(name, "_count") {
			continue // a histogram's series: the doc names the histogram
		}
		if !strings.Contains(doc, "`"+name+"`") && !strings.Contains(doc, "`"+name+"{") {
			t.Errorf("%s does not describe %s", metricsDoc, name)
		}
	}
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			if !strings.Contains(doc, r.Alert) {
				t.Errorf("%s does not describe alert %s", metricsDoc, r.Alert)
			}
		}
	}
}
