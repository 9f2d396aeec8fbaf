package deployments_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/cx360/cx360/pkg/health"
)

const k8sDir = "k8s"

// The Kubernetes objects the manifests use, with the fields they set. Decoding
// is strict: a field these types do not know (a typo, or a field at the wrong
// level) fails the test, as `kubectl apply --validate=strict` would fail.
type (
	objectMeta struct {
		Name        string            `yaml:"name"`
		Namespace   string            `yaml:"namespace"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	}
	labelSelector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	}
	typeMeta struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
	}

	namespace struct {
		typeMeta `yaml:",inline"`
		Metadata objectMeta `yaml:"metadata"`
	}
	secret struct {
		typeMeta   `yaml:",inline"`
		Metadata   objectMeta        `yaml:"metadata"`
		Type       string            `yaml:"type"`
		StringData map[string]string `yaml:"stringData"`
		Data       map[string]string `yaml:"data"`
	}
	service struct {
		typeMeta `yaml:",inline"`
		Metadata objectMeta `yaml:"metadata"`
		Spec     struct {
			Type                     string            `yaml:"type"`
			ClusterIP                string            `yaml:"clusterIP"`
			PublishNotReadyAddresses bool              `yaml:"publishNotReadyAddresses"`
			Selector                 map[string]string `yaml:"selector"`
			Ports                    []struct {
				Name       string      `yaml:"name"`
				Port       int         `yaml:"port"`
				TargetPort intOrString `yaml:"targetPort"`
				Protocol   string      `yaml:"protocol"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	podDisruptionBudget struct {
		typeMeta `yaml:",inline"`
		Metadata objectMeta `yaml:"metadata"`
		Spec     struct {
			MinAvailable   *intOrString  `yaml:"minAvailable"`
			MaxUnavailable *intOrString  `yaml:"maxUnavailable"`
			Selector       labelSelector `yaml:"selector"`
		} `yaml:"spec"`
	}
	horizontalPodAutoscaler struct {
		typeMeta `yaml:",inline"`
		Metadata objectMeta `yaml:"metadata"`
		Spec     struct {
			ScaleTargetRef struct {
				APIVersion string `yaml:"apiVersion"`
				Kind       string `yaml:"kind"`
				Name       string `yaml:"name"`
			} `yaml:"scaleTargetRef"`
			MinReplicas int              `yaml:"minReplicas"`
			MaxReplicas int              `yaml:"maxReplicas"`
			Metrics     []map[string]any `yaml:"metrics"`
			Behavior    map[string]any   `yaml:"behavior"`
		} `yaml:"spec"`
	}
	// workload is a Deployment or a StatefulSet.
	workload struct {
		typeMeta `yaml:",inline"`
		Metadata objectMeta `yaml:"metadata"`
		Spec     struct {
			Replicas             *int           `yaml:"replicas"`
			RevisionHistoryLimit int            `yaml:"revisionHistoryLimit"`
			Selector             labelSelector  `yaml:"selector"`
			Strategy             map[string]any `yaml:"strategy"`       // Deployment
			UpdateStrategy       map[string]any `yaml:"updateStrategy"` // StatefulSet
			ServiceName          string         `yaml:"serviceName"`
			PodManagementPolicy  string         `yaml:"podManagementPolicy"`
			Template             struct {
				Metadata objectMeta `yaml:"metadata"`
				Spec     podSpec    `yaml:"spec"`
			} `yaml:"template"`
			VolumeClaimTemplates []struct {
				Metadata objectMeta `yaml:"metadata"`
				Spec     struct {
					AccessModes []string `yaml:"accessModes"`
					Resources   struct {
						Requests map[string]string `yaml:"requests"`
					} `yaml:"resources"`
					StorageClassName string `yaml:"storageClassName"`
				} `yaml:"spec"`
			} `yaml:"volumeClaimTemplates"`
		} `yaml:"spec"`
	}
	podSpec struct {
		AutomountServiceAccountToken  *bool `yaml:"automountServiceAccountToken"`
		TerminationGracePeriodSeconds *int  `yaml:"terminationGracePeriodSeconds"`
		SecurityContext               struct {
			RunAsNonRoot        *bool  `yaml:"runAsNonRoot"`
			RunAsUser           *int64 `yaml:"runAsUser"`
			RunAsGroup          *int64 `yaml:"runAsGroup"`
			FSGroup             *int64 `yaml:"fsGroup"`
			FSGroupChangePolicy string `yaml:"fsGroupChangePolicy"`
			SeccompProfile      struct {
				Type string `yaml:"type"`
			} `yaml:"seccompProfile"`
		} `yaml:"securityContext"`
		TopologySpreadConstraints []map[string]any `yaml:"topologySpreadConstraints"`
		Affinity                  map[string]any   `yaml:"affinity"`
		Containers                []container      `yaml:"containers"`
		Volumes                   []volume         `yaml:"volumes"`
	}
	container struct {
		Name            string   `yaml:"name"`
		Image           string   `yaml:"image"`
		ImagePullPolicy string   `yaml:"imagePullPolicy"`
		Args            []string `yaml:"args"`
		Ports           []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
			Protocol      string `yaml:"protocol"`
		} `yaml:"ports"`
		EnvFrom []struct {
			ConfigMapRef *struct {
				Name string `yaml:"name"`
			} `yaml:"configMapRef"`
			SecretRef *struct {
				Name string `yaml:"name"`
			} `yaml:"secretRef"`
		} `yaml:"envFrom"`
		Env []struct {
			Name      string         `yaml:"name"`
			Value     string         `yaml:"value"`
			ValueFrom map[string]any `yaml:"valueFrom"`
		} `yaml:"env"`
		Resources struct {
			Requests map[string]string `yaml:"requests"`
			Limits   map[string]string `yaml:"limits"`
		} `yaml:"resources"`
		StartupProbe    *probe `yaml:"startupProbe"`
		LivenessProbe   *probe `yaml:"livenessProbe"`
		ReadinessProbe  *probe `yaml:"readinessProbe"`
		SecurityContext struct {
			AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
			ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
			RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
			Capabilities             struct {
				Drop []string `yaml:"drop"`
			} `yaml:"capabilities"`
		} `yaml:"securityContext"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
			ReadOnly  bool   `yaml:"readOnly"`
			SubPath   string `yaml:"subPath"`
		} `yaml:"volumeMounts"`
	}
	probe struct {
		HTTPGet *struct {
			Path string      `yaml:"path"`
			Port intOrString `yaml:"port"`
		} `yaml:"httpGet"`
		InitialDelaySeconds int `yaml:"initialDelaySeconds"`
		PeriodSeconds       int `yaml:"periodSeconds"`
		TimeoutSeconds      int `yaml:"timeoutSeconds"`
		FailureThreshold    int `yaml:"failureThreshold"`
		SuccessThreshold    int `yaml:"successThreshold"`
	}
	volume struct {
		Name   string `yaml:"name"`
		Secret *struct {
			SecretName  string `yaml:"secretName"`
			DefaultMode *int   `yaml:"defaultMode"`
			Items       []struct {
				Key  string `yaml:"key"`
				Path string `yaml:"path"`
			} `yaml:"items"`
		} `yaml:"secret"`
		EmptyDir *struct {
			SizeLimit string `yaml:"sizeLimit"`
			Medium    string `yaml:"medium"`
		} `yaml:"emptyDir"`
		PersistentVolumeClaim *struct {
			ClaimName string `yaml:"claimName"`
		} `yaml:"persistentVolumeClaim"`
	}
	kustomization struct {
		typeMeta           `yaml:",inline"`
		Namespace          string   `yaml:"namespace"`
		Resources          []string `yaml:"resources"`
		ConfigMapGenerator []struct {
			Name     string   `yaml:"name"`
			Envs     []string `yaml:"envs"`
			Literals []string `yaml:"literals"`
		} `yaml:"configMapGenerator"`
		Images []struct {
			Name    string `yaml:"name"`
			NewName string `yaml:"newName"`
			NewTag  string `yaml:"newTag"`
			Digest  string `yaml:"digest"`
		} `yaml:"images"`
		Labels []struct {
			Pairs            map[string]string `yaml:"pairs"`
			IncludeSelectors bool              `yaml:"includeSelectors"`
			IncludeTemplates bool              `yaml:"includeTemplates"`
		} `yaml:"labels"`
	}
)

// intOrString is Kubernetes' IntOrString (a port number or name, a count or a
// percentage).
type intOrString struct {
	str   string
	num   int
	isNum bool
}

func (v *intOrString) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a number or a string", n.Line)
	}
	if n.Tag == "!!int" {
		num, err := strconv.Atoi(n.Value)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		*v = intOrString{num: num, isNum: true}
		return nil
	}
	*v = intOrString{str: n.Value}
	return nil
}

func (v intOrString) String() string {
	if v.isNum {
		return strconv.Itoa(v.num)
	}
	return v.str
}

// manifests is every object of deployments/k8s, by kind, plus the ConfigMaps
// the kustomization generates (name → data).
type manifests struct {
	kustomization kustomization
	namespaces    []namespace
	secrets       map[string]secret
	configMaps    map[string]map[string]string
	// configExamples are the commented-out settings of each ConfigMap's env
	// files (# CX360_KEY=value): documentation that must stay valid.
	configExamples map[string]map[string]string
	workloads      []workload
	services       []service
	pdbs           []podDisruptionBudget
	hpas           []horizontalPodAutoscaler
}

// apiVersions is the API version of every kind the manifests may contain.
var apiVersions = map[string]string{
	"Namespace": "v1", "Secret": "v1", "Service": "v1", "Deployment": "apps/v1", "StatefulSet": "apps/v1",
	"PodDisruptionBudget": "policy/v1", "HorizontalPodAutoscaler": "autoscaling/v2",
}

func loadManifests(t *testing.T) manifests {
	t.Helper()
	m := manifests{secrets: map[string]secret{}, configMaps: map[string]map[string]string{}, configExamples: map[string]map[string]string{}}
	strictDecode(t, filepath.Join(k8sDir, "kustomization.yaml"), mustRead(t, filepath.Join(k8sDir, "kustomization.yaml")), &m.kustomization)
	for _, res := range m.kustomization.Resources {
		path := filepath.Join(k8sDir, res)
		dec := yaml.NewDecoder(bytes.NewReader(mustRead(t, path)))
		for i := 1; ; i++ {
			var doc yaml.Node
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: document %d does not parse: %v", path, i, err)
			}
			// Re-encoding lets each document be decoded strictly into its
			// kind's type (yaml.Node.Decode has no strict mode).
			raw, err := yaml.Marshal(&doc)
			if err != nil {
				t.Fatal(err)
			}
			var tm typeMeta
			if err := yaml.Unmarshal(raw, &tm); err != nil {
				t.Fatalf("%s: document %d: %v", path, i, err)
			}
			where := fmt.Sprintf("%s document %d (%s)", path, i, tm.Kind)
			if want, ok := apiVersions[tm.Kind]; !ok {
				t.Fatalf("%s: unexpected kind %q", where, tm.Kind)
			} else if tm.APIVersion != want {
				t.Errorf("%s: apiVersion %q; %s is %s", where, tm.APIVersion, tm.Kind, want)
			}
			switch tm.Kind {
			case "Namespace":
				var o namespace
				strictDecode(t, where, raw, &o)
				m.namespaces = append(m.namespaces, o)
			case "Secret":
				var o secret
				strictDecode(t, where, raw, &o)
				m.secrets[o.Metadata.Name] = o
			case "Service":
				var o service
				strictDecode(t, where, raw, &o)
				m.services = append(m.services, o)
			case "Deployment", "StatefulSet":
				var o workload
				strictDecode(t, where, raw, &o)
				m.workloads = append(m.workloads, o)
			case "PodDisruptionBudget":
				var o podDisruptionBudget
				strictDecode(t, where, raw, &o)
				m.pdbs = append(m.pdbs, o)
			case "HorizontalPodAutoscaler":
				var o horizontalPodAutoscaler
				strictDecode(t, where, raw, &o)
				m.hpas = append(m.hpas, o)
			}
		}
	}
	for _, g := range m.kustomization.ConfigMapGenerator {
		data, examples := map[string]string{}, map[string]string{}
		for _, f := range g.Envs {
			env, commented := readEnvFile(t, filepath.Join(k8sDir, f))
			for k, v := range env {
				data[k] = v
			}
			for k, v := range commented {
				examples[k] = v
			}
		}
		m.configExamples[g.Name] = examples
		for _, l := range g.Literals {
			k, v, _ := strings.Cut(l, "=")
			data[k] = v
		}
		m.configMaps[g.Name] = data
	}
	return m
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func strictDecode(t *testing.T, where string, raw []byte, v any) {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
}

var (
	envLine          = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)
	commentedSetting = regexp.MustCompile(`^#\s*(CX360_[A-Z0-9_]+)=(\S*)`)
)

// readEnvFile reads a kustomize env file: KEY=VALUE lines, # comments. Values
// are taken literally (kustomize does not unquote them), so quotes and
// surrounding spaces are refused here. It also returns the commented-out
// settings (# CX360_KEY=value), which document options to switch on.
func readEnvFile(t *testing.T, path string) (env, commented map[string]string) {
	t.Helper()
	env, commented = map[string]string{}, map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(mustRead(t, path)))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if m := commentedSetting.FindStringSubmatch(line); m != nil {
			commented[m[1]] = m[2]
			continue
		}
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := envLine.FindStringSubmatch(line)
		switch {
		case m == nil:
			t.Errorf("%s:%d: %q is not KEY=VALUE", path, n, line)
			continue
		case strings.ContainsAny(m[2], `"'`) || strings.TrimSpace(m[2]) != m[2]:
			t.Errorf("%s:%d: value %q has quotes or surrounding spaces, which kustomize keeps as part of the value", path, n, m[2])
		}
		if _, dup := env[m[1]]; dup {
			t.Errorf("%s:%d: %s is set twice", path, n, m[1])
		}
		env[m[1]] = m[2]
	}
	return env, commented
}

