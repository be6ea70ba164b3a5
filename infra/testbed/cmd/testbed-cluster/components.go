package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	apiserverapp "k8s.io/kubernetes/cmd/kube-apiserver/app"
	apiserveroptions "k8s.io/kubernetes/cmd/kube-apiserver/app/options"
	cmapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	cmoptions "k8s.io/kubernetes/cmd/kube-controller-manager/app/options"
	schedapp "k8s.io/kubernetes/cmd/kube-scheduler/app"
	schedoptions "k8s.io/kubernetes/cmd/kube-scheduler/app/options"
	"sigs.k8s.io/kwok/pkg/apis/internalversion"
	"sigs.k8s.io/kwok/pkg/apis/v1alpha1"
	"sigs.k8s.io/kwok/pkg/client/clientset/versioned"
	"sigs.k8s.io/kwok/pkg/kwok/controllers"
	kwoklog "sigs.k8s.io/kwok/pkg/log"
	kwokclient "sigs.k8s.io/kwok/pkg/utils/client"
	"sigs.k8s.io/yaml"

	"k8s.io/utils/clock"
)

//go:embed stages.yaml
var stagesYAML string

// kwokNodeSelector selects the nodes the in-process kwok controller manages (by annotation).
const kwokNodeSelector = "kwok.x-k8s.io/node=fake"

func encodeBase64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func parseFlags(name string, sets map[string]*pflag.FlagSet, args []string) error {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	for _, s := range sets {
		fs.AddFlagSet(s)
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s flags: %w", name, err)
	}
	return nil
}

// freePort asks the kernel for a free loopback port.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startEtcd runs a single-member embedded etcd on free loopback ports. etcd must know its real
// client/peer URLs (its internal gRPC gateway dials them), so the ports are picked first and the start
// is retried with new ports if another process grabbed one in between.
func startEtcd(ctx context.Context, dir, host string) (string, func(), error) {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		clientPort, err := freePort(host)
		if err != nil {
			return "", nil, err
		}
		peerPort, err := freePort(host)
		if err != nil {
			return "", nil, err
		}
		if clientPort == peerPort {
			continue
		}
		u, stop, err := startEtcdOn(ctx, dir, host, clientPort, peerPort)
		if err == nil {
			return u, stop, nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			return "", nil, err
		}
		_ = os.RemoveAll(dir)
	}
	return "", nil, lastErr
}

func startEtcdOn(ctx context.Context, dir, host string, clientPort, peerPort int) (string, func(), error) {
	cfg := embed.NewConfig()
	cfg.Name = "testbed"
	cfg.Dir = dir
	cfg.UnsafeNoFsync = true // throw-away test data: durability is not needed, speed is
	cfg.LogLevel = "error"
	cfg.SnapshotCount = 5000
	cfg.Metrics = "basic"
	clientURL := url.URL{Scheme: "http", Host: net.JoinHostPort(host, strconv.Itoa(clientPort))}
	peerURL := url.URL{Scheme: "http", Host: net.JoinHostPort(host, strconv.Itoa(peerPort))}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return "", nil, err
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		e.Close()
		return "", nil, fmt.Errorf("etcd did not become ready in 60s")
	case <-ctx.Done():
		e.Close()
		return "", nil, ctx.Err()
	}
	return clientURL.String(), e.Close, nil
}

type apiserverConfig struct {
	listener     net.Listener
	port         int
	etcdURL      string
	pki          *pki
	tokenFile    string
	featureGates string
	extra        []string
}

func runAPIServer(ctx context.Context, c apiserverConfig) error {
	s := apiserveroptions.NewServerRunOptions()
	args := []string{
		"--etcd-servers=" + c.etcdURL,
		"--bind-address=" + c.listener.Addr().(*net.TCPAddr).IP.String(),
		fmt.Sprintf("--secure-port=%d", c.port),
		"--tls-cert-file=" + c.pki.ServerCert,
		"--tls-private-key-file=" + c.pki.ServerKey,
		"--token-auth-file=" + c.tokenFile,
		"--authorization-mode=Node,RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + c.pki.SAPub,
		"--service-account-signing-key-file=" + c.pki.SAKey,
		"--service-cluster-ip-range=" + serviceCIDR,
		"--allow-privileged=true",
		"--profiling=false",
		// One client (the test) and one apiserver: API priority & fairness only costs memory and CPU here.
		"--enable-priority-and-fairness=false",
		"--event-ttl=30m",
	}
	if c.featureGates != "" {
		args = append(args, "--feature-gates="+c.featureGates)
	}
	args = append(args, c.extra...)
	if err := parseFlags("kube-apiserver", s.Flags().FlagSets, args); err != nil {
		return err
	}
	if err := s.GenericServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		return err
	}
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
	s.SecureServing.Listener = c.listener
	s.SecureServing.BindPort = c.port
	completed, err := s.Complete(ctx)
	if err != nil {
		return err
	}
	if errs := completed.Validate(); len(errs) != 0 {
		return fmt.Errorf("invalid kube-apiserver options: %v", errs)
	}
	return apiserverapp.Run(ctx, completed)
}

