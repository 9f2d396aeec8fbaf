package deployments_test

import (
	"bytes"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// composeFile is the part of the Compose specification docker-compose.yml uses;
// decoding is strict, so a misspelled key fails here instead of being ignored
// by docker compose.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Common   map[string]string         `yaml:"x-cx360-common"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image           string                       `yaml:"image"`
	Build           *composeBuild                `yaml:"build"`
	Command         []string                     `yaml:"command"`
	DependsOn       map[string]composeDependency `yaml:"depends_on"`
	Environment     map[string]string            `yaml:"environment"`
	Volumes         []string                     `yaml:"volumes"`
	Ports           []string                     `yaml:"ports"`
	Ulimits         map[string]any               `yaml:"ulimits"`
	Healthcheck     *composeHealthcheck          `yaml:"healthcheck"`
	StopGracePeriod string                       `yaml:"stop_grace_period"`
}

type composeBuild struct {
	Context    string            `yaml:"context"`
	Dockerfile string            `yaml:"dockerfile"`
	Args       map[string]string `yaml:"args"`
}

type composeDependency struct {
	Condition string `yaml:"condition"`
}

type composeHealthcheck struct {
	Test        []string `yaml:"test"`
	Interval    string   `yaml:"interval"`
	Timeout     string   `yaml:"timeout"`
	Retries     int      `yaml:"retries"`
	StartPeriod string   `yaml:"start_period"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c composeFile
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("docker-compose.yml does not parse: %v", err)
	}
	return c
}

var composeVar = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}`)

// interpolate applies compose's variable interpolation with an empty host
// environment: ${VAR:-default} becomes default, $$ a literal $.
func interpolate(s string) string {
	return composeVar.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		return composeVar.FindStringSubmatch(m)[2]
	})
}

func interpolateAll(env map[string]string) map[string]string {
	out := make(map[string]string, len(env))
	for k, v := range env {
		out[k] = interpolate(v)
	}
	return out
}

// TestComposeStack checks the set of containers: KRaft Kafka (no ZooKeeper), a
// schema registry, ClickHouse, every cx360 service built from
// deployments/Dockerfile, Prometheus and Grafana.
func TestComposeStack(t *testing.T) {
	c := loadCompose(t)
	for _, want := range []string{"kafka", "schema-registry", "clickhouse", "prometheus", "grafana"} {
		if _, ok := c.Services[want]; !ok {
			t.Errorf("docker-compose.yml has no %s service", want)
		}
	}
	kafka := c.Services["kafka"].Environment
	if !slices.Contains(strings.Split(kafka["KAFKA_PROCESS_ROLES"], ","), "controller") {
		t.Errorf("kafka: KAFKA_PROCESS_ROLES=%q: not KRaft (no controller role)", kafka["KAFKA_PROCESS_ROLES"])
	}
	for k := range kafka {
		if strings.Contains(k, "ZOOKEEPER") {
			t.Errorf("kafka: %s: the stack runs Kafka in KRaft mode, without ZooKeeper", k)
		}
	}
	if img := c.Services["clickhouse"].Image; !regexp.MustCompile(`^clickhouse/clickhouse-server:\d+\.(3|8)$`).MatchString(img) {
		// ClickHouse's long-term-support releases are the .3 and .8 of each year.
		t.Errorf("clickhouse: image %q is not an LTS release line (YY.3 or YY.8)", img)
	}

	var built []string
	for _, name := range sortedKeys(c.Services) {
		s := c.Services[name]
		if s.Build == nil {
			continue
		}
		built = append(built, name)
		if s.Build.Context != "." || s.Build.Dockerfile != "deployments/Dockerfile" {
			t.Errorf("%s: builds %s with %s; want context . and deployments/Dockerfile", name, s.Build.Context, s.Build.Dockerfile)
		}
		if s.Build.Args["SERVICE"] != name {
			t.Errorf("%s: build arg SERVICE=%q; the service named %s must build services/%s", name, s.Build.Args["SERVICE"], name, name)
		}
		if s.Image != "cx360/"+name+":dev" {
			t.Errorf("%s: image %q; want cx360/%s:dev (the tag the k8s kustomization uses)", name, s.Image, name)
		}
	}
	if !slices.Equal(built, services()) {
		t.Errorf("docker-compose.yml builds %v; want every service %v", built, services())
	}
}