// TestKustomization checks that the kustomization lists every manifest and
// names every image, the namespace object matches its namespace, and the
// config files parse.
func TestKustomization(t *testing.T) {
	m := loadManifests(t)
	k := m.kustomization
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml is %s %s", k.APIVersion, k.Kind)
	}
	files, err := filepath.Glob(filepath.Join(k8sDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(k.Resources, base) {
			t.Errorf("%s is not listed in kustomization.yaml's resources: kubectl apply -k would skip it", f)
		}
	}
	if len(m.namespaces) != 1 || m.namespaces[0].Metadata.Name != k.Namespace || k.Namespace == "" {
		t.Errorf("kustomization namespace %q; the Namespace objects are %v", k.Namespace, m.namespaces)
	} else if m.namespaces[0].Metadata.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("namespace %s does not enforce the restricted Pod Security Standard", k.Namespace)
	}
	images := map[string]bool{}
	for _, img := range k.Images {
		images[img.Name] = true
	}
	for _, w := range m.workloads {
		for _, c := range w.Spec.Template.Spec.Containers {
			if !images[c.Image] {
				t.Errorf("%s: image %q has no entry under the kustomization's images (its tag would be latest)", w.Metadata.Name, c.Image)
			}
		}
	}
}

// serviceOf returns the cx360 service a workload runs: its one container's name.
func serviceOf(t *testing.T, w workload) (string, container) {
	t.Helper()
	cs := w.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%s has %d containers; want the service's only", w.Metadata.Name, len(cs))
	}
	return cs[0].Name, cs[0]
}

