package deployments_test

import (
	"encoding/json"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cx360/cx360/pkg/health"
	"github.com/cx360/cx360/pkg/identity/stage"
	"github.com/cx360/cx360/pkg/ingest"
)

// dashboardPath is the CX dashboard Grafana provisions.
var dashboardPath = filepath.Join("grafana", "dashboards", "cx360.json")

type dashboard struct {
	UID        string      `json:"uid"`
	Title      string      `json:"title"`
	Panels     []dashPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name    string `json:"name"`
			Type    string `json:"type"`
			Query   string `json:"query"`
			Current struct {
				Value string `json:"value"`
			} `json:"current"`
		} `json:"list"`
	} `json:"templating"`
}

type dashPanel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Datasource *dataSourceRef `json:"datasource"`
	Targets    []dashTarget   `json:"targets"`
	Panels     []dashPanel    `json:"panels"` // a collapsed row's panels
}

type dataSourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// dashTarget is a query: rawSql for the ClickHouse plugin
// (grafana-clickhouse-datasource, editorType sql), expr for Prometheus.
type dashTarget struct {
	RefID      string         `json:"refId"`
	Datasource *dataSourceRef `json:"datasource"`
	EditorType string         `json:"editorType"`
	QueryType  string         `json:"queryType"`
	Format     *int           `json:"format"`
	RawSQL     string         `json:"rawSql"`
	Expr       string         `json:"expr"`
}

const (
	clickHousePlugin = "grafana-clickhouse-datasource"
	clickHouseDSVar  = "${ds_clickhouse}"
	prometheusDSVar  = "${ds_prometheus}"
)

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	var d dashboard
	if err := json.Unmarshal(mustRead(t, dashboardPath), &d); err != nil {
		t.Fatalf("%s does not parse: %v", dashboardPath, err)
	}
	return d
}

// allPanels flattens rows (a collapsed row nests its panels).
func allPanels(ps []dashPanel) []dashPanel {
	var out []dashPanel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// grafanaDataSources is provisioning/datasources/cx360.yaml.
type grafanaDataSources struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name      string `yaml:"name"`
		UID       string `yaml:"uid"`
		Type      string `yaml:"type"`
		Access    string `yaml:"access"`
		URL       string `yaml:"url"`
		IsDefault bool   `yaml:"isDefault"`
		Editable  bool   `yaml:"editable"`
		JSONData  struct {
			Host            string `yaml:"host"`
			Port            int    `yaml:"port"`
			Protocol        string `yaml:"protocol"`
			Secure          bool   `yaml:"secure"`
			Username        string `yaml:"username"`
			DefaultDatabase string `yaml:"defaultDatabase"`
			TimeInterval    string `yaml:"timeInterval"`
		} `yaml:"jsonData"`
		SecureJSONData map[string]string `yaml:"secureJsonData"`
	} `yaml:"datasources"`
}

type grafanaDashboardProviders struct {
	APIVersion int `yaml:"apiVersion"`
	Providers  []struct {
		Name                  string `yaml:"name"`
		OrgID                 int    `yaml:"orgId"`
		Folder                string `yaml:"folder"`
		Type                  string `yaml:"type"`
		DisableDeletion       bool   `yaml:"disableDeletion"`
		AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
		UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
		Options               struct {
			Path                      string `yaml:"path"`
			FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
		} `yaml:"options"`
	} `yaml:"providers"`
}

// TestGrafanaProvisioning checks that Grafana in docker-compose.yml gets the
// ClickHouse plugin, data sources that reach the compose services with the
// sink's credentials, and a dashboard provider reading the directory the
// dashboard is mounted at; and that the dashboard's data-source variables
// default to the provisioned data sources.
func TestGrafanaProvisioning(t *testing.T) {
	c := loadCompose(t)
	grafana := c.Services["grafana"]
	if !strings.Contains(grafana.Environment["GF_INSTALL_PLUGINS"], clickHousePlugin) {
		t.Errorf("grafana does not install %s", clickHousePlugin)
	}
	provisioning := containerPath(t, grafana, "./deployments/grafana/provisioning")
	if provisioning != "/etc/grafana/provisioning" {
		t.Errorf("provisioning is mounted at %s; Grafana reads /etc/grafana/provisioning", provisioning)
	}

	var ds grafanaDataSources
	dsFile := filepath.Join("grafana", "provisioning", "datasources", "cx360.yaml")
	strictDecode(t, dsFile, mustRead(t, dsFile), &ds)
	uids := map[string]string{} // type → uid
	sink := c.Services["sink"].Environment
	for _, d := range ds.Datasources {
		uids[d.Type] = d.UID
		switch d.Type {
		case clickHousePlugin:
			host, port, err := net.SplitHostPort(sink["CX360_CLICKHOUSE_ADDR"])
			if err != nil {
				t.Fatal(err)
			}
			if d.JSONData.Host != host || strconv.Itoa(d.JSONData.Port) != port || d.JSONData.Protocol != "native" {
				t.Errorf("%s: %s:%d (%s); the sink reaches ClickHouse at %s over the native protocol", dsFile, d.JSONData.Host, d.JSONData.Port, d.JSONData.Protocol, sink["CX360_CLICKHOUSE_ADDR"])
			}
			if d.JSONData.Username != sink["CX360_CLICKHOUSE_USERNAME"] {
				t.Errorf("%s: user %q; the sink's is %q", dsFile, d.JSONData.Username, sink["CX360_CLICKHOUSE_USERNAME"])
			}
			variable, ok := strings.CutPrefix(d.SecureJSONData["password"], "$")
			if !ok || grafana.Environment[variable] == "" || grafana.Environment[variable] != sink[variable] {
				t.Errorf("%s: password %q must name a variable Grafana's environment sets to the sink's value", dsFile, d.SecureJSONData["password"])
			}
			if d.JSONData.DefaultDatabase != "cx360" {
				t.Errorf("%s: default database %q", dsFile, d.JSONData.DefaultDatabase)
			}
		case "prometheus":
			if d.URL != "http://prometheus:9090" {
				t.Errorf("%s: Prometheus at %s; the compose service is prometheus:9090", dsFile, d.URL)
			}
		default:
			t.Errorf("%s: unexpected data source type %s", dsFile, d.Type)
		}
	}

	var prov grafanaDashboardProviders
	provFile := filepath.Join("grafana", "provisioning", "dashboards", "cx360.yaml")
	strictDecode(t, provFile, mustRead(t, provFile), &prov)
	mounted := containerPath(t, grafana, "./deployments/grafana/dashboards")
	if len(prov.Providers) != 1 || prov.Providers[0].Options.Path != mounted || prov.Providers[0].Type != "file" {
		t.Errorf("%s: the provider must read %s, where compose mounts deployments/grafana/dashboards", provFile, mounted)
	}
	if home := grafana.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home != mounted+"/cx360.json" {
		t.Errorf("grafana's home dashboard %q is not %s/cx360.json", home, mounted)
	}

	d := loadDashboard(t)
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		if v.Type != "datasource" {
			t.Errorf("dashboard variable %s is a %s; the SQL test substitutes only data-source variables", v.Name, v.Type)
			continue
		}
		vars["${"+v.Name+"}"] = v.Current.Value
		if uids[v.Query] != v.Current.Value {
			t.Errorf("dashboard variable %s defaults to %q; the provisioned %s data source is %q", v.Name, v.Current.Value, v.Query, uids[v.Query])
		}
	}
	if vars[clickHouseDSVar] == "" || vars[prometheusDSVar] == "" {
		t.Errorf("the dashboard needs data-source variables %s and %s", clickHouseDSVar, prometheusDSVar)
	}
}

