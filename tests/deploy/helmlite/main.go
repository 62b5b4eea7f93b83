// helmlite renders a Helm chart the way `helm template` does, for the local
// tests (Helm itself is not installable here; CI runs the real helm lint and
// helm template). It covers what this repository's charts use: Go templates
// with Sprig, include, tpl, required, toYaml, fromYaml, toJson, .Values
// (values.yaml, then -f files: maps merge, null deletes), .Release, .Chart,
// .Capabilities.KubeVersion, and file:// chart dependencies under charts/ or
// their repository path, whose values come from the parent's key of the same name.
//
//	helmlite [-f values.yaml]... [--release NAME] [--namespace NS] CHART_DIR
//
// Built with Debian's golang-go and golang-github-masterminds-sprig-dev in
// GOPATH mode (GO111MODULE=off GOPATH=/usr/share/gocode).
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"github.com/ghodss/yaml"
)

type chart struct {
	dir    string
	meta   map[string]interface{}
	values map[string]interface{}
	subs   []*chart
}

func readYAML(path string) (map[string]interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return out, nil
}

// merge b over a: maps merge, other values replace, null deletes
func merge(a, b map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if v == nil {
			delete(out, k)
			continue
		}
		am, aok := out[k].(map[string]interface{})
		bm, bok := v.(map[string]interface{})
		if aok && bok {
			out[k] = merge(am, bm)
		} else {
			out[k] = v
		}
	}
	return out
}

func loadChart(dir string) (*chart, error) {
	meta, err := readYAML(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	values := map[string]interface{}{}
	if _, err := os.Stat(filepath.Join(dir, "values.yaml")); err == nil {
		if values, err = readYAML(filepath.Join(dir, "values.yaml")); err != nil {
			return nil, err
		}
	}
	c := &chart{dir: dir, meta: meta, values: values}
	deps, _ := meta["dependencies"].([]interface{})
	for _, d := range deps {
		dm, _ := d.(map[string]interface{})
		repo, _ := dm["repository"].(string)
		name, _ := dm["name"].(string)
		if !strings.HasPrefix(repo, "file://") {
			return nil, fmt.Errorf("%s: dependency %s: only file:// repositories are supported", dir, name)
		}
		sub, err := loadChart(filepath.Join(dir, strings.TrimPrefix(repo, "file://")))
		if err != nil {
			return nil, err
		}
		c.subs = append(c.subs, sub)
	}
	return c, nil
}

func metaTitle(m map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range m {
		out[strings.ToUpper(k[:1])+k[1:]] = v
	}
	return out
}

type job struct {
	name string // chart/templates/file
	data map[string]interface{}
}

// collect: template files of c and its dependencies, with their top-level objects
func collect(c *chart, values map[string]interface{}, release map[string]interface{}, caps map[string]interface{},
	prefix string, files map[string]string, jobs *[]job) error {
	name, _ := c.meta["name"].(string)
	for _, sub := range c.subs {
		subName, _ := sub.meta["name"].(string)
		subVals, _ := values[subName].(map[string]interface{})
		merged := merge(sub.values, subVals)
		if g, ok := values["global"]; ok {
			merged["global"] = g
		}
		values[subName] = merged // the parent sees the coalesced subchart values
		if err := collect(sub, merged, release, caps, prefix+name+"/charts/", files, jobs); err != nil {
			return err
		}
	}
	paths, _ := filepath.Glob(filepath.Join(c.dir, "templates", "*"))
	sort.Strings(paths)
	for _, p := range paths {
		base := filepath.Base(p)
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		tname := prefix + name + "/templates/" + base
		files[tname] = string(data)
		if strings.HasPrefix(base, "_") {
			continue
		}
		top := map[string]interface{}{
			"Values":       values,
			"Release":      release,
			"Chart":        metaTitle(c.meta),
			"Capabilities": caps,
			"Template":     map[string]interface{}{"Name": tname, "BasePath": prefix + name + "/templates"},
		}
		*jobs = append(*jobs, job{tname, top})
	}
	return nil
}

func main() {
	var valueFiles []string
	releaseName, namespace, dir := "release-name", "default", ""
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-f", "--values":
			i++
			valueFiles = append(valueFiles, args[i])
		case "--release":
			i++
			releaseName = args[i]
		case "--namespace", "-n":
			i++
			namespace = args[i]
		default:
			dir = args[i]
		}
	}
	if dir == "" {
		fmt.Fprintln(os.Stderr, "usage: helmlite [-f values.yaml]... [--release NAME] [--namespace NS] CHART_DIR")
		os.Exit(2)
	}
	if err := run(dir, valueFiles, releaseName, namespace); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func run(dir string, valueFiles []string, releaseName, namespace string) error {
	c, err := loadChart(dir)
	if err != nil {
		return err
	}
	values := c.values
	for _, f := range valueFiles {
		v, err := readYAML(f)
		if err != nil {
			return err
		}
		values = merge(values, v)
	}
	release := map[string]interface{}{"Name": releaseName, "Namespace": namespace, "Service": "Helm",
		"IsInstall": true, "IsUpgrade": false, "Revision": 1}
	caps := map[string]interface{}{"KubeVersion": map[string]interface{}{"Version": "v1.29.0", "Major": "1", "Minor": "29"}}
	files := map[string]string{}
	var jobs []job
	if err := collect(c, values, release, caps, "", files, &jobs); err != nil {
		return err
	}

	t := template.New("gotpl").Option("missingkey=zero")
	includeDepth := 0
	funcs := sprig.TxtFuncMap()
	funcs["include"] = func(name string, data interface{}) (string, error) {
		if includeDepth++; includeDepth > 1000 {
			return "", errors.New("include: too deep")
		}
		defer func() { includeDepth-- }()
		var buf bytes.Buffer
		err := t.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		tt, err := t.Clone()
		if err != nil {
			return "", err
		}
		if tt, err = tt.New("tpl").Parse(text); err != nil {
			return "", err
		}
		var buf bytes.Buffer
		err = tt.Execute(&buf, data)
		return buf.String(), err
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return nil, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return nil, errors.New(msg)
		}
		return v, nil
	}
	funcs["toYaml"] = func(v interface{}) string {
		data, err := yaml.Marshal(v)
		if err != nil {
			return ""
		}
		return strings.TrimSuffix(string(data), "\n")
	}
	funcs["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["lookup"] = func(...interface{}) map[string]interface{} { return map[string]interface{}{} }
	t.Funcs(funcs)

	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, err := t.New(n).Parse(files[n]); err != nil {
			return err
		}
	}
	blank := regexp.MustCompile(`^\s*$`)
	var out strings.Builder
	for _, j := range jobs {
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, j.name, j.data); err != nil {
			return err
		}
		if strings.HasSuffix(j.name, "NOTES.txt") {
			continue
		}
		s := strings.ReplaceAll(buf.String(), "<no value>", "")
		if blank.MatchString(s) {
			continue
		}
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", j.name, strings.TrimRight(s, "\n"))
	}
	fmt.Print(out.String())
	return nil
}