// TestK8sWorkloads checks that each service runs as exactly one workload of the
// right kind: ingest and sink as Deployments, identity as a StatefulSet (its
// snapshot volume) with a standby.
func TestK8sWorkloads(t *testing.T) {
	m := loadManifests(t)
	var names []string
	for _, w := range m.workloads {
		name, c := serviceOf(t, w)
		names = append(names, name)
		if c.Image != "cx360/"+name {
			t.Errorf("%s: image %q; want cx360/%s (built by deployments/Dockerfile with SERVICE=%s)", w.Metadata.Name, c.Image, name, name)
		}
		want := "Deployment"
		if name == "identity" {
			want = "StatefulSet"
		}
		if w.Kind != want {
			t.Errorf("%s runs as a %s; want a %s", name, w.Kind, want)
		}
		if w.Metadata.Name != "cx360-"+name {
			t.Errorf("%s's workload is named %q; want cx360-%s", name, w.Metadata.Name, name)
		}
		if !labelsMatch(w.Spec.Selector.MatchLabels, w.Spec.Template.Metadata.Labels) || len(w.Spec.Selector.MatchLabels) == 0 {
			t.Errorf("%s: selector %v does not select its own pods %v", w.Metadata.Name, w.Spec.Selector.MatchLabels, w.Spec.Template.Metadata.Labels)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, services()) {
		t.Fatalf("the manifests run %v; want each of %v once", names, services())
	}
}

// TestK8sPodSecurity checks that every pod runs as non-root with a read-only
// root filesystem, no privilege escalation, no capabilities and no service
// account token: the restricted Pod Security Standard, which the namespace
// enforces.
func TestK8sPodSecurity(t *testing.T) {
	for _, w := range loadManifests(t).workloads {
		ps := w.Spec.Template.Spec
		sc := ps.SecurityContext
		if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("%s: pod securityContext.runAsNonRoot is not true", w.Metadata.Name)
		}
		if sc.RunAsUser == nil || *sc.RunAsUser == 0 {
			t.Errorf("%s: pod securityContext.runAsUser must be a non-zero uid (the image's 65532)", w.Metadata.Name)
		}
		if sc.SeccompProfile.Type != "RuntimeDefault" {
			t.Errorf("%s: seccompProfile %q; want RuntimeDefault", w.Metadata.Name, sc.SeccompProfile.Type)
		}
		if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
			t.Errorf("%s: mounts a service account token it never uses", w.Metadata.Name)
		}
		for _, c := range ps.Containers {
			cs := c.SecurityContext
			if cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation {
				t.Errorf("%s/%s: allowPrivilegeEscalation is not false", w.Metadata.Name, c.Name)
			}
			if cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem {
				t.Errorf("%s/%s: readOnlyRootFilesystem is not true", w.Metadata.Name, c.Name)
			}
			if cs.RunAsNonRoot == nil || !*cs.RunAsNonRoot {
				t.Errorf("%s/%s: runAsNonRoot is not true", w.Metadata.Name, c.Name)
			}
			if !slices.Equal(cs.Capabilities.Drop, []string{"ALL"}) {
				t.Errorf("%s/%s: capabilities.drop %v; want [ALL]", w.Metadata.Name, c.Name, cs.Capabilities.Drop)
			}
		}
	}
}