// TestDashboardLayout checks the panels: unique ids, inside the 24-column grid,
// every query on one of the two data-source variables, ClickHouse queries in
// the SQL editor with a table or time-series format that matches the panel.
func TestDashboardLayout(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Error("the dashboard needs a uid and a title")
	}
	ids := map[int]bool{}
	for _, p := range allPanels(d.Panels) {
		if ids[p.ID] {
			t.Errorf("panel id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.X < 0 || p.GridPos.W < 1 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H < 1 {
			t.Errorf("panel %q: gridPos %+v is outside the 24-column grid", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 || p.Datasource == nil {
			t.Errorf("panel %q has no query or no data source", p.Title)
			continue
		}
		for _, tg := range p.Targets {
			if tg.Datasource == nil || *tg.Datasource != *p.Datasource {
				t.Errorf("panel %q: query %s's data source %v differs from the panel's %v", p.Title, tg.RefID, tg.Datasource, p.Datasource)
			}
			switch p.Datasource.UID {
			case clickHouseDSVar:
				if p.Datasource.Type != clickHousePlugin || tg.EditorType != "sql" || tg.RawSQL == "" {
					t.Errorf("panel %q: a ClickHouse query needs type %s, editorType sql and rawSql", p.Title, clickHousePlugin)
				}
				wantFormat, wantQueryType := 1, "table"
				if p.Type == "timeseries" {
					wantFormat, wantQueryType = 0, "timeseries"
				}
				if tg.Format == nil || *tg.Format != wantFormat || tg.QueryType != wantQueryType {
					format := "none"
					if tg.Format != nil {
						format = strconv.Itoa(*tg.Format)
					}
					t.Errorf("panel %q (%s): format %s, queryType %q; want %d, %q", p.Title, p.Type, format, tg.QueryType, wantFormat, wantQueryType)
				}
			case prometheusDSVar:
				if p.Datasource.Type != "prometheus" || tg.Expr == "" {
					t.Errorf("panel %q: a Prometheus query needs type prometheus and expr", p.Title)
				}
			default:
				t.Errorf("panel %q: data source %q; use %s or %s", p.Title, p.Datasource.UID, clickHouseDSVar, prometheusDSVar)
			}
		}
	}
}

// prometheusConfig is deployments/prometheus/prometheus.yml.
type prometheusConfig struct {
	Global struct {
		ScrapeInterval     string `yaml:"scrape_interval"`
		EvaluationInterval string `yaml:"evaluation_interval"`
	} `yaml:"global"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		MetricsPath   string `yaml:"metrics_path"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

// TestPrometheusScrapes checks that Prometheus scrapes every service's admin
// port under the compose service name, as job cx360-<service>.
func TestPrometheusScrapes(t *testing.T) {
	c := loadCompose(t)
	if containerPath(t, c.Services["prometheus"], "./deployments/prometheus") != "/etc/prometheus" {
		t.Error("prometheus must mount deployments/prometheus at /etc/prometheus")
	}
	var cfg prometheusConfig
	path := filepath.Join("prometheus", "prometheus.yml")
	strictDecode(t, path, mustRead(t, path), &cfg)
	jobs := map[string][]string{}
	for _, sc := range cfg.ScrapeConfigs {
		if sc.MetricsPath != "" && sc.MetricsPath != "/metrics" {
			t.Errorf("job %s scrapes %s", sc.JobName, sc.MetricsPath)
		}
		for _, s := range sc.StaticConfigs {
			jobs[sc.JobName] = append(jobs[sc.JobName], s.Targets...)
			for _, target := range s.Targets {
				host, _, err := net.SplitHostPort(target)
				if err != nil {
					t.Errorf("job %s: target %q: %v", sc.JobName, target, err)
				} else if _, ok := c.Services[host]; !ok && host != "127.0.0.1" {
					t.Errorf("job %s: target %q is no compose service", sc.JobName, target)
				}
			}
		}
	}
	for _, s := range services() {
		_, port, _ := net.SplitHostPort(c.Services[s].Environment[adminAddrKey[s]])
		if want := []string{s + ":" + port}; !slices.Equal(jobs["cx360-"+s], want) {
			t.Errorf("job cx360-%s scrapes %v; want %v (the admin port)", s, jobs["cx360-"+s], want)
		}
		if code := servedStatus(t, "/metrics"); code != 200 {
			t.Errorf("the admin handler answers /metrics with %d", code)
		}
	}
	if _, ok := c.Services["kafka-exporter"]; !ok || len(jobs["kafka-exporter"]) == 0 {
		t.Error("the consumer-lag panel needs the kafka-exporter service and its scrape job")
	}
}

// metricLabels returns every metric family the services export, with its
// labels: the stages' own (registered by the same constructors the services
// call), the Go and process collectors every admin port serves, Prometheus'
// up, and the Kafka exporter's consumer-group series.
func metricLabels(t *testing.T) map[string][]string {
	t.Helper()
	families := map[string][]string{"up": nil}
	rec := &collectorRecorder{}
	ingest.NewMetrics(rec)
	stage.NewMetrics(rec)
	descName := regexp.MustCompile(`fqName: "([^"]+)"`)
	descLabels := regexp.MustCompile(`variableLabels: \{([^}]*)\}`)
	for _, c := range rec.collectors {
		ch := make(chan *prometheus.Desc, 64)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			s := d.String()
			name, labels := descName.FindStringSubmatch(s), descLabels.FindStringSubmatch(s)
			if name == nil || labels == nil {
				t.Fatalf("cannot read metric descriptor %s", s)
			}
			families[name[1]] = strings.FieldsFunc(labels[1], func(r rune) bool { return r == ',' || r == ' ' })
		}
	}
	mfs, err := health.NewRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		families[mf.GetName()] = nil
	}
	// danielqsj/kafka-exporter (docker-compose.yml's kafka-exporter).
	families["kafka_consumergroup_lag"] = []string{"consumergroup", "topic", "partition"}
	return families
}

// collectorRecorder is a prometheus.Registerer that keeps what is registered.
type collectorRecorder struct{ collectors []prometheus.Collector }

var _ prometheus.Registerer = (*collectorRecorder)(nil)

func (r *collectorRecorder) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return nil
}

