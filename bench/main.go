// Command bench measures, in one run, mlkit's training and inference speed on every available backend
// (XLA CPU/CUDA when their plugins are installed, mlkit's pure-Go backend always) and PyTorch's on the same
// shapes (bench/torch_bench.py), and writes a Markdown table to bench/RESULTS.md.
//
// The PyTorch is what a user would `pip install`: torch 2.15.0 and torchvision 0.29.2 from PyPI (MKL,
// oneDNN, AVX-512 kernels), which the bench installs itself, when missing, into a virtual environment under
// the repository (.cache/bench-venv, git-ignored; about 5 GB with the CUDA wheels PyPI serves; it runs on
// the CPU). -python points at another Python with torch and torchvision instead; RESULTS.md's header says
// which torch ran (versions, BLAS, oneDNN, CPU capability) and the load average.
//
// Workloads: ResNet50 and EfficientNet-B0 training steps (batch 8, Adam, 5 classes) at 224 and 64 px,
// inference at batch 32 and 224 px, and a dense head (1280-d embeddings -> 5 classes, batch 256) training
// step; scaling rows (resnet50_train_64_dev2, _dev4) split the ResNet50 64 px step over 2 and 4 XLA
// devices (on the CPU plugin, host devices that share the cores: correctness and overhead, not speed-up).
// Each (backend, workload) runs in its own child process, so its peak RSS is its own and a crash or
// timeout only loses that cell.
//
//	go run ./bench            # everything (long: ResNet50 training at 224 px on pure Go takes minutes a step)
//	go run ./bench -quick     # 64 px and the dense head only, 2 timed steps
//	go run ./bench -quick -only dense_head_train -backends mlkitgo
//
// Benchmarks are not tests: nothing here asserts.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/visionnb/visionnb/mlkit/backend"
)

var (
	flagQuick      = flag.Bool("quick", false, "short run: 64 px workloads and the dense head only, 2 timed steps")
	flagSteps      = flag.Int("steps", 3, "timed steps per workload, at least (after one untimed warm-up step)")
	flagMinTime    = flag.Duration("min-time", 2*time.Second, "time steps until they took at least this long (and -steps of them)")
	flagBackends   = flag.String("backends", "", "comma-separated backends to measure (default: every available one, see mlkit/backend.Available)")
	flagOnly       = flag.String("only", "", "comma-separated workload names to run (default: all for the mode)")
	flagPython     = flag.String("python", "auto", "Python with torch and torchvision for the reference; \"auto\": the bench's own venv ("+benchVenv+", pip "+torchPin+" "+torchvisionPin+", installed when missing); empty skips PyTorch")
	flagVenvPython = flag.String("venv-python", defaultVenvPython(), "Python that creates the bench's venv (-python auto)")
	flagTimeout    = flag.Duration("timeout", 15*time.Minute, "limit for one (backend, workload) measurement")
	flagOut        = flag.String("out", "bench/RESULTS.md", "Markdown file to write")
	flagThreads    = flag.Int("threads", runtime.NumCPU(), "threads for PyTorch (and GOMAXPROCS for mlkit)")

	// Child-process mode.
	flagWorker   = flag.String("worker", "", "internal: run one workload (by name) and print a JSON result")
	flagWBackend = flag.String("worker-backend", "", "internal: backend of the worker")
)

// workload describes one measured shape.
type workload struct {
	Name  string // e.g. "resnet50_train_224"
	Model string // "resnet50", "efficientnet_b0" or "dense_head"
	Train bool
	Batch int
	Size  int // image size in pixels (0 for the dense head)
	Unit  string
	// Devices > 1 splits each batch over that many devices (data-parallel, XLA only; no PyTorch run).
	Devices int
}