// effectiveEnv is a container's environment as the kubelet builds it: envFrom
// ConfigMaps and Secrets, then env.
func effectiveEnv(t *testing.T, m manifests, w workload, c container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			data, ok := m.configMaps[from.ConfigMapRef.Name]
			if !ok {
				t.Errorf("%s: envFrom ConfigMap %q is not generated by the kustomization", w.Metadata.Name, from.ConfigMapRef.Name)
			}
			for k, v := range data {
				env[k] = v
			}
		case from.SecretRef != nil:
			s, ok := m.secrets[from.SecretRef.Name]
			if !ok {
				t.Errorf("%s: envFrom Secret %q does not exist", w.Metadata.Name, from.SecretRef.Name)
			}
			for k, v := range s.StringData {
				env[k] = v
			}
		}
	}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	return env
}

// TestK8sSettings checks every CX360_* variable a container gets (its
// ConfigMaps, Secrets and env): each is a key its service reads, and the
// values pass the service's own validation. Secret files (CX360_*_FILE) must
// name a key of a Secret mounted at that path; the test writes the Secret's
// placeholder content to a temporary file so validation reads it as the
// service would.
func TestK8sSettings(t *testing.T) {
	m := loadManifests(t)
	for _, w := range m.workloads {
		name, c := serviceOf(t, w)
		where := "k8s " + w.Metadata.Name
		env := effectiveEnv(t, m, w, c)
		checkEnvKeys(t, where, name, env)
		files := t.TempDir()
		for _, k := range sortedKeys(env) {
			if !strings.HasPrefix(k, "CX360_") || !strings.HasSuffix(k, "_FILE") {
				continue
			}
			content, ok := mountedSecretFile(t, m, w, c, env[k])
			if !ok {
				t.Errorf("%s: %s=%q is not a file of a Secret the pod mounts", where, k, env[k])
				continue
			}
			local := filepath.Join(files, k)
			if err := os.WriteFile(local, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			env[k] = local
		}
		if err := validateEnv(name, env); err != nil {
			t.Errorf("%s: the service would refuse its settings: %v", where, err)
		}
		grace := w.Spec.Template.Spec.TerminationGracePeriodSeconds
		if shutdown, ok := env["CX360_SHUTDOWN_TIMEOUT"]; !ok || grace == nil || float64(*grace) <= durationSeconds(t, where, shutdown) {
			t.Errorf("%s: terminationGracePeriodSeconds must exceed CX360_SHUTDOWN_TIMEOUT (%q), or the kubelet kills the service mid-shutdown", where, shutdown)
		}
	}
	// Keys of a ConfigMap, set or commented out as an example, must be read by
	// every stage that loads it.
	for cm, data := range m.configMaps {
		for _, w := range m.workloads {
			name, c := serviceOf(t, w)
			for _, from := range c.EnvFrom {
				if from.ConfigMapRef != nil && from.ConfigMapRef.Name == cm {
					checkEnvKeys(t, "ConfigMap "+cm, name, data)
					checkEnvKeys(t, "ConfigMap "+cm+" (commented-out example)", name, m.configExamples[cm])
				}
			}
		}
	}
}

// mountedSecretFile returns the content of the Secret key a container sees at
// path.
func mountedSecretFile(t *testing.T, m manifests, w workload, c container, path string) (string, bool) {
	t.Helper()
	for _, vm := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(path, strings.TrimSuffix(vm.MountPath, "/")+"/")
		if !ok {
			continue
		}
		for _, v := range w.Spec.Template.Spec.Volumes {
			if v.Name != vm.Name || v.Secret == nil {
				continue
			}
			s, ok := m.secrets[v.Secret.SecretName]
			if !ok {
				t.Errorf("%s: volume %s mounts Secret %q, which does not exist", w.Metadata.Name, v.Name, v.Secret.SecretName)
				return "", false
			}
			if !vm.ReadOnly {
				t.Errorf("%s: the secret volume %s is mounted writable", w.Metadata.Name, v.Name)
			}
			key := rel
			if len(v.Secret.Items) > 0 {
				key = ""
				for _, it := range v.Secret.Items {
					if it.Path == rel {
						key = it.Key
					}
				}
			}
			content, ok := s.StringData[key]
			return content, ok
		}
	}
	return "", false
}

