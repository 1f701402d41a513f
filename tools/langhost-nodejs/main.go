// Command pulumi-language-nodejs is dbstack's own Node.js language host for the Pulumi engine.
//
// Why it exists: the upstream language host is published only as a Go module
// (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) and inside the release
// tarballs. Neither is reachable from the machines dbstack is developed and tested on, while
// the CLI module and the SDK module (with the gRPC contract) are. This host implements the part
// of the LanguageRuntime contract that `pulumi preview/up/destroy/refresh` use: it starts
// @pulumi/pulumi's own `cmd/run` entry point from the project's node_modules, exactly as the
// upstream host does, with the configuration passed through the environment variables that the
// Node.js SDK reads. Everything a program does after start-up happens in the SDK, not here.
//
// Not implemented (the engine does not need them for deployments): plugin discovery from
// package.json (plugins are found on PATH), `pulumi new` templates, `pulumi convert`, policy
// packs and debugging.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// version is stamped at build time with the Pulumi version the host pairs with.
var version = "v0.0.0-dev"

// exitCodeAlreadyReported is the exit status @pulumi/pulumi's run script uses after it has sent
// a user-actionable error to the engine itself; the host must not report it a second time.
const exitCodeAlreadyReported = 32

func main() {
	engineAddress := ""
	for _, arg := range os.Args[1:] {
		// The engine passes flags (-root, -tracing, -v, --logtostderr ...) before the engine
		// address. None of them change how a program is launched here.
		if !strings.HasPrefix(arg, "-") {
			engineAddress = arg
		}
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		fail("could not find node on PATH: %v", err)
	}
	cancel := make(chan bool)
	h := &host{node: nodeBin, engine: engineAddress}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fail("could not start the language host: %v", err)
	}
	fmt.Printf("%d\n", handle.Port)

	// Programs run in process groups of their own (see Run), so the engine's interrupt of this
	// host's group no longer reaches them directly: pass it on, then exit as before.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	gone := watchEngine(engineAddress)
	go func() {
		select {
		case sig := <-signals:
			stopGroups(h.programs.all(), sig.(syscall.Signal), stopGrace)
			os.Exit(1)
		case <-gone:
			// Nothing is written: the engine that would read it is gone, and a write to its
			// closed pipe would kill this host before the programs are stopped.
			stopGroups(h.programs.all(), syscall.SIGTERM, stopGrace)
			os.Exit(1)
		}
	}()
	if err := <-handle.Done; err != nil {
		fail("language host stopped: %v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: "+format+"\n", args...)
	os.Exit(1)
}

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	node     string
	engine   string
	programs programs
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// Plugins are installed by dbstack's set-up and found on PATH, so the program declares none.
func (h *host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *host) GetProgramDependencies(context.Context, *pulumirpc.GetProgramDependenciesRequest) (*pulumirpc.GetProgramDependenciesResponse, error) {
	return &pulumirpc.GetProgramDependenciesResponse{}, nil
}

func (h *host) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	out, err := exec.Command(h.node, "--version").Output()
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{Executable: h.node, Version: strings.TrimSpace(string(out))}, nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	programDir := req.GetPwd()
	entry := "."
	if info != nil {
		if info.GetProgramDirectory() != "" {
			programDir = info.GetProgramDirectory()
		}
		if info.GetEntryPoint() != "" {
			entry = info.GetEntryPoint()
		}
	}
	runScript, err := findRunScript(programDir)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	opts := options(info)

	args := append(splitArgs(opts["nodeargs"]), runScript)
	add := func(flag, value string) {
		if value != "" {
			args = append(args, "--"+flag, value)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engine)
	add("organization", req.GetOrganization())
	add("project", req.GetProject())
	add("stack", req.GetStack())
	add("pwd", req.GetPwd())
	if info != nil {
		add("root-directory", info.GetRootDirectory())
	}
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	add("parallel", fmt.Sprint(req.GetParallel()))
	args = append(args, entry)
	args = append(args, req.GetArgs()...)

	env, err := programEnv(req, opts)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(h.node, args...)
	cmd.Dir = req.GetPwd()
	cmd.Env = env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	// The program and whatever it starts get a process group of their own, so that stopping
	// it (engine gone, run cancelled, host interrupted) stops all of it and nothing else.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run the program with node: %v", err)}, nil
	}
	pgid := cmd.Process.Pid
	h.programs.add(pgid)
	defer h.programs.remove(pgid)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// The engine cancelled the run or its connection dropped.
		stopGroups([]int{pgid}, syscall.SIGTERM, stopGrace)
		err = <-done
	}
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == exitCodeAlreadyReported {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited with non-zero exit code: %d", exitErr.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run the program with node: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// programEnv passes configuration the way @pulumi/pulumi's runtime reads it.
func programEnv(req *pulumirpc.RunRequest, opts map[string]string) ([]string, error) {
	config := req.GetConfig()
	if config == nil {
		config = map[string]string{}
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(),
		"PULUMI_CONFIG="+string(configJSON),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretJSON),
	)
	if opts["typescript"] != "false" {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if opts["tsconfig"] != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts["tsconfig"])
	}
	return env, nil
}

// options flattens the runtime options from Pulumi.yaml (typescript, tsconfig, nodeargs).
func options(info *pulumirpc.ProgramInfo) map[string]string {
	out := map[string]string{}
	if info == nil || info.GetOptions() == nil {
		return out
	}
	for key, value := range info.GetOptions().GetFields() {
		switch v := value.GetKind().(type) {
		case *structpb.Value_BoolValue:
			out[key] = fmt.Sprint(v.BoolValue)
		case *structpb.Value_StringValue:
			out[key] = v.StringValue
		case *structpb.Value_NumberValue:
			out[key] = fmt.Sprint(v.NumberValue)
		}
	}
	return out
}

func splitArgs(s string) []string {
	return strings.Fields(s)
}

// findRunScript locates @pulumi/pulumi's run entry point in the nearest node_modules.
func findRunScript(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		candidate := filepath.Join(d, "node_modules", "@pulumi", "pulumi", "cmd", "run")
		if _, err := os.Stat(candidate); err == nil {
			return candidate, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("@pulumi/pulumi is not installed in or above %s: run npm install", dir)
		}
	}
}