// TestComposeEnvironment checks every CX360_* variable: a cx360 service's are
// keys it reads, and the values pass its own validation; another container's
// (Grafana reads the ClickHouse password) are keys some service reads.
func TestComposeEnvironment(t *testing.T) {
	c := loadCompose(t)
	if len(c.Common) == 0 {
		t.Fatal("docker-compose.yml has no x-cx360-common settings")
	}
	checkEnvKeys(t, "docker-compose.yml x-cx360-common", "ingest", c.Common)
	anyKeys := anyConfigKeys(t)
	for _, name := range sortedKeys(c.Services) {
		s := c.Services[name]
		if _, isService := serviceConfigs[name]; !isService {
			for k := range s.Environment {
				if strings.HasPrefix(k, "CX360_") && !anyKeys[k] {
					t.Errorf("%s sets %s, which no cx360 service reads", name, k)
				}
			}
			continue
		}
		where := "docker-compose.yml " + name
		for k, v := range c.Common {
			if s.Environment[k] != v {
				t.Errorf("%s: does not merge x-cx360-common (%s=%q, want %q)", where, k, s.Environment[k], v)
			}
		}
		checkEnvKeys(t, where, name, s.Environment)
		env := interpolateAll(s.Environment)
		if err := validateEnv(name, env); err != nil {
			t.Errorf("%s: the service would refuse its settings: %v", where, err)
		}
		if shutdown, ok := env["CX360_SHUTDOWN_TIMEOUT"]; ok && s.StopGracePeriod != "" {
			if durationSeconds(t, where, s.StopGracePeriod) <= durationSeconds(t, where, shutdown) {
				t.Errorf("%s: stop_grace_period %s does not exceed CX360_SHUTDOWN_TIMEOUT %s: docker kills the service mid-shutdown", where, s.StopGracePeriod, shutdown)
			}
		} else {
			t.Errorf("%s: needs CX360_SHUTDOWN_TIMEOUT and a stop_grace_period above it", where)
		}
	}
	// One value, one variable: the password ClickHouse is given is the one the
	// sink (and Grafana) log in with.
	if got, want := c.Services["clickhouse"].Environment["CLICKHOUSE_PASSWORD"], c.Services["sink"].Environment["CX360_CLICKHOUSE_PASSWORD"]; got != want || !strings.Contains(got, "${CX360_CLICKHOUSE_PASSWORD") {
		t.Errorf("clickhouse's CLICKHOUSE_PASSWORD %q and the sink's CX360_CLICKHOUSE_PASSWORD %q must both come from ${CX360_CLICKHOUSE_PASSWORD}", got, want)
	}
}

// TestComposeNetwork checks addresses and ports: the services listen on every
// interface inside their containers, publish only on the host's loopback, and
// every host a CX360_* address names is a service this one waits for.
func TestComposeNetwork(t *testing.T) {
	c := loadCompose(t)
	for _, name := range sortedKeys(c.Services) {
		s := c.Services[name]
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s: port %q is published on every host interface; publish on 127.0.0.1 only", name, p)
			}
		}
		if _, isService := serviceConfigs[name]; !isService {
			continue
		}
		where := "docker-compose.yml " + name
		published := map[int]bool{}
		for _, p := range s.Ports {
			parts := strings.Split(p, ":")
			n, _ := strconv.Atoi(parts[len(parts)-1])
			published[n] = true
		}
		for _, key := range []string{adminAddrKey[name], apiAddrKey[name]} {
			if key == "" {
				continue
			}
			addr, ok := s.Environment[key]
			if !ok {
				t.Errorf("%s: %s is not set (the default listens on 127.0.0.1, unreachable from other containers)", where, key)
				continue
			}
			if port := listenPort(t, where, key, addr); !published[port] {
				t.Errorf("%s: %s port %d is not published", where, key, port)
			}
		}
		for key, host := range referencedHosts(t, where, s.Environment) {
			if _, ok := c.Services[host]; !ok {
				t.Errorf("%s: %s names host %q, which is no service of docker-compose.yml", where, key, host)
			} else if !dependsOn(c, name, host) {
				t.Errorf("%s: %s names %s, but %s does not wait for it (depends_on)", where, key, host, name)
			}
		}
	}
}

// referencedHosts returns the hosts the connection settings name, by key.
func referencedHosts(t *testing.T, where string, env map[string]string) map[string]string {
	t.Helper()
	hosts := map[string]string{}
	for _, key := range []string{"CX360_KAFKA_BROKERS", "CX360_CLICKHOUSE_ADDR"} {
		for _, addr := range strings.Split(env[key], ",") {
			if addr == "" {
				continue
			}
			host, _, err := net.SplitHostPort(strings.TrimSpace(addr))
			if err != nil {
				t.Errorf("%s: %s=%q: %v", where, key, env[key], err)
				continue
			}
			hosts[key] = host
		}
	}
	if raw := env["CX360_REGISTRY_URL"]; raw != "" {
		u, err := url.Parse(raw)
		if err != nil {
			t.Errorf("%s: CX360_REGISTRY_URL=%q: %v", where, raw, err)
		} else {
			hosts["CX360_REGISTRY_URL"] = u.Hostname()
		}
	}
	return hosts
}

// dependsOn reports whether service from waits for service to, directly or
// through the services it waits for.
func dependsOn(c composeFile, from, to string) bool {
	seen := map[string]bool{}
	var walk func(string) bool
	walk = func(s string) bool {
		if seen[s] {
			return false
		}
		seen[s] = true
		for dep := range c.Services[s].DependsOn {
			if dep == to || walk(dep) {
				return true
			}
		}
		return false
	}
	return walk(from)
}