var workloads = []workload{
	{Name: "resnet50_train_64", Model: "resnet50", Train: true, Batch: 8, Size: 64, Unit: "img/s"},
	{Name: "efficientnet_b0_train_64", Model: "efficientnet_b0", Train: true, Batch: 8, Size: 64, Unit: "img/s"},
	{Name: "dense_head_train", Model: "dense_head", Train: true, Batch: 256, Unit: "ex/s"},
	// Scaling rows: the resnet50_train_64 step split over 2 and 4 devices. On XLA's CPU plugin the "devices"
	// are host devices sharing the same cores, so these rows show that data-parallel training runs and what
	// its partitioning and all-reduces cost, not a speed-up; on several GPUs they measure the scaling.
	{Name: "resnet50_train_64_dev2", Model: "resnet50", Train: true, Batch: 8, Size: 64, Unit: "img/s", Devices: 2},
	{Name: "resnet50_train_64_dev4", Model: "resnet50", Train: true, Batch: 8, Size: 64, Unit: "img/s", Devices: 4},
	{Name: "resnet50_train_224", Model: "resnet50", Train: true, Batch: 8, Size: 224, Unit: "img/s"},
	{Name: "efficientnet_b0_train_224", Model: "efficientnet_b0", Train: true, Batch: 8, Size: 224, Unit: "img/s"},
	{Name: "resnet50_infer_224", Model: "resnet50", Batch: 32, Size: 224, Unit: "img/s"},
	{Name: "efficientnet_b0_infer_224", Model: "efficientnet_b0", Batch: 32, Size: 224, Unit: "img/s"},
}

// result is one measurement, as printed by a worker (Go or Python) in one JSON line.
type result struct {
	Workload   string  `json:"workload"`
	Backend    string  `json:"backend"`
	PerSecond  float64 `json:"per_second"`
	FirstStepS float64 `json:"first_step_s"`
	StepS      float64 `json:"step_s"`
	Steps      int     `json:"steps"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`
	// RerunFirstStepS is the first step of a second process on the same compile cache (XLA only: the
	// notebook case, a cell run again or a graph compiled by an earlier cell); 0 when not measured.
	RerunFirstStepS float64 `json:"rerun_first_step_s,omitempty"`
	Error           string  `json:"error,omitempty"`
}

