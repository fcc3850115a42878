package doctor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ckalab/ckalab/cluster"
	clusterimages "github.com/ckalab/ckalab/cluster-images"
	"github.com/ckalab/ckalab/config"
)

// checkHost runs the engine's checks and the kernel's.
func checkHost(ctx context.Context, cfg config.Config, log *slog.Logger, opts Options) []Finding {
	eng := cluster.Engine{Host: cfg.DockerHost, CertPath: cfg.DockerCertPath, APIAddress: cfg.EngineAPIAddress}
	where := eng.Where()
	image := cfg.NodeImage + ":v" + cfg.K8sVersion
	skip := func(check, why string) Finding { return Finding{Check: check, Status: Skip, Summary: why} }
	var out []Finding

	// Kernel settings of the engine's host: read here when it is this one,
	// else in the privileged container below.
	values := map[string]int64{}
	if eng.Local() {
		for _, name := range sysctls {
			if v, err := opts.Sysctl(name); err == nil {
				values[name] = v
			}
		}
	}
	kernel := func() []Finding {
		if len(values) < len(sysctls) {
			why := "cannot read the engine host's kernel settings"
			if !eng.Local() {
				why = "the engine is remote: its kernel settings are read by the privileged run, which did not run"
			}
			return []Finding{skip(Inotify, why), skip(PidMax, why)}
		}
		return []Finding{
			inotifyFinding(values[sysctls[0]], values[sysctls[1]], cfg.MaxEnvs),
			pidMaxFinding(values[sysctls[2]], cfg.MaxEnvs, cfg.NodePids),
		}
	}
	engineSkipped := func(why string) []Finding {
		out := []Finding{skip(NodeImage, why), skip(Privileged, why), skip(Cgroup, why)}
		if eng.Local() {
			out = append(out, kernel()...)
		} else {
			out = append(out, skip(Inotify, why), skip(PidMax, why))
		}
		return append(out, skip(Memory, why), skip(CPU, why), skip(Disk, why), skip(Clock, why))
	}

	e := opts.Engine
	if e == nil {
		m, err := cluster.NewOn(log.With("component", "doctor"), filepath.Join(cfg.StateDir, "kind"), eng)
		if err != nil {
			out = append(out, Finding{Check: Docker, Status: Fail, Summary: err.Error(),
				Fix: "fix --docker-host and --docker-cert-path (CKALAB_DOCKER_HOST, CKALAB_DOCKER_CERT_PATH)"})
			return append(out, engineSkipped("needs the Docker engine")...)
		}
		e = m
	}
	ictx, cancel := context.WithTimeout(ctx, engineTimeout)
	asked := opts.Now()
	info, err := e.Info(ictx)
	answered := opts.Now()
	if ictx.Err() != nil && ctx.Err() == nil {
		err = fmt.Errorf("no answer within %s", engineTimeout)
	}
	cancel()
	if err != nil {
		out = append(out, dockerDown(where, err))
		return append(out, engineSkipped("needs the Docker engine")...)
	}
	out = append(out, Finding{Check: Docker, Summary: fmt.Sprintf("%s answers: Docker %s, %d CPUs, %s memory, data root %s",
		where, info.ServerVersion, info.CPUs, gib(info.Memory), info.DataRoot)})
	if info.Rootless {
		out[len(out)-1].Status = Warn
		out[len(out)-1].Fix = "rootless Docker needs extra set-up for kind (see kind's rootless guide); a rootful engine is simpler"
	}

	ictx, cancel = context.WithTimeout(ctx, engineTimeout)
	created, err := e.ImageCreated(ictx, image)
	cancel()
	imageOK := err == nil
	out = append(out, imageFinding(image, where, cfg.K8sVersion, err, created))

	switch {
	case !imageOK:
		out = append(out, skip(Privileged, "needs the node image"))
	default:
		out = append(out, privileged(ctx, e, image, where, eng.Local(), values))
	}
	out = append(out, cgroupFinding(info.CgroupVersion, info.CgroupDriver))
	out = append(out, kernel()...)
	out = append(out, memoryFinding(info.Memory, cfg.MaxEnvs), cpuFinding(info.CPUs, cfg.MaxEnvs))

	ictx, cancel = context.WithTimeout(ctx, engineTimeout)
	free, err := e.FreeDisk(ictx)
	cancel()
	out = append(out, diskFinding(free, err, info.DataRoot, cfg.MinFreeDiskGiB, cfg.MaxEnvs))

	var imageTime time.Time
	if imageOK {
		imageTime = created
	}
	return append(out, clockFinding(asked, answered, info.Clock, imageTime, image))
}

