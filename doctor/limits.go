package doctor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ckalab/ckalab/cluster"
)

func readSysctl(name string) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc/sys", strings.ReplaceAll(name, ".", "/")))
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

func cgroupFinding(version, driver string) Finding {
	f := Finding{Check: Cgroup, Summary: fmt.Sprintf("cgroup v%s (%s driver)", version, driver)}
	if version == "1" {
		f.Status = Warn
		f.Summary += ": clusters run, but Kubernetes 1.35 deprecates v1 and kubeadm upgrades need --ignore-preflight-errors=SystemVerification (docs/cluster-images.md)"
		f.Fix = "prefer cgroup v2: boot the engine host with systemd.unified_cgroup_hierarchy=1 (Debian 11+, Ubuntu 21.10+ default to it)"
	}
	return f
}

// inotifyFinding compares the host's inotify limits, shared by every node
// container (all run as root), with kind's minimum and with what maxEnvs
// environments use: about 19 instances per node were measured, so 512
// runs out near 13 two-node clusters (containerd and the kubelet then fail
// with "too many open files").
func inotifyFinding(instances, watches int64, maxEnvs int) Finding {
	need := max(int64(inotifyInstances), int64(maxEnvs)*nodesPerEnv*inotifyPerNode+inotifyHost)
	f := Finding{Check: Inotify, Summary: fmt.Sprintf("fs.inotify.max_user_instances=%d, max_user_watches=%d", instances, watches)}
	var fix []string
	if instances < need {
		fix = append(fix, fmt.Sprintf("fs.inotify.max_user_instances=%d", max(need, inotifySuggested)))
	}
	if watches < inotifyWatches {
		fix = append(fix, fmt.Sprintf("fs.inotify.max_user_watches=%d", inotifyWatches))
	}
	if len(fix) > 0 {
		f.Status = Warn
		f.Summary += fmt.Sprintf(": below the %d/%d that %d environments need, clusters fail with \"too many open files\"", need, inotifyWatches, maxEnvs)
		f.Fix = sysctlFix("99-ckalab-inotify.conf", fix...)
	}
	return f
}

func pidMaxFinding(pidMax int64, maxEnvs, nodePids int) Finding {
	f := Finding{Check: PidMax, Summary: fmt.Sprintf("kernel.pid_max=%d", pidMax)}
	if nodePids <= 0 {
		f.Summary += " (no --node-pids limit to compare with)"
		return f
	}
	need := int64(maxEnvs) * nodesPerEnv * int64(nodePids)
	if pidMax < need {
		f.Status = Warn
		f.Summary += fmt.Sprintf(": below %d environments × %d nodes × %d processes (--node-pids) = %d, so full nodes can exhaust the host's PIDs", maxEnvs, nodesPerEnv, nodePids, need)
		f.Fix = sysctlFix("99-ckalab-pid-max.conf", fmt.Sprintf("kernel.pid_max=%d", pidMaxSuggested)) + fmt.Sprintf("; or lower --node-pids to %d", pidMax/int64(maxEnvs*nodesPerEnv))
	} else {
		f.Summary += fmt.Sprintf(" ≥ %d environments × %d nodes × %d processes", maxEnvs, nodesPerEnv, nodePids)
	}
	return f
}

// sysctlFix is the command that sets values now and at every boot.
func sysctlFix(file string, settings ...string) string {
	return fmt.Sprintf("sudo sysctl -w %s; to keep it: printf '%s\\n' | sudo tee /etc/sysctl.d/%s",
		strings.Join(settings, " "), strings.Join(settings, `\n`), file)
}

func memoryFinding(total int64, maxEnvs int) Finding {
	need := float64(maxEnvs) * memPerEnv
	f := Finding{Check: Memory, Summary: fmt.Sprintf("%s on the engine host; %d environments need about %.1f GiB idle", gib(total), maxEnvs, need)}
	if float64(total)/(1<<30) < need {
		f.Status = Warn
		f.Fix = fmt.Sprintf("lower --max-environments to %d (about %.1f GiB each, docs/benchmarks.md), or add memory", int(float64(total)/(1<<30)/memPerEnv), memPerEnv)
	}
	return f
}

func cpuFinding(cpus, maxEnvs int) Finding {
	f := Finding{Check: CPU, Summary: fmt.Sprintf("%d CPUs for %d environments (about %d per CPU)", cpus, maxEnvs, envsPerCPU)}
	if maxEnvs > cpus*envsPerCPU {
		f.Status = Warn
		f.Summary = fmt.Sprintf("%d CPUs for %d environments: creates slow down and the host saturates past about %d per CPU", cpus, maxEnvs, envsPerCPU)
		f.Fix = fmt.Sprintf("lower --max-environments to %d (docs/benchmarks.md), or add CPUs", cpus*envsPerCPU)
	}
	return f
}

func diskFinding(free int64, err error, root string, minFreeGiB, maxEnvs int) Finding {
	f := Finding{Check: Disk}
	if errors.Is(err, cluster.ErrNotMeasurable) {
		f.Status, f.Summary = Skip, fmt.Sprintf("the engine is remote: check its free disk there (df -h %s)", root)
		return f
	}
	if err != nil {
		f.Status, f.Summary = Warn, fmt.Sprintf("free disk of the engine's data root: %v", err)
		f.Fix = "check that the data root exists and is readable: docker info --format '{{.DockerRootDir}}'"
		return f
	}
	need := float64(minFreeGiB + diskPerEnv*maxEnvs)
	freeGiB := float64(free) / (1 << 30)
	f.Summary = fmt.Sprintf("%.1f GiB free on %s; --min-free-disk-gib %d + %d environments × %d GiB = %.0f GiB", freeGiB, root, minFreeGiB, maxEnvs, diskPerEnv, need)
	switch {
	case minFreeGiB > 0 && freeGiB < float64(minFreeGiB):
		f.Status = Fail
		f.Summary += ": below --min-free-disk-gib, ckalab stops environments at once"
		f.Fix = fmt.Sprintf("free space on %s (docker system df shows what the engine holds)", root)
	case freeGiB < need:
		f.Status = Warn
		f.Fix = fmt.Sprintf("free space on %s (docker system df shows what the engine holds), or lower --max-environments to %d", root, max(0, int(freeGiB-float64(minFreeGiB))/diskPerEnv))
	}
	return f
}

func gib(b int64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }
