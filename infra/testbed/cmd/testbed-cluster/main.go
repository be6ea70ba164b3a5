// Command testbed-cluster runs one small but real Kubernetes control plane in a single process:
// embedded etcd, kube-apiserver, kube-scheduler, kube-controller-manager and the kwok controller
// (which plays the kubelet for fake nodes). It is the cluster binary of Muster's infra/testbed.
//
// It writes everything it needs (PKI, token file, kubeconfig, etcd data) into --data-dir, binds the
// apiserver and etcd ports itself (port 0 = the kernel picks a free one, so parallel runs never
// collide), and when every component is up it writes <data-dir>/cluster.json and prints one line
// "TESTBED_READY {json}" on stdout.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/klog/v2"
)

const (
	serviceCIDR = "10.96.0.0/16"
	serviceIP   = "10.96.0.1"
)

type flags struct {
	name           string
	dataDir        string
	host           string
	port           int
	token          string
	exitWithParent bool
	verbosity      int
	featureGates   string
	apiserverArgs  string
	cmArgs         string
	schedArgs      string
}

// readyInfo is written to <data-dir>/cluster.json once the cluster is up.
type readyInfo struct {
	Name       string `json:"name"`
	Server     string `json:"server"`
	Port       int    `json:"port"`
	Pid        int    `json:"pid"`
	Token      string `json:"token"`
	CAFile     string `json:"caFile"`
	Kubeconfig string `json:"kubeconfig"`
	EtcdURL    string `json:"etcdUrl"`
	StartupMs  int64  `json:"startupMs"`
}

func main() {
	var f flags
	flag.StringVar(&f.name, "name", "testbed", "cluster name (used in the kubeconfig)")
	flag.StringVar(&f.dataDir, "data-dir", "", "directory for PKI, kubeconfig, etcd data (required)")
	flag.StringVar(&f.host, "host", "127.0.0.1", "loopback address to bind")
	flag.IntVar(&f.port, "port", 0, "apiserver port; 0 picks a free port")
	flag.StringVar(&f.token, "token", "", "admin bearer token (group system:masters); generated when empty")
	flag.BoolVar(&f.exitWithParent, "exit-with-parent", false, "exit when the parent process dies")
	flag.IntVar(&f.verbosity, "v", 0, "klog verbosity")
	flag.StringVar(&f.featureGates, "feature-gates", "", "feature gates passed to all components (k=v,...)")
	flag.StringVar(&f.apiserverArgs, "apiserver-args", "", "extra kube-apiserver flags, space separated")
	flag.StringVar(&f.cmArgs, "controller-manager-args", "", "extra kube-controller-manager flags, space separated")
	flag.StringVar(&f.schedArgs, "scheduler-args", "", "extra kube-scheduler flags, space separated")
	flag.Parse()
	if f.dataDir == "" {
		fmt.Fprintln(os.Stderr, "--data-dir is required")
		os.Exit(2)
	}

	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	_ = klogFlags.Set("v", strconv.Itoa(f.verbosity))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	sigCh := make(chan os.Signal, 2)
	signal.Notify(sigCh, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigCh
		klog.Infof("testbed-cluster %s: got %v, shutting down", f.name, s)
		// The data is throw-away: give components a moment to stop their loops, then exit
		// without waiting for a graceful drain (which can take many seconds).
		cancel()
		select {
		case <-sigCh:
		case <-time.After(300 * time.Millisecond):
		}
		klog.Flush()
		os.Exit(0)
	}()
	if f.exitWithParent {
		go watchParent(cancel, sigCh)
	}

	if err := run(ctx, f); err != nil {
		fmt.Fprintf(os.Stderr, "testbed-cluster %s: %v\n", f.name, err)
		os.Exit(1)
	}
}