// dockerDown says why the engine did not answer and what to do.
func dockerDown(where string, err error) Finding {
	f := Finding{Check: Docker, Status: Fail, Summary: fmt.Sprintf("%s does not answer: %v", where, err)}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found"):
		f.Summary = "the docker client is not installed: " + msg
		f.Fix = "install it: sudo apt-get install docker.io (or Docker's docker-ce-cli)"
	case strings.Contains(msg, "permission denied"):
		f.Fix = "let this user reach the engine: sudo usermod -aG docker $USER, log in again, then restart ckalab"
	case where == "the local Docker engine":
		f.Fix = "start it (sudo systemctl start docker) or point --docker-host (CKALAB_DOCKER_HOST) at a running engine, then restart ckalab"
	default:
		f.Fix = "start that engine, or fix --docker-host (CKALAB_DOCKER_HOST) and --docker-cert-path, then restart ckalab"
	}
	return f
}

func imageFinding(image, where, version string, err error, created time.Time) Finding {
	f := Finding{Check: NodeImage}
	switch {
	case err == nil:
		f.Summary = fmt.Sprintf("%s present (built %s)", image, created.UTC().Format("2006-01-02 15:04 MST"))
	case errors.Is(err, cluster.ErrNotFound):
		f.Status, f.Summary = Fail, fmt.Sprintf("node image %s is missing on %s", image, where)
		built := clusterimages.KubernetesVersion()
		switch {
		case version != built:
			f.Fix = fmt.Sprintf("this ckalab builds node images for Kubernetes %s: use --kubernetes-version %s, or set KUBERNETES_VERSION in cluster-images/versions.env and run `make images`", built, built)
		case where == "the local Docker engine":
			f.Fix = "build it: `make images` (about 45 minutes cold), then restart ckalab; or check --node-image"
		default:
			f.Fix = fmt.Sprintf("build it there with `make images`, or copy it: docker save %s | ssh <engine host> docker load", image)
		}
	default:
		f.Status, f.Summary = Fail, err.Error()
		f.Fix = "check the engine (docker info) and --node-image"
	}
	return f
}

// privileged runs a throwaway privileged node container, as kind does,
// which also reads the kernel settings of a remote engine's host.
func privileged(ctx context.Context, e Engine, image, where string, local bool, values map[string]int64) Finding {
	ctx, cancel := context.WithTimeout(ctx, privilegedTimeout)
	defer cancel()
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	name := "ckalab-doctor-" + hex.EncodeToString(suffix[:])
	paths := []string{"cat"}
	for _, s := range sysctls {
		paths = append(paths, "/proc/sys/"+strings.ReplaceAll(s, ".", "/"))
	}
	start := time.Now()
	out, err := e.RunPrivileged(ctx, name, image, paths...)
	if err != nil {
		return Finding{Check: Privileged, Status: Fail, Summary: fmt.Sprintf("%s cannot run a privileged node container: %v", where, err),
			Fix: "kind nodes need privileged containers: use a rootful engine without userns-remap or an authorization plugin that forbids --privileged"}
	}
	if !local {
		for i, line := range strings.Fields(string(out)) {
			if v, err := strconv.ParseInt(line, 10, 64); err == nil && i < len(sysctls) {
				values[sysctls[i]] = v
			}
		}
	}
	return Finding{Check: Privileged, Summary: fmt.Sprintf("a privileged container of the node image runs (%s, removed)", time.Since(start).Round(100*time.Millisecond))}
}

// clockFinding compares this host's clock with the engine's (asked and
// answered bracket the engine's reading) and with the node image's build.
func clockFinding(asked, answered, engine, imageBuilt time.Time, image string) Finding {
	f := Finding{Check: Clock, Summary: "this host's clock and the engine's agree"}
	if !imageBuilt.IsZero() && answered.Before(imageBuilt) {
		f.Status = Fail
		f.Summary = fmt.Sprintf("this host's clock (%s) is before %s was built (%s): certificates made now are not yet valid",
			answered.UTC().Format(time.RFC3339), image, imageBuilt.UTC().Format(time.RFC3339))
		f.Fix = "set the clock: sudo timedatectl set-ntp true"
		return f
	}
	if engine.IsZero() {
		f.Summary = "the engine did not report its clock"
		return f
	}
	var skew time.Duration
	switch {
	case engine.Before(asked):
		skew = asked.Sub(engine)
	case engine.After(answered):
		skew = engine.Sub(answered)
	}
	if skew > skewWarn {
		f.Status = Warn
		if skew > skewFail {
			f.Status = Fail
		}
		f.Summary = fmt.Sprintf("the engine host's clock is %s off this host's: certificates one makes may be refused by the other", skew.Round(time.Second))
		f.Fix = "synchronise both clocks: sudo timedatectl set-ntp true (on each host)"
	}
	return f
}
