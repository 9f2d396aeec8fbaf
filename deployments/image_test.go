package deployments_test

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cx360/cx360/pkg/health"
)

// dockerInstruction is one instruction of a Dockerfile, continuation lines
// joined.
type dockerInstruction struct {
	line int
	cmd  string // upper case: FROM, RUN, COPY, ...
	args string
}

// dockerStage is one FROM … stage with the ARG and ENV values in effect.
type dockerStage struct {
	name, base   string
	instructions []dockerInstruction
	env          map[string]string
}

func parseDockerfile(t *testing.T, path string) []dockerStage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ins []dockerInstruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if body, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		ins = append(ins, dockerInstruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	globalArgs := map[string]string{}
	var stages []dockerStage
	for _, in := range ins {
		switch {
		case in.cmd == "FROM":
			fields := strings.Fields(in.args)
			st := dockerStage{base: expandArgs(fields[0], globalArgs), env: map[string]string{}}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				st.name = fields[2]
			}
			stages = append(stages, st)
		case len(stages) == 0 && in.cmd == "ARG":
			k, v, _ := strings.Cut(in.args, "=")
			globalArgs[k] = v
		case len(stages) > 0:
			st := &stages[len(stages)-1]
			st.instructions = append(st.instructions, in)
			if in.cmd == "ENV" || in.cmd == "ARG" {
				// ARG values stay ${ARG} references: callers expand them per service.
				if k, v, ok := strings.Cut(in.args, "="); ok && in.cmd == "ENV" {
					st.env[k] = v
				}
			}
		}
	}
	return stages
}

var dockerVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func expandArgs(s string, args map[string]string) string {
	return dockerVar.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := args[dockerVar.FindStringSubmatch(m)[1]]; ok {
			return v
		}
		return m
	})
}

// shellWords splits a simple shell command line: words separated by spaces,
// double- and single-quoted parts kept together without their quotes.
func shellWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case r == ';' || r == '&' || r == '|' || r == '>' || r == '<' || r == '`':
			return nil, fmt.Errorf("%q: only one plain command per go build RUN is supported", s)
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("%q: unterminated quote", s)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// goBuild is one `go build` command of the Dockerfile.
type goBuild struct {
	line   int
	env    map[string]string // stage ENV and inline VAR=value
	flags  []string          // every argument but -o and the package
	output string
	pkg    string
}

func goBuilds(t *testing.T, st dockerStage) []goBuild {
	t.Helper()
	var builds []goBuild
	for _, in := range st.instructions {
		if in.cmd != "RUN" || !strings.Contains(in.args, "go build") {
			continue
		}
		words, err := shellWords(in.args)
		if err != nil {
			t.Fatalf("Dockerfile:%d: %v", in.line, err)
		}
		for len(words) > 0 && strings.HasPrefix(words[0], "--") { // RUN --mount=…
			words = words[1:]
		}
		b := goBuild{line: in.line, env: map[string]string{}}
		for k, v := range st.env {
			b.env[k] = v
		}
		for len(words) > 0 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "-") {
			k, v, _ := strings.Cut(words[0], "=")
			b.env[k] = v
			words = words[1:]
		}
		if len(words) < 3 || words[0] != "go" || words[1] != "build" {
			t.Fatalf("Dockerfile:%d: %q is not a plain go build command", in.line, in.args)
		}
		args := words[2:]
		for i := 0; i < len(args); i++ {
			switch a := args[i]; {
			case a == "-o" && i+1 < len(args):
				b.output = args[i+1]
				i++
			case strings.HasPrefix(a, "-"):
				b.flags = append(b.flags, a)
			case b.pkg == "":
				b.pkg = a
			default:
				t.Fatalf("Dockerfile:%d: go build of several packages (%s, %s)", in.line, b.pkg, a)
			}
		}
		builds = append(builds, b)
	}
	return builds
}