// watchParent exits the process when the process that started us is gone (our parent pid changes),
// so a crashed test runner does not leave clusters behind.
func watchParent(cancel context.CancelFunc, sigCh chan os.Signal) {
	parent := os.Getppid()
	for {
		time.Sleep(time.Second)
		if os.Getppid() != parent {
			klog.Infof("parent %d is gone, exiting", parent)
			sigCh <- syscall.SIGTERM
			return
		}
	}
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func splitArgs(s string) []string { return strings.Fields(s) }

func run(ctx context.Context, f flags) error {
	start := time.Now()
	dataDir, err := filepath.Abs(f.dataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	pkiDir := filepath.Join(dataDir, "pki")
	p, err := generatePKI(pkiDir, f.name)
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	if f.token == "" {
		f.token = randomToken()
	}
	tokenFile := filepath.Join(pkiDir, "tokens.csv")
	if err := os.WriteFile(tokenFile, []byte(fmt.Sprintf("%s,admin,admin-uid,\"system:masters\"\n", f.token)), 0o600); err != nil {
		return err
	}

	// The apiserver listener is bound here, before anything else, so the port is ours.
	ln, err := net.Listen("tcp", net.JoinHostPort(f.host, strconv.Itoa(f.port)))
	if err != nil {
		return fmt.Errorf("listen apiserver: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	server := "https://" + net.JoinHostPort(f.host, strconv.Itoa(port))

	kubeconfigPath := filepath.Join(dataDir, "kubeconfig")
	if err := writeKubeconfig(kubeconfigPath, f.name, server, p.caPEM, f.token); err != nil {
		return err
	}

	etcdURL, etcdStop, err := startEtcd(ctx, filepath.Join(dataDir, "etcd"), f.host)
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	defer etcdStop()
	klog.Infof("etcd ready at %s after %v", etcdURL, time.Since(start))

	errCh := make(chan error, 4)
	go func() {
		errCh <- fmt.Errorf("kube-apiserver exited: %w", runAPIServer(ctx, apiserverConfig{
			listener: ln, port: port, etcdURL: etcdURL, pki: p, tokenFile: tokenFile,
			featureGates: f.featureGates, extra: splitArgs(f.apiserverArgs),
		}))
	}()
	if err := waitReadyz(ctx, server, p.caPEM, f.token, errCh); err != nil {
		return err
	}
	klog.Infof("kube-apiserver ready at %s after %v", server, time.Since(start))

	go func() {
		errCh <- fmt.Errorf("kube-controller-manager exited: %w", runControllerManager(ctx, kubeconfigPath, p, splitArgs(f.cmArgs)))
	}()
	go func() {
		errCh <- fmt.Errorf("kube-scheduler exited: %w", runScheduler(ctx, kubeconfigPath, splitArgs(f.schedArgs)))
	}()
	if err := runKwok(ctx, kubeconfigPath); err != nil {
		return fmt.Errorf("kwok: %w", err)
	}

	info := readyInfo{
		Name: f.name, Server: server, Port: port, Pid: os.Getpid(), Token: f.token,
		CAFile: p.CACert, Kubeconfig: kubeconfigPath, EtcdURL: etcdURL,
		StartupMs: time.Since(start).Milliseconds(),
	}
	b, _ := json.Marshal(info)
	tmp := filepath.Join(dataDir, "cluster.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dataDir, "cluster.json")); err != nil {
		return err
	}
	fmt.Printf("TESTBED_READY %s\n", b)
	klog.Infof("testbed-cluster %s ready after %v", f.name, time.Since(start))

	select {
	case <-ctx.Done():
		// main's signal handler exits the process.
		select {}
	case err := <-errCh:
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
}

func writeKubeconfig(path, name, server string, caPEM []byte, token string) error {
	ca := encodeBase64(caPEM)
	content := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: %[1]s
  cluster:
    server: %[2]s
    certificate-authority-data: %[3]s
users:
- name: %[1]s-admin
  user:
    token: %[4]s
contexts:
- name: %[1]s
  context:
    cluster: %[1]s
    user: %[1]s-admin
    namespace: default
current-context: %[1]s
`, name, server, ca, token)
	return os.WriteFile(path, []byte(content), 0o600)
}
