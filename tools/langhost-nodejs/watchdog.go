package main

// Nothing outlives the engine. The engine starts this host (and every plugin) in a process group
// of its own and, on a normal shutdown, interrupts that group. When the engine dies without a
// shutdown (SIGKILL of the `pulumi` CLI, a cancelled CI job, an OOM kill) nobody tells the host,
// so the host has to notice by itself. Two independent signs are watched:
//
//   - Parent death, by polling getppid() every second. The engine starts this binary directly
//     (no shell in between), so the parent is the engine; when it dies we are re-parented (to
//     PID 1 or a subreaper) and the parent PID changes. This catches any kind of death within a
//     second and costs one syscall per second. PR_SET_PDEATHSIG was not used: it fires when the
//     *thread* that forked us exits, and the engine is a Go program whose threads come and go
//     independently of the process, so it could kill a healthy run; it is also Linux-only.
//   - The engine's address, with a gRPC health check every couple of seconds, as the upstream
//     host does (upstream checks every 5 minutes, far too slow to stop a pile-up). This covers
//     hosts whose parent is not the engine (a wrapper that does not exec, a debugger). Only
//     "unavailable" (nothing listens on the address any more) counts as gone, twice in a row:
//     a slow answer on a loaded machine, or "unimplemented", is an engine that is alive.
//
// When either sign fires, the host stops the Node.js programs it started (their whole process
// groups: SIGTERM, then SIGKILL after a grace period) and exits.

import (
	"context"
	"errors"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

const (
	// How often the parent PID is compared with the one the host started with.
	parentPollInterval = time.Second
	// How often the engine's address is health-checked, and how long one check may take.
	healthInterval = 2 * time.Second
	healthTimeout  = 2 * time.Second
	// Consecutive "unavailable" answers that mean the engine is gone.
	healthFailuresGone = 2
	// How long a stopped program's process group has between SIGTERM and SIGKILL. Under the
	// engine's own 5 s between its interrupt and its kill of this host.
	stopGrace = 3 * time.Second
)

// watchEngine returns a channel that receives one reason when the engine is gone.
func watchEngine(engineAddress string) <-chan string {
	gone := make(chan string, 2)
	report := func(reason string) {
		select {
		case gone <- reason:
		default:
		}
	}
	if ppid := os.Getppid(); ppid > 1 {
		go func() {
			for range time.Tick(parentPollInterval) {
				if os.Getppid() != ppid {
					report("the engine (parent process) exited")
					return
				}
			}
		}()
	}
	if engineAddress != "" {
		go healthCheck(engineAddress, report)
	}
	return gone
}

func healthCheck(addr string, report func(string)) {
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()), rpcutil.GrpcChannelOptions())
	if err != nil {
		return // a malformed address: the parent check still stands
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	failures := 0
	for range time.Tick(healthInterval) {
		ctx, cancel := context.WithTimeout(context.Background(), healthTimeout)
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if status.Code(err) == codes.Unavailable {
			failures++
			if failures >= healthFailuresGone {
				report("the engine's address " + addr + " no longer answers")
				return
			}
			continue
		}
		failures = 0
	}
}

// programs records the process groups of the Node.js programs this host has running.
type programs struct {
	mu     sync.Mutex
	groups map[int]struct{}
}

func (p *programs) add(pgid int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.groups == nil {
		p.groups = map[int]struct{}{}
	}
	p.groups[pgid] = struct{}{}
}

func (p *programs) remove(pgid int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.groups, pgid)
}

func (p *programs) all() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]int, 0, len(p.groups))
	for g := range p.groups {
		out = append(out, g)
	}
	return out
}

// stopGroups sends sig to each process group, waits up to grace for every member to exit, then
// SIGKILLs the groups that still have members.
func stopGroups(pgids []int, sig syscall.Signal, grace time.Duration) {
	for _, g := range pgids {
		_ = syscall.Kill(-g, sig)
	}
	deadline := time.Now().Add(grace)
	for {
		alive := pgids[:0:0]
		for _, g := range pgids {
			if groupAlive(g) {
				alive = append(alive, g)
			}
		}
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, g := range alive {
				_ = syscall.Kill(-g, syscall.SIGKILL)
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// groupAlive reports whether any process is left in the group (zombies not yet reaped count).
func groupAlive(pgid int) bool {
	err := syscall.Kill(-pgid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