func (r *collectorRecorder) MustRegister(cs ...prometheus.Collector) {
	r.collectors = append(r.collectors, cs...)
}

func (r *collectorRecorder) Unregister(prometheus.Collector) bool { return false }

var (
	promMetric   = regexp.MustCompile(`\b(up|(?:cx360|go|process|kafka)_[a-zA-Z0-9_]+)\b`)
	promBy       = regexp.MustCompile(`\bby\s*\(([^)]*)\)`)
	promMatchers = regexp.MustCompile(`\{([^}]*)\}`)
	promMatcher  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
)

// TestDashboardPrometheusQueries checks every PromQL expression of the
// dashboard against the metrics the code exports: each metric exists (a
// histogram through its _bucket, _sum or _count series), each label it groups
// or filters by is one of its labels, and each job matcher selects a scrape
// job of prometheus.yml.
func TestDashboardPrometheusQueries(t *testing.T) {
	families := metricLabels(t)
	var cfg prometheusConfig
	path := filepath.Join("prometheus", "prometheus.yml")
	strictDecode(t, path, mustRead(t, path), &cfg)
	n := 0
	for _, p := range allPanels(loadDashboard(t).Panels) {
		for _, tg := range p.Targets {
			if tg.Expr == "" {
				continue
			}
			n++
			where := "panel " + strconv.Quote(p.Title) + " query " + tg.RefID
			labels := map[string]bool{"job": true, "instance": true}
			for _, m := range promMetric.FindAllStringSubmatch(tg.Expr, -1) {
				name := m[1]
				if _, ok := families[name]; !ok {
					for _, suffix := range []string{"_bucket", "_sum", "_count"} {
						if base, cut := strings.CutSuffix(name, suffix); cut {
							if _, ok := families[base]; ok {
								name = base
								labels["le"] = suffix == "_bucket"
							}
						}
					}
				}
				ls, ok := families[name]
				if !ok {
					t.Errorf("%s: metric %s is exported by no cx360 service", where, m[1])
				}
				for _, l := range ls {
					labels[l] = true
				}
			}
			for _, by := range promBy.FindAllStringSubmatch(tg.Expr, -1) {
				for _, l := range strings.Split(by[1], ",") {
					if l = strings.TrimSpace(l); !labels[l] {
						t.Errorf("%s: groups by %q, which its metrics do not have", where, l)
					}
				}
			}
			for _, sel := range promMatchers.FindAllStringSubmatch(tg.Expr, -1) {
				for _, m := range promMatcher.FindAllStringSubmatch(sel[1], -1) {
					if !labels[m[1]] {
						t.Errorf("%s: filters on %q, which its metrics do not have", where, m[1])
					}
					if m[1] != "job" {
						continue
					}
					re, err := regexp.Compile("^(?:" + m[3] + ")$")
					if err != nil {
						t.Errorf("%s: job matcher %q: %v", where, m[3], err)
						continue
					}
					matched := 0
					for _, sc := range cfg.ScrapeConfigs {
						if re.MatchString(sc.JobName) {
							matched++
						}
					}
					if matched == 0 {
						t.Errorf("%s: job %q matches no scrape job of prometheus.yml", where, m[3])
					}
				}
			}
		}
	}
	if n == 0 {
		t.Error("the dashboard has no Prometheus panel for pipeline health")
	}
}
