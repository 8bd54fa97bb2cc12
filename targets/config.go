package targets

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/erasure-dev/erasure/sagas"
)

// File is a targets file.
type File struct {
	Targets []Spec `yaml:"targets"`
}

// Spec configures one target. Secrets are never in the file: *_env fields name the
// environment variables that hold them.
type Spec struct {
	Name string `yaml:"name"`
	Kind string `yaml:"kind"` // sophon, tencent, http
	// URL is the Sophon box's base URL (http://host:port), the Tencent endpoint
	// (https://iai.tencentcloudapi.com, or http://host:port of a compatible service), or for
	// kind http the request URL, in which {person_id} is replaced by the (escaped) person id.
	URL      string        `yaml:"url"`
	Timeout  time.Duration `yaml:"timeout"`    // per call, default 10s
	Batch    int           `yaml:"batch_size"` // persons per call (Sophon; default 100)
	TokenEnv string        `yaml:"token_env"`  // Sophon, http: a bearer token

	// Tencent IAI.
	SecretIDEnv  string  `yaml:"secret_id_env"`
	SecretKeyEnv string  `yaml:"secret_key_env"`
	Region       string  `yaml:"region"`
	GroupID      string  `yaml:"group_id"` // set: DeletePersonFromGroup of this group; else DeletePerson
	Rate         float64 `yaml:"rate"`     // the account's requests per second for the action (default 50)
	// Replicas is how many erasure replicas share the rate: each allows itself Rate/Replicas.
	Replicas int `yaml:"replicas"`

	// Generic HTTP.
	Method  string            `yaml:"method"`  // default DELETE
	Headers map[string]string `yaml:"headers"` // values may name variables: ${VAR}
	Body    string            `yaml:"body"`    // {person_id} is replaced, JSON-escaped
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// Load reads and validates a targets file and builds its targets.
func Load(path string, getenv func(string) string) ([]sagas.Target, []Spec, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("targets file: %w", err)
	}
	specs, err := Parse(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("targets file %s: %w", path, err)
	}
	ts, err := Build(specs, getenv)
	if err != nil {
		return nil, nil, fmt.Errorf("targets file %s: %w", path, err)
	}
	return ts, specs, nil
}

// Parse decodes a targets file strictly (an unknown field is an error) and validates it.
func Parse(raw []byte) ([]Spec, error) {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("not a valid targets file: %w", err)
	}
	if len(f.Targets) == 0 {
		return nil, errors.New("no targets: the file must list at least one under `targets`")
	}
	seen := map[string]bool{}
	for i := range f.Targets {
		s := &f.Targets[i]
		s.setDefaults()
		if err := s.validate(); err != nil {
			return nil, fmt.Errorf("target %d (%q): %w", i+1, s.Name, err)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("target %d: name %q is used twice", i+1, s.Name)
		}
		seen[s.Name] = true
	}
	return f.Targets, nil
}

func (s *Spec) setDefaults() {
	if s.Timeout <= 0 {
		s.Timeout = 10 * time.Second
	}
	switch s.Kind {
	case KindSophon:
		if s.Batch <= 0 {
			s.Batch = 100
		}
	case KindTencent:
		if s.Rate <= 0 {
			s.Rate = 50
		}
		if s.Replicas <= 0 {
			s.Replicas = 1
		}
		if s.Region == "" {
			s.Region = "ap-guangzhou"
		}
		s.Batch = 1
	case KindHTTP:
		if s.Method == "" {
			s.Method = "DELETE"
		}
		s.Method = strings.ToUpper(s.Method)
		s.Batch = 1
	}
}

// Target kinds.
const (
	KindSophon  = "sophon"
	KindTencent = "tencent"
	KindHTTP    = "http"
)

func (s *Spec) validate() error {
	if !namePattern.MatchString(s.Name) {
		return errors.New("name must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	switch s.Kind {
	case KindSophon, KindTencent, KindHTTP:
	case "":
		return errors.New("kind is missing (sophon, tencent or http)")
	default:
		return fmt.Errorf("unknown kind %q (sophon, tencent or http)", s.Kind)
	}
	u, err := url.Parse(strings.ReplaceAll(s.URL, "{person_id}", "x"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q must be an absolute http or https URL", s.URL)
	}
	switch s.Kind {
	case KindTencent:
		if s.SecretIDEnv == "" || s.SecretKeyEnv == "" {
			return errors.New("secret_id_env and secret_key_env must name the variables holding the credential")
		}
		if u.Path != "" && u.Path != "/" {
			return fmt.Errorf("url %q: a Tencent endpoint has no path", s.URL)
		}
	case KindHTTP:
		if !strings.Contains(s.URL+s.Body, "{person_id}") {
			return errors.New("url or body must contain {person_id}")
		}
		switch s.Method {
		case "DELETE", "POST", "PUT", "PATCH":
		default:
			return fmt.Errorf("method %q: DELETE, POST, PUT or PATCH", s.Method)
		}
	}
	if s.Batch > 1000 {
		return errors.New("batch_size is at most 1000")
	}
	return nil
}

// Build builds the targets of validated specs, reading their secrets from the environment.
func Build(specs []Spec, getenv func(string) string) ([]sagas.Target, error) {
	out := make([]sagas.Target, 0, len(specs))
	for _, s := range specs {
		secret := func(env string) (string, error) {
			if env == "" {
				return "", nil
			}
			v := getenv(env)
			if v == "" {
				return "", fmt.Errorf("target %s: environment variable %s is not set", s.Name, env)
			}
			return v, nil
		}
		token, err := secret(s.TokenEnv)
		if err != nil {
			return nil, err
		}
		switch s.Kind {
		case KindSophon:
			out = append(out, newSophon(s, token))
		case KindTencent:
			id, err := secret(s.SecretIDEnv)
			if err != nil {
				return nil, err
			}
			key, err := secret(s.SecretKeyEnv)
			if err != nil {
				return nil, err
			}
			t, err := newTencent(s, id, key)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		case KindHTTP:
			headers := map[string]string{}
			for k, v := range s.Headers {
				var missing string
				headers[k] = os.Expand(v, func(name string) string {
					val := getenv(name)
					if val == "" {
						missing = name
					}
					return val
				})
				if missing != "" {
					return nil, fmt.Errorf("target %s: header %s names %s, which is not set", s.Name, k, missing)
				}
			}
			out = append(out, newHTTP(s, token, headers))
		}
	}
	return out, nil
}
