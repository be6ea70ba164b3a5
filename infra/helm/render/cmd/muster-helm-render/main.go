// Command muster-helm-render lints and renders a Helm chart with Helm's own Go packages (loader,
// chartutil, engine, lint), as `helm lint` and `helm template` do, and prints one JSON document:
//
//	{"lint": [{"severity": "error", "path": "...", "message": "..."}],
//	 "manifests": [{"source": "muster-hub/templates/service.yaml", "kind": "Service", "content": "..."}],
//	 "error": "..."}
//
// Manifests come in Helm's install order (releaseutil.InstallOrder). The exit code is 0 when the
// chart rendered and lint found no error, 1 otherwise, 2 on bad usage.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"
)

type lintMessage struct {
	Severity string `json:"severity"`
	Path     string `json:"path"`
	Message  string `json:"message"`
}

type manifest struct {
	Source  string `json:"source"`
	Kind    string `json:"kind"`
	Content string `json:"content"`
}

type result struct {
	Lint      []lintMessage `json:"lint"`
	Manifests []manifest    `json:"manifests"`
	Error     string        `json:"error,omitempty"`
}

type valueFiles []string

func (v *valueFiles) String() string     { return fmt.Sprint(*v) }
func (v *valueFiles) Set(s string) error { *v = append(*v, s); return nil }

var severities = map[int]string{
	support.InfoSev:    "info",
	support.WarningSev: "warning",
	support.ErrorSev:   "error",
}

func main() {
	var files valueFiles
	flag.Var(&files, "f", "values file merged over the chart's values.yaml (repeatable, later wins)")
	release := flag.String("release", "muster", "release name")
	namespace := flag.String("namespace", "muster", "release namespace")
	kubeVersion := flag.String("kube-version", "v1.36.1", "Kubernetes version for .Capabilities")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: muster-helm-render [-f values.yaml]... [-release NAME] [-namespace NS] CHART_DIR")
		os.Exit(2)
	}
	res, ok := run(flag.Arg(0), files, *release, *namespace, *kubeVersion)
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

func run(chartDir string, files []string, release, namespace, kubeVersion string) (result, bool) {
	res := result{Lint: []lintMessage{}, Manifests: []manifest{}}
	fail := func(err error) (result, bool) { res.Error = err.Error(); return res, false }

	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		return fail(err)
	}
	overrides := map[string]interface{}{}
	for _, f := range files {
		vals, err := chartutil.ReadValuesFile(f)
		if err != nil {
			return fail(fmt.Errorf("values file %s: %w", f, err))
		}
		overrides = chartutil.MergeTables(vals.AsMap(), overrides)
	}

	linter := lint.AllWithKubeVersion(chartDir, overrides, namespace, kv)
	ok := true
	for _, m := range linter.Messages {
		res.Lint = append(res.Lint, lintMessage{severities[m.Severity], m.Path, m.Err.Error()})
		if m.Severity == support.ErrorSev {
			ok = false
		}
	}

	chrt, err := loader.Load(chartDir)
	if err != nil {
		return fail(err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = *kv
	top, err := chartutil.ToRenderValues(chrt, overrides,
		chartutil.ReleaseOptions{Name: release, Namespace: namespace, Revision: 1, IsInstall: true}, caps)
	if err != nil {
		return fail(err)
	}
	rendered, err := engine.Render(chrt, top)
	if err != nil {
		return fail(err)
	}
	for name := range rendered {
		// NOTES.txt is shown to the user after an install, not applied (as in Helm's install).
		if strings.HasSuffix(name, "NOTES.txt") {
			delete(rendered, name)
		}
	}
	_, sorted, err := releaseutil.SortManifests(rendered, caps.APIVersions, releaseutil.InstallOrder)
	if err != nil {
		return fail(err)
	}
	for _, m := range sorted {
		kind := ""
		if m.Head != nil {
			kind = m.Head.Kind
		}
		res.Manifests = append(res.Manifests, manifest{m.Name, kind, m.Content})
	}
	return res, ok
}