// TestDockerfile checks the image's shape: a Go toolchain of go.mod's release
// builds static binaries from only the sources they need; the runtime image is
// distroless, runs as a numeric non-root user, and holds exactly those binaries.
func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, "Dockerfile")
	if len(stages) != 2 {
		t.Fatalf("Dockerfile has %d stages; want build and runtime", len(stages))
	}
	build, runtime := stages[0], stages[1]
	gomod := string(mustRead(t, filepath.Join(repoRoot, "go.mod")))
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(gomod)
	if goVersion == nil || !strings.HasPrefix(build.base, "golang:"+goVersion[1]+"-") {
		t.Errorf("build stage FROM %s; want golang:<go.mod's %v>-…", build.base, goVersion)
	}
	if !strings.HasPrefix(runtime.base, "gcr.io/distroless/static") {
		t.Errorf("runtime stage FROM %s; want a distroless static image (no shell, no libc)", runtime.base)
	}
	builds := goBuilds(t, build)
	outputs := map[string]bool{}
	for _, b := range builds {
		outputs[b.output] = true
		if b.env["CGO_ENABLED"] != "0" {
			t.Errorf("Dockerfile:%d: go build without CGO_ENABLED=0: the binary would need a libc the runtime image lacks", b.line)
		}
		// Reproducible: no build paths, no VCS stamp (the build context has no
		// .git; a developer's checkout has, unless the flag says otherwise).
		for _, f := range []string{"-trimpath", "-buildvcs=false"} {
			if !slices.Contains(b.flags, f) {
				t.Errorf("Dockerfile:%d: go build without %s", b.line, f)
			}
		}
	}
	var user, entrypoint string
	copied := map[string]bool{}
	for _, in := range runtime.instructions {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "COPY":
			f := strings.Fields(in.args)
			if slices.Contains(f, "--from="+build.name) {
				copied[f[len(f)-2]] = true
			}
		}
	}
	if !regexp.MustCompile(`^[1-9][0-9]*(:[1-9][0-9]*)?$`).MatchString(user) {
		t.Errorf("runtime USER %q; want a numeric non-root uid (Kubernetes' runAsNonRoot cannot check a name)", user)
	}
	if entrypoint != `["/app"]` {
		t.Errorf("ENTRYPOINT %s; want [\"/app\"]", entrypoint)
	}
	for out := range outputs {
		if !copied[out] {
			t.Errorf("%s is built but not copied into the runtime image", out)
		}
	}

	// Every directory the binaries are compiled from is copied into the build
	// stage (BuildKit sends only those, and a missing one fails the build).
	var copiedSources []string
	for _, in := range build.instructions {
		if in.cmd == "COPY" && !strings.Contains(in.args, "--from") {
			f := strings.Fields(in.args)
			copiedSources = append(copiedSources, f[:len(f)-1]...)
		}
	}
	for _, s := range services() {
		for _, b := range builds {
			pkg := expandArgs(b.pkg, map[string]string{"SERVICE": s})
			list := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}{{end}}", pkg)
			list.Dir = repoRoot
			out, err := list.Output()
			if err != nil {
				t.Fatalf("go list %s: %v", pkg, err)
			}
			root, err := filepath.Abs(repoRoot)
			if err != nil {
				t.Fatal(err)
			}
			for _, dir := range strings.Fields(string(out)) {
				rel, err := filepath.Rel(root, dir)
				if err != nil || strings.HasPrefix(rel, "..") {
					continue // a module dependency, downloaded by go mod download
				}
				covered := false
				for _, src := range copiedSources {
					covered = covered || src == "." || rel == filepath.Clean(src) || strings.HasPrefix(rel, filepath.Clean(src)+"/")
				}
				if !covered {
					t.Errorf("%s is built from %s, which the Dockerfile does not copy", pkg, rel)
				}
			}
		}
	}
}