func main() {
	flag.Parse()
	if *flagWorker != "" {
		runWorker(*flagWorker, *flagWBackend)
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	steps := *flagSteps
	if *flagQuick {
		steps = min(steps, 2)
	}
	var selected []workload
	for _, w := range workloads {
		if *flagQuick && w.Size != 0 && w.Size != 64 {
			continue
		}
		if *flagOnly != "" && !containsWord(*flagOnly, w.Name) {
			continue
		}
		selected = append(selected, w)
	}
	if len(selected) == 0 {
		var names []string
		for _, w := range workloads {
			names = append(names, w.Name)
		}
		return fmt.Errorf("no workload selected (-only %q, -quick %v); the workloads are %s", *flagOnly, *flagQuick, strings.Join(names, ", "))
	}
	bks := backend.Available()
	if *flagBackends != "" {
		bks = strings.Split(*flagBackends, ",")
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this executable to run workers: %w", err)
	}
	python, torchDesc := *flagPython, ""
	if python != "" {
		p, ti, err := benchPython(python)
		if err != nil {
			return fmt.Errorf("preparing PyTorch (-python %q): %w", *flagPython, err)
		}
		python, torchDesc = p, ti.describe(p)
		fmt.Fprintf(os.Stderr, "bench: %s\n", torchDesc)
	}
	load := loadAverage()
	start := time.Now()
	var results []result
	for _, w := range selected {
		for _, b := range bks {
			if w.Devices > 1 && !strings.HasPrefix(b, "xla") {
				continue // Data-parallel training needs XLA.
			}
			fmt.Fprintf(os.Stderr, "bench: %s on %s...\n", w.Name, b)
			args := []string{"-worker", w.Name, "-worker-backend", b, "-steps", fmt.Sprint(steps), "-min-time", flagMinTime.String()}
			var env []string
			if strings.HasPrefix(b, "xla") {
				// An empty compile cache for the first process (its first step compiles), the same one for a
				// second process (its first step loads what the first compiled).
				cacheDir, err := os.MkdirTemp("", "mlkit-bench-xla-cache-")
				if err != nil {
					return fmt.Errorf("compile cache folder: %w", err)
				}
				env = []string{backend.CompileCacheEnvVar + "=" + cacheDir}
				defer os.RemoveAll(cacheDir) // Also removed below, as soon as measured: entries are 30-60 MB.
			}
			r := runChild(w, b, self, args, env)
			if env != nil && r.Error == "" {
				if again := runChild(w, b, self, append(args[:len(args):len(args)], "-steps", "1", "-min-time", "0s"), env); again.Error == "" {
					r.RerunFirstStepS = again.FirstStepS
				} else {
					fmt.Fprintf(os.Stderr, "bench:   re-run on the same compile cache failed: %s\n", firstLine(again.Error))
				}
			}
			if env != nil {
				_ = os.RemoveAll(strings.TrimPrefix(env[0], backend.CompileCacheEnvVar+"="))
			}
			results = append(results, r)
			fmt.Fprintf(os.Stderr, "bench:   %s\n", r.summary(w))
		}
		if python != "" && w.Devices <= 1 {
			script := filepath.Join(sourceDir(), "torch_bench.py")
			fmt.Fprintf(os.Stderr, "bench: %s on pytorch...\n", w.Name)
			r := runChild(w, "pytorch", python, []string{script, "--workload", w.Name, "--model", w.Model,
				"--batch", fmt.Sprint(w.Batch), "--size", fmt.Sprint(w.Size), "--steps", fmt.Sprint(steps),
				"--min-time", fmt.Sprint(flagMinTime.Seconds()),
				"--threads", fmt.Sprint(*flagThreads), fmt.Sprintf("--train=%v", w.Train)}, nil)
			results = append(results, r)
			fmt.Fprintf(os.Stderr, "bench:   %s\n", r.summary(w))
		}
	}
	md := markdown(selected, results, steps, load, loadAverage(), torchDesc, time.Since(start))
	fmt.Print(md)
	if *flagOut != "" {
		if err := os.WriteFile(*flagOut, []byte(md), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", *flagOut, err)
		}
		fmt.Fprintf(os.Stderr, "bench: wrote %s\n", *flagOut)
	}
	return nil
}

func (r result) summary(w workload) string {
	if r.Error != "" {
		return "error: " + firstLine(r.Error)
	}
	rerun := ""
	if r.RerunFirstStepS > 0 {
		rerun = fmt.Sprintf(", re-run first step %.1f s", r.RerunFirstStepS)
	}
	return fmt.Sprintf("%.2f %s (first step %.1f s%s, peak RSS %.0f MB)", r.PerSecond, w.Unit, r.FirstStepS, rerun, r.PeakRSSMB)
}

// runChild runs one measurement in a child process and reads its JSON line; the peak RSS comes from the
// child's rusage.
func runChild(w workload, backendName, program string, args []string, env []string) result {
	ctx, cancel := context.WithTimeout(context.Background(), *flagTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, fmt.Sprintf("GOMAXPROCS=%d", *flagThreads))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{Workload: w.Name, Backend: backendName}
	for line := range strings.SplitSeq(stdout.String(), "\n") {
		if strings.HasPrefix(line, "{") {
			if jerr := json.Unmarshal([]byte(line), &r); jerr != nil {
				r.Error = fmt.Sprintf("bad worker output %q: %v", line, jerr)
			}
		}
	}
	r.Workload, r.Backend = w.Name, backendName
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.PeakRSSMB = float64(ru.Maxrss) / 1024 // Linux reports KiB.
		}
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		r.Error = fmt.Sprintf("timed out after %s", *flagTimeout)
	case err != nil && r.Error == "":
		r.Error = fmt.Sprintf("%v: %s", err, lastLines(stderr.String(), 3))
	case r.Error == "" && r.PerSecond == 0:
		r.Error = "worker printed no result: " + lastLines(stderr.String(), 3)
	}
	return r
}