// containerPort resolves a probe's or Service's port (a number or a port name)
// to a container port number.
func containerPort(c container, p intOrString) (int, bool) {
	for _, cp := range c.Ports {
		if (p.isNum && cp.ContainerPort == p.num) || (!p.isNum && cp.Name == p.str) {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

// TestK8sProbesAndPorts checks that every container declares the ports its
// settings listen on, and has startup, liveness (/healthz) and readiness
// (/readyz) probes on its admin port, at paths the services serve.
func TestK8sProbesAndPorts(t *testing.T) {
	m := loadManifests(t)
	if code := servedStatus(t, "/healthz"); code != 200 {
		t.Fatalf("the services' admin handler answers /healthz with %d", code)
	}
	for _, w := range m.workloads {
		name, c := serviceOf(t, w)
		where := "k8s " + w.Metadata.Name
		env := effectiveEnv(t, m, w, c)
		adminPort := listenPort(t, where, adminAddrKey[name], env[adminAddrKey[name]])
		declared := map[int]bool{}
		for _, p := range c.Ports {
			declared[p.ContainerPort] = true
		}
		if !declared[adminPort] {
			t.Errorf("%s: admin port %d is not a container port", where, adminPort)
		}
		if key := apiAddrKey[name]; key != "" {
			if port := listenPort(t, where, key, env[key]); !declared[port] {
				t.Errorf("%s: %s port %d is not a container port", where, key, port)
			}
		}
		if got := w.Spec.Template.Metadata.Annotations["prometheus.io/port"]; got != strconv.Itoa(adminPort) {
			t.Errorf("%s: prometheus.io/port %q; the metrics are on the admin port %d", where, got, adminPort)
		}
		for _, p := range []struct {
			kind  string
			probe *probe
			path  string
		}{{"startupProbe", c.StartupProbe, "/healthz"}, {"livenessProbe", c.LivenessProbe, "/healthz"}, {"readinessProbe", c.ReadinessProbe, "/readyz"}} {
			if p.probe == nil || p.probe.HTTPGet == nil {
				t.Errorf("%s: no HTTP %s", where, p.kind)
				continue
			}
			get := p.probe.HTTPGet
			if get.Path != p.path {
				t.Errorf("%s: %s asks %s; want %s", where, p.kind, get.Path, p.path)
			}
			if code := servedStatus(t, get.Path); code != 200 {
				t.Errorf("%s: %s path %s answers %d on the admin handler", where, p.kind, get.Path, code)
			}
			if port, ok := containerPort(c, get.Port); !ok || port != adminPort {
				t.Errorf("%s: %s port %s is not the admin port %d", where, p.kind, get.Port, adminPort)
			}
		}
		if r := c.ReadinessProbe; r != nil && float64(r.TimeoutSeconds) <= health.DefaultCheckTimeout.Seconds() {
			t.Errorf("%s: readiness timeoutSeconds %d does not exceed /readyz's own check timeout (%s): a slow dependency would look like a hung pod", where, r.TimeoutSeconds, health.DefaultCheckTimeout)
		}
	}
}

// TestK8sResources checks requests and limits: CPU and memory requests, a
// memory limit at or above the request, no CPU limit (throttling a latency
// path), and identity's GOMEMLIMIT below its memory limit.
func TestK8sResources(t *testing.T) {
	for _, w := range loadManifests(t).workloads {
		for _, c := range w.Spec.Template.Spec.Containers {
			where := w.Metadata.Name + "/" + c.Name
			req, lim := c.Resources.Requests, c.Resources.Limits
			if req["cpu"] == "" || req["memory"] == "" {
				t.Errorf("%s: resources.requests needs cpu and memory, has %v", where, req)
			}
			if lim["memory"] == "" {
				t.Errorf("%s: no memory limit", where)
				continue
			}
			if _, ok := lim["cpu"]; ok {
				t.Errorf("%s: a CPU limit throttles request handling; request CPU instead", where)
			}
			if reqBytes, limBytes := quantityBytes(t, where, req["memory"]), quantityBytes(t, where, lim["memory"]); reqBytes > limBytes {
				t.Errorf("%s: memory request %s above its limit %s", where, req["memory"], lim["memory"])
			}
			for _, e := range c.Env {
				if e.Name == "GOMEMLIMIT" {
					if soft, hard := goMemLimitBytes(t, where, e.Value), quantityBytes(t, where, lim["memory"]); soft >= hard || soft < hard*8/10 {
						t.Errorf("%s: GOMEMLIMIT %s should be 80–99%% of the memory limit %s", where, e.Value, lim["memory"])
					}
				}
			}
		}
	}
}

var quantity = regexp.MustCompile(`^([0-9.]+)(Ki|Mi|Gi|Ti|k|M|G|T)?$`)

// quantityBytes parses a Kubernetes memory quantity.
func quantityBytes(t *testing.T, where, q string) int64 {
	t.Helper()
	m := quantity.FindStringSubmatch(q)
	if m == nil {
		t.Errorf("%s: %q is not a memory quantity", where, q)
		return 0
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Errorf("%s: %q: %v", where, q, err)
	}
	unit := map[string]float64{"": 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[m[2]]
	return int64(math.Round(n * unit))
}

var goMemLimit = regexp.MustCompile(`^([0-9]+)(B|KiB|MiB|GiB|TiB)?$`)

// goMemLimitBytes parses GOMEMLIMIT's syntax (runtime/debug.SetMemoryLimit).
func goMemLimitBytes(t *testing.T, where, v string) int64 {
	t.Helper()
	m := goMemLimit.FindStringSubmatch(v)
	if m == nil {
		t.Errorf("%s: GOMEMLIMIT=%q is not a byte count with B, KiB, MiB, GiB or TiB", where, v)
		return 0
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n << map[string]int{"": 0, "B": 0, "KiB": 10, "MiB": 20, "GiB": 30, "TiB": 40}[m[2]]
}

func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// selected returns the workloads whose pods a selector selects.
func selected(m manifests, sel map[string]string) []workload {
	var out []workload
	if len(sel) == 0 {
		return nil
	}
	for _, w := range m.workloads {
		if labelsMatch(sel, w.Spec.Template.Metadata.Labels) {
			out = append(out, w)
		}
	}
	return out
}

// TestK8sServices checks that every Service selects exactly one workload's pods
// and targets ports those pods declare.
func TestK8sServices(t *testing.T) {
	m := loadManifests(t)
	for _, s := range m.services {
		ws := selected(m, s.Spec.Selector)
		if len(ws) != 1 {
			t.Errorf("Service %s selects %d workloads; want 1", s.Metadata.Name, len(ws))
			continue
		}
		_, c := serviceOf(t, ws[0])
		for _, p := range s.Spec.Ports {
			if _, ok := containerPort(c, p.TargetPort); !ok {
				t.Errorf("Service %s port %s targets %s, which %s does not declare", s.Metadata.Name, p.Name, p.TargetPort, ws[0].Metadata.Name)
			}
		}
	}
	for _, w := range m.workloads {
		if w.Kind != "StatefulSet" {
			continue
		}
		headless := false
		for _, s := range m.services {
			headless = headless || (s.Metadata.Name == w.Spec.ServiceName && s.Spec.ClusterIP == "None")
		}
		if !headless {
			t.Errorf("StatefulSet %s: serviceName %q is not a headless Service of the manifests", w.Metadata.Name, w.Spec.ServiceName)
		}
	}
}

// TestK8sAvailability checks disruption budgets and scaling: every workload has
// a PodDisruptionBudget that selects it alone and still lets a node drain; the
// HPA scales a Deployment that leaves its replica count to it and requests CPU;
// identity keeps a standby and its snapshot on a volume.
func TestK8sAvailability(t *testing.T) {
	m := loadManifests(t)
	hpaMin := map[string]int{}
	for _, h := range m.hpas {
		ref := h.Spec.ScaleTargetRef
		var target *workload
		for i, w := range m.workloads {
			if w.Kind == ref.Kind && w.Metadata.Name == ref.Name && ref.APIVersion == w.APIVersion {
				target = &m.workloads[i]
			}
		}
		switch {
		case target == nil:
			t.Errorf("HPA %s scales %s %s, which does not exist", h.Metadata.Name, ref.Kind, ref.Name)
		case target.Spec.Replicas != nil:
			t.Errorf("HPA %s: %s sets replicas, which every kubectl apply would reset under the autoscaler", h.Metadata.Name, ref.Name)
		case h.Spec.MinReplicas < 2 || h.Spec.MaxReplicas < h.Spec.MinReplicas:
			t.Errorf("HPA %s: %d..%d replicas; want at least 2", h.Metadata.Name, h.Spec.MinReplicas, h.Spec.MaxReplicas)
		default:
			hpaMin[ref.Name] = h.Spec.MinReplicas
			if name, _ := serviceOf(t, *target); name == "identity" {
				t.Errorf("HPA %s scales identity, a single writer: more pods only add standbys", h.Metadata.Name)
			}
			for _, c := range target.Spec.Template.Spec.Containers {
				if c.Resources.Requests["cpu"] == "" {
					t.Errorf("HPA %s scales on CPU utilisation, but %s requests no CPU", h.Metadata.Name, c.Name)
				}
			}
		}
	}
	covered := map[string]bool{}
	for _, p := range m.pdbs {
		ws := selected(m, p.Spec.Selector.MatchLabels)
		if len(ws) != 1 {
			t.Errorf("PodDisruptionBudget %s selects %d workloads; want exactly 1", p.Metadata.Name, len(ws))
			continue
		}
		w := ws[0]
		covered[w.Metadata.Name] = true
		if (p.Spec.MinAvailable == nil) == (p.Spec.MaxUnavailable == nil) {
			t.Errorf("PodDisruptionBudget %s: set exactly one of minAvailable and maxUnavailable", p.Metadata.Name)
			continue
		}
		replicas := hpaMin[w.Metadata.Name]
		if w.Spec.Replicas != nil {
			replicas = *w.Spec.Replicas
		}
		if min := p.Spec.MinAvailable; min != nil && (!min.isNum || min.num >= replicas) {
			t.Errorf("PodDisruptionBudget %s: minAvailable %s with %d replicas blocks every node drain", p.Metadata.Name, min, replicas)
		}
		if max := p.Spec.MaxUnavailable; max != nil && max.isNum && max.num < 1 {
			t.Errorf("PodDisruptionBudget %s: maxUnavailable %s blocks every node drain", p.Metadata.Name, max)
		}
	}
	for _, w := range m.workloads {
		if !covered[w.Metadata.Name] {
			t.Errorf("%s has no PodDisruptionBudget", w.Metadata.Name)
		}
		name, c := serviceOf(t, w)
		if name != "identity" {
			continue
		}
		if w.Spec.Replicas == nil || *w.Spec.Replicas < 2 {
			t.Errorf("%s: want 2 replicas, the working pod and a standby that takes the lease over", w.Metadata.Name)
		}
		dataDir := effectiveEnv(t, m, w, c)["CX360_IDENTITY_DATA_DIR"]
		onClaim := false
		for _, vm := range c.VolumeMounts {
			inside := dataDir == vm.MountPath || strings.HasPrefix(dataDir, strings.TrimSuffix(vm.MountPath, "/")+"/")
			for _, vct := range w.Spec.VolumeClaimTemplates {
				onClaim = onClaim || (inside && vct.Metadata.Name == vm.Name && vct.Spec.Resources.Requests["storage"] != "")
			}
		}
		if !onClaim {
			t.Errorf("%s: CX360_IDENTITY_DATA_DIR=%q is not on a volumeClaimTemplate: a restarted pod would replay cx.events from the start", w.Metadata.Name, dataDir)
		}
	}
}