// waitReadyz polls https://.../readyz until it answers 200.
func waitReadyz(ctx context.Context, server string, caPEM []byte, token string, errCh <-chan error) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	deadline := time.Now().Add(3 * time.Minute)
	var last string
	lastLog := time.Now()
	for time.Now().Before(deadline) {
		select {
		case err := <-errCh:
			return err
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, server+"/readyz?verbose", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			var failed []string
			for _, l := range strings.Split(string(body), "\n") {
				if strings.HasPrefix(l, "[-]") {
					failed = append(failed, l)
				}
			}
			last = resp.Status + " " + strings.Join(failed, "; ")
		} else {
			last = err.Error()
		}
		if time.Since(lastLog) > 10*time.Second {
			klog.Infof("waiting for kube-apiserver readiness: %s", last)
			lastLog = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("kube-apiserver not ready after 3m: %s", last)
}

func runControllerManager(ctx context.Context, kubeconfig string, p *pki, extra []string) error {
	s, err := cmoptions.NewKubeControllerManagerOptions()
	if err != nil {
		return err
	}
	known, disabled, aliases := cmapp.KnownControllers(), cmapp.ControllersDisabledByDefault(), cmapp.ControllerAliases()
	nfs := s.Flags(known, disabled, aliases)
	s.ParsedFlags = &nfs
	args := append([]string{
		"--kubeconfig=" + kubeconfig,
		"--service-account-private-key-file=" + p.SAKey,
		"--root-ca-file=" + p.CACert,
		"--use-service-account-credentials=false",
		"--leader-elect=false",
		"--secure-port=0",
		"--kube-api-qps=200",
		"--kube-api-burst=400",
		"--profiling=false",
	}, extra...)
	if err := parseFlags("kube-controller-manager", nfs.FlagSets, args); err != nil {
		return err
	}
	c, err := s.Config(ctx, known, disabled, aliases)
	if err != nil {
		return err
	}
	return cmapp.Run(ctx, c.Complete())
}

func runScheduler(ctx context.Context, kubeconfig string, extra []string) error {
	opts := schedoptions.NewOptions()
	args := append([]string{
		"--kubeconfig=" + kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		"--profiling=false",
	}, extra...)
	if err := parseFlags("kube-scheduler", opts.Flags.FlagSets, args); err != nil {
		return err
	}
	cc, sched, err := schedapp.Setup(ctx, opts)
	if err != nil {
		return err
	}
	return schedapp.Run(ctx, cc, sched)
}

func loadStages() (map[internalversion.StageResourceRef][]*internalversion.Stage, error) {
	out := map[internalversion.StageResourceRef][]*internalversion.Stage{}
	for _, doc := range strings.Split(stagesYAML, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var st v1alpha1.Stage
		if err := yaml.UnmarshalStrict([]byte(doc), &st); err != nil {
			return nil, fmt.Errorf("stage: %w", err)
		}
		in, err := internalversion.ConvertToInternalStage(&st)
		if err != nil {
			return nil, err
		}
		out[in.Spec.ResourceRef] = append(out[in.Spec.ResourceRef], in)
	}
	return out, nil
}

// runKwok starts the kwok controller in-process. It manages nodes annotated kwok.x-k8s.io/node=fake:
// marks them Ready, renews their Leases and moves the pods bound to them through the stages in stages.yaml.
func runKwok(ctx context.Context, kubeconfig string) error {
	stages, err := loadStages()
	if err != nil {
		return err
	}
	ctx = kwoklog.NewContext(ctx, kwoklog.NewLogger(os.Stderr, kwoklog.LevelWarn))
	cs, err := kwokclient.NewClientset("", kubeconfig)
	if err != nil {
		return err
	}
	restConfig, err := cs.ToRESTConfig()
	if err != nil {
		return err
	}
	restConfig.QPS, restConfig.Burst = 200, 400
	dyn, err := cs.ToDynamicClient()
	if err != nil {
		return err
	}
	mapper, err := cs.ToRESTMapper()
	if err != nil {
		return err
	}
	restClient, err := rest.RESTClientFor(restConfig)
	if err != nil {
		return err
	}
	typed, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return err
	}
	kwokTyped, err := versioned.NewForConfig(restConfig)
	if err != nil {
		return err
	}
	id, err := controllers.Identity()
	if err != nil {
		return err
	}
	ctr, err := controllers.NewController(controllers.Config{
		Clock:                             clock.RealClock{},
		DynamicClient:                     dyn,
		RESTClient:                        restClient,
		RESTMapper:                        mapper,
		ImpersonatingDynamicClient:        cs.ToImpersonatingDynamicClient(),
		ImpersonatingTypedClient:          cs.ToImpersonatingTypedClient(),
		TypedClient:                       typed,
		TypedKwokClient:                   kwokTyped,
		ManageNodesWithAnnotationSelector: kwokNodeSelector,
		CIDR:                              "10.244.0.0/16",
		NodeIP:                            "10.0.0.1",
		LocalStages:                       stages,
		PodPlayStageParallelism:           8,
		NodePlayStageParallelism:          4,
		NodeLeaseParallelism:              4,
		NodeLeaseDurationSeconds:          40,
		PodsOnNodeSyncParallelism:         2,
		EnablePodsOnNodeSyncListPager:     true,
		ID:                                id,
	})
	if err != nil {
		return err
	}
	if err := ctr.Start(ctx); err != nil {
		return err
	}
	klog.Infof("kwok controller started (id %s)", id)
	return nil
}