func markdown(ws []workload, rs []result, steps int, load, loadEnd, torchDesc string, took time.Duration) string {
	var sb strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&sb, "# mlkit benchmark results\n\n")
	fmt.Fprintf(&sb, "Generated by `go run ./bench%s` on %s (%s, %s, %d CPUs, %d threads; load average at start %s, at the end %s), %s, in %s.\n",
		commandArgs(), time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		host, cpuModel(), runtime.NumCPU(), *flagThreads, load, loadEnd, runtime.Version(), took.Round(time.Second))
	if torchDesc != "" {
		fmt.Fprintf(&sb, "%s\n", torchDesc)
	} else {
		sb.WriteString("PyTorch: not measured (-python \"\").\n")
	}
	fmt.Fprintf(&sb, "Float32; at least %d timed steps and %s of them after one warm-up step (its time, graph build and compilation included, is "+
		"\"first step\"; XLA's starts on an empty compile cache). \"re-run first step\" is a second process's first step on the compile cache the first "+
		"one filled (mlkit/backend.CompileCacheEnvVar): what a re-run notebook cell pays. Training steps use Adam on 5 classes. Peak RSS is the whole process's. Each cell ran in its own process. "+
		"\"vs PyTorch\" is the throughput ratio to PyTorch (CPU, the torch above) on the same shapes, in this run (higher is better). "+
		"Rows ending in _devN split each batch over N devices (mlkit's Devices(N): batch sharded, weights replicated, gradients all-reduced by XLA); "+
		"their ratio is to the same backend's one-device row. On the CPU plugin the N host devices share the same cores: "+
		"those rows show correctness and overhead, not speed-up.\n\n", steps, *flagMinTime)
	sb.WriteString("| workload | backend | throughput | vs PyTorch | first step (s) | re-run first step (s) | peak RSS (MB) |\n")
	sb.WriteString("|---|---|---:|---:|---:|---:|---:|\n")
	for _, w := range ws {
		var torch float64
		for _, r := range rs {
			if r.Workload == w.Name && r.Backend == "pytorch" && r.Error == "" {
				torch = r.PerSecond
			}
		}
		base := "" // the one-device workload a _devN row compares with
		if w.Devices > 1 {
			base = strings.TrimSuffix(w.Name, fmt.Sprintf("_dev%d", w.Devices))
		}
		for _, r := range rs {
			if r.Workload != w.Name {
				continue
			}
			if r.Error != "" {
				fmt.Fprintf(&sb, "| %s | %s | error: %s | | | | %.0f |\n", w.Name, r.Backend, mdEscape(firstLine(r.Error)), r.PeakRSSMB)
				continue
			}
			ratio := ""
			if torch > 0 {
				ratio = fmt.Sprintf("%.2fx", r.PerSecond/torch)
			}
			for _, one := range rs {
				if base != "" && one.Workload == base && one.Backend == r.Backend && one.Error == "" && one.PerSecond > 0 {
					ratio = fmt.Sprintf("%.2fx of 1 device", r.PerSecond/one.PerSecond)
				}
			}
			rerun := "" // measured for XLA only; the other backends compile nothing
			if r.RerunFirstStepS > 0 {
				rerun = fmt.Sprintf("%.1f", r.RerunFirstStepS)
			}
			fmt.Fprintf(&sb, "| %s | %s | %.2f %s | %s | %.1f | %s | %.0f |\n", w.Name, r.Backend, r.PerSecond, w.Unit, ratio, r.FirstStepS, rerun, r.PeakRSSMB)
		}
	}
	return sb.String()
}

func containsWord(list, w string) bool {
	for _, x := range strings.Split(list, ",") {
		if strings.TrimSpace(x) == w {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}

func lastLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" {
			lines = append(lines, t)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// commandArgs is the bench's command-line arguments, each after a space (quoted when not plain).
func commandArgs() string {
	var sb strings.Builder
	for _, a := range os.Args[1:] {
		if a == "" || strings.ContainsAny(a, " |`'\"$") {
			a = fmt.Sprintf("%q", a)
		}
		sb.WriteString(" " + a)
	}
	return sb.String()
}

// defaultVenvPython is the Python that creates the bench's venv: Debian's /usr/bin/python3 when present.
func defaultVenvPython() string {
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return "python3"
}

// cpuModel is /proc/cpuinfo's first "model name" and whether the CPU has AVX-512F, or "unknown CPU".
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	model, avx512 := "unknown CPU", false
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name":
			if model == "unknown CPU" {
				model = strings.TrimSpace(v)
			}
		case "flags":
			avx512 = avx512 || strings.Contains(" "+v+" ", " avx512f ")
		}
	}
	if avx512 {
		model += " with AVX-512"
	}
	return model
}

// sourceDir is the bench/ folder: next to this file when run from the repository root (go run ./bench).
func sourceDir() string {
	if _, err := os.Stat("bench/torch_bench.py"); err == nil {
		return "bench"
	}
	exe, _ := os.Executable()
	return filepath.Dir(exe)
}