// TestImageBinaries runs the Dockerfile's own go build commands here, for each
// service, with the same environment, flags and packages, and checks what they
// produce: the service binary (its -h names it), static, stripped, built with
// -trimpath and without VCS stamping (so the same sources give the same bytes
// in the image), and the health probe, which passes a 200 and fails a 503.
// Docker is not run: the check is that the image's build steps are these
// commands and that they work.
func TestImageBinaries(t *testing.T) {
	stages := parseDockerfile(t, "Dockerfile")
	builds := goBuilds(t, stages[0])
	var serviceBuild, probeBuild *goBuild
	for i, b := range builds {
		switch {
		case b.pkg == "./services/${SERVICE}":
			serviceBuild = &builds[i]
		case b.pkg == "./deployments/healthcheck":
			probeBuild = &builds[i]
		default:
			t.Errorf("Dockerfile:%d builds %s; want ./services/${SERVICE} and ./deployments/healthcheck", b.line, b.pkg)
		}
	}
	if serviceBuild == nil || probeBuild == nil {
		t.Fatal("the Dockerfile must build ./services/${SERVICE} and ./deployments/healthcheck")
	}
	dir := t.TempDir()
	for _, s := range services() {
		t.Run(s, func(t *testing.T) {
			bin := runDockerfileBuild(t, *serviceBuild, map[string]string{"SERVICE": s}, filepath.Join(dir, s))
			checkBinary(t, bin, "github.com/cx360/cx360/services/"+s, *serviceBuild)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, bin, "-h")
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%s -h: %v\n%s", s, err, stderr.String())
			}
			if !strings.HasPrefix(stderr.String(), "Usage: "+s+" ") {
				t.Errorf("%s -h prints %q; want the %s service's usage", s, firstLine(stderr.String()), s)
			}
		})
	}
	t.Run("healthcheck", func(t *testing.T) {
		bin := runDockerfileBuild(t, *probeBuild, nil, filepath.Join(dir, "healthcheck"))
		checkBinary(t, bin, "github.com/cx360/cx360/deployments/healthcheck", *probeBuild)
		// The probe against the services' own admin handler: ready, then a
		// dependency down.
		checker := health.NewChecker()
		mux := http.NewServeMux()
		health.Register(mux, checker, prometheus.NewRegistry())
		srv := httptest.NewServer(mux)
		defer srv.Close()
		if code, out := runProbe(t, bin, srv.URL+"/readyz"); code != 0 {
			t.Errorf("healthcheck on a ready service exits %d: %s", code, out)
		}
		checker.Add("kafka", func(context.Context) error { return errors.New("broker unreachable") })
		code, out := runProbe(t, bin, srv.URL+"/readyz")
		if code != 1 || !strings.Contains(out, "503") || !strings.Contains(out, "broker unreachable") {
			t.Errorf("healthcheck on a 503 exits %d with %q; want 1 naming the status and the failing check", code, out)
		}
		if code, out := runProbe(t, bin, "http://127.0.0.1:1/readyz"); code != 1 {
			t.Errorf("healthcheck with nothing listening exits %d: %s", code, out)
		}
	})
}

// runDockerfileBuild runs one of the Dockerfile's go build commands in the
// repository root, writing the binary to out instead of the image's path.
func runDockerfileBuild(t *testing.T, b goBuild, args map[string]string, out string) string {
	t.Helper()
	cmdArgs := append([]string{"build"}, b.flags...)
	cmdArgs = append(cmdArgs, "-o", out, expandArgs(b.pkg, args))
	cmd := exec.Command("go", cmdArgs...)
	cmd.Dir = repoRoot
	cmd.Env = os.Environ()
	for k, v := range b.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// GOFLAGS from the caller's environment would make this another build.
	cmd.Env = append(cmd.Env, "GOFLAGS=")
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s (Dockerfile:%d): %v\n%s", strings.Join(cmdArgs, " "), b.line, err, output)
	}
	return out
}

// checkBinary checks what the flags promise: the main package, CGO off,
// -trimpath, no VCS stamp, a static ELF without symbols (-s) or DWARF (-w).
// (Go records -ldflags in the build info only without -trimpath.)
func checkBinary(t *testing.T, bin, mainPath string, b goBuild) {
	t.Helper()
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if info.Path != mainPath {
		t.Errorf("%s is %s; want %s", bin, info.Path, mainPath)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	want := map[string]string{"CGO_ENABLED": "0", "-trimpath": "true"}
	for k, v := range want {
		if settings[k] != v {
			t.Errorf("%s: build setting %s=%q; want %q (flags %v)", bin, k, settings[k], v, b.flags)
		}
	}
	if rev, ok := settings["vcs.revision"]; ok {
		t.Errorf("%s is stamped with VCS revision %s: the image (built without .git) would differ", bin, rev)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked: it cannot run on a static distroless image", bin)
		}
	}
	if f.Section(".symtab") != nil {
		t.Errorf("%s keeps its symbol table: -ldflags -s did not apply", bin)
	}
	if f.Section(".debug_info") != nil || f.Section(".zdebug_info") != nil {
		t.Errorf("%s keeps DWARF: -ldflags -w did not apply", bin)
	}
}

func runProbe(t *testing.T, bin, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, url).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	default:
		t.Fatalf("running %s: %v", bin, err)
		return -1, ""
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