// TestComposeStartOrder checks health checks and dependencies: every container
// has a health check, a dependency on a healthy service names one that has it,
// the graph has no cycle, and each cx360 service's health check asks its own
// admin port for /readyz through the image's probe binary.
func TestComposeStartOrder(t *testing.T) {
	c := loadCompose(t)
	for _, name := range sortedKeys(c.Services) {
		s := c.Services[name]
		if s.Healthcheck == nil || len(s.Healthcheck.Test) == 0 {
			t.Errorf("%s has no healthcheck", name)
		}
		for dep, d := range s.DependsOn {
			target, ok := c.Services[dep]
			switch {
			case !ok:
				t.Errorf("%s depends on %s, which does not exist", name, dep)
			case d.Condition != "service_healthy" && d.Condition != "service_started" && d.Condition != "service_completed_successfully":
				t.Errorf("%s depends on %s with condition %q", name, dep, d.Condition)
			case d.Condition == "service_healthy" && target.Healthcheck == nil:
				t.Errorf("%s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
			}
		}
		if dependsOn(c, name, name) {
			t.Errorf("%s depends on itself through depends_on: compose cannot start the stack", name)
		}
	}
	for _, name := range services() {
		s := c.Services[name]
		if s.Healthcheck == nil {
			continue
		}
		port := listenPort(t, name, adminAddrKey[name], s.Environment[adminAddrKey[name]])
		want := []string{"CMD", "/healthcheck", fmt.Sprintf("http://127.0.0.1:%d/readyz", port)}
		if !slices.Equal(s.Healthcheck.Test, want) {
			t.Errorf("%s: healthcheck %q; want %q (the admin port's readiness, through the image's probe binary)", name, s.Healthcheck.Test, want)
		}
	}
	if code := servedStatus(t, "/readyz"); code != 200 {
		t.Errorf("the services' admin handler answers /readyz with %d, not 200", code)
	}
	// The sink starts after identity, whose output it reads, and ClickHouse.
	for _, dep := range []string{"identity", "clickhouse"} {
		if c.Services["sink"].DependsOn[dep].Condition != "service_healthy" {
			t.Errorf("sink must wait for %s to be healthy", dep)
		}
	}
	for _, dep := range []string{"clickhouse", "prometheus"} {
		if !dependsOn(c, "grafana", dep) {
			t.Errorf("grafana must wait for %s", dep)
		}
	}
}

// TestComposeVolumes checks that every named volume is declared and used, and
// every bind mount's source exists in the repository.
func TestComposeVolumes(t *testing.T) {
	c := loadCompose(t)
	used := map[string]bool{}
	for _, name := range sortedKeys(c.Services) {
		for _, v := range c.Services[name].Volumes {
			source, _, ok := strings.Cut(v, ":")
			if !ok {
				t.Errorf("%s: volume %q has no container path", name, v)
				continue
			}
			if strings.HasPrefix(source, ".") || strings.HasPrefix(source, "/") {
				if _, err := os.Stat(filepath.Join(repoRoot, source)); err != nil {
					t.Errorf("%s: bind mount %q: %v", name, v, err)
				}
				continue
			}
			used[source] = true
			if _, ok := c.Volumes[source]; !ok {
				t.Errorf("%s: volume %q is not declared under volumes:", name, source)
			}
		}
	}
	for v := range c.Volumes {
		if !used[v] {
			t.Errorf("volume %q is declared but no service mounts it", v)
		}
	}
	for _, stateful := range []string{"kafka", "clickhouse", "identity", "prometheus", "grafana"} {
		hasNamed := false
		for _, v := range c.Services[stateful].Volumes {
			source, _, _ := strings.Cut(v, ":")
			_, declared := c.Volumes[source]
			hasNamed = hasNamed || declared
		}
		if !hasNamed {
			t.Errorf("%s keeps state but mounts no named volume", stateful)
		}
	}
	identity := c.Services["identity"]
	dataDir := identity.Environment["CX360_IDENTITY_DATA_DIR"]
	if !mountedUnder(identity.Volumes, dataDir) {
		t.Errorf("identity: CX360_IDENTITY_DATA_DIR=%q is not on a volume: every restart would replay cx.events from the start", dataDir)
	}
}

// mountedUnder reports whether path is inside one of the named volumes mounted
// by a compose service.
func mountedUnder(volumes []string, path string) bool {
	for _, v := range volumes {
		source, target, _ := strings.Cut(v, ":")
		target, _, _ = strings.Cut(target, ":")
		if !strings.HasPrefix(source, ".") && (path == target || strings.HasPrefix(path, strings.TrimSuffix(target, "/")+"/")) {
			return true
		}
	}
	return false
}

// containerPath returns where a compose service mounts a repository directory.
func containerPath(t *testing.T, s composeService, repoDir string) string {
	t.Helper()
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && filepath.Clean(parts[0]) == filepath.Clean(repoDir) {
			return parts[1]
		}
	}
	t.Fatalf("no volume mounts %s", repoDir)
	return ""
}
