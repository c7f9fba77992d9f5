package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The PyTorch the bench compares with: what `pip install torch torchvision` gives a user (MKL, oneDNN,
// AVX-512 kernels), pinned so that runs compare.
const (
	torchPin       = "torch==2.15.0"
	torchvisionPin = "torchvision==0.29.2"
	// benchVenv is the virtual environment the bench creates for them, relative to the repository root
	// (git-ignored: .cache/).
	benchVenv = ".cache/bench-venv"
)

// torchInfo says which torch ran, as bench/torch_bench.py --info prints it.
type torchInfo struct {
	Torch         string   `json:"torch"`
	Torchvision   string   `json:"torchvision"`
	CPUCapability string   `json:"cpu_capability"`
	Config        []string `json:"config"`
	Error         string   `json:"error,omitempty"`
}

// wantVersions reports whether info is the pinned torch and torchvision (local version suffixes such as
// "+cu132" or "+cpu" aside).
func (ti torchInfo) wantVersions() bool {
	base := func(v string) string { v, _, _ = strings.Cut(v, "+"); return v }
	return "torch=="+base(ti.Torch) == torchPin && "torchvision=="+base(ti.Torchvision) == torchvisionPin
}

// readTorchInfo runs torch_bench.py --info with python.
func readTorchInfo(python string) (torchInfo, error) {
	var ti torchInfo
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, filepath.Join(sourceDir(), "torch_bench.py"), "--info")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return ti, fmt.Errorf("running %s torch_bench.py --info: %w: %s", python, err, lastLines(stderr.String(), 3))
	}
	line := strings.TrimSpace(stdout.String())
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	if err := json.Unmarshal([]byte(line), &ti); err != nil {
		return ti, fmt.Errorf("reading %s torch_bench.py --info output %q: %w", python, line, err)
	}
	if ti.Error != "" {
		return ti, fmt.Errorf("%s cannot import torch and torchvision: %s", python, ti.Error)
	}
	return ti, nil
}

// benchPython returns the Python to measure PyTorch with: flagPython unless it is "auto"; for "auto" the
// bench's own virtual environment under the repository root, created (python3 -m venv) and filled (pip
// install of the pinned torch and torchvision, a few GB) when missing or holding other versions.
func benchPython(flagValue string) (string, torchInfo, error) {
	if flagValue != "auto" {
		ti, err := readTorchInfo(flagValue)
		return flagValue, ti, err
	}
	if _, err := os.Stat(filepath.Join("bench", "torch_bench.py")); err != nil {
		return "", torchInfo{}, errors.New("-python auto needs the repository root as the working directory " +
			"(it keeps PyTorch in " + benchVenv + "); run `make bench` or `go run ./bench` there, or give -python")
	}
	venv, err := filepath.Abs(benchVenv)
	if err != nil {
		return "", torchInfo{}, fmt.Errorf("locating %s: %w", benchVenv, err)
	}
	python := filepath.Join(venv, "bin", "python")
	if _, err := os.Stat(python); err == nil {
		if ti, err := readTorchInfo(python); err == nil && ti.wantVersions() {
			return python, ti, nil
		} else if err == nil {
			fmt.Fprintf(os.Stderr, "bench: %s has torch %s / torchvision %s; installing %s %s\n", venv, ti.Torch, ti.Torchvision, torchPin, torchvisionPin)
		} else {
			fmt.Fprintf(os.Stderr, "bench: %s is not usable (%v); reinstalling\n", venv, err)
		}
	} else {
		base := *flagVenvPython
		fmt.Fprintf(os.Stderr, "bench: creating %s with %s -m venv\n", venv, base)
		if err := runLogged(base, "-m", "venv", venv); err != nil {
			return "", torchInfo{}, fmt.Errorf("creating the PyTorch virtual environment %s (Debian needs python3-venv): %w", venv, err)
		}
	}
	fmt.Fprintf(os.Stderr, "bench: pip install %s %s into %s (about 5 GB with the CUDA wheels PyPI serves; it runs on the CPU)\n",
		torchPin, torchvisionPin, venv)
	if err := runLogged(python, "-m", "pip", "install", "--disable-pip-version-check", torchPin, torchvisionPin); err != nil {
		return "", torchInfo{}, fmt.Errorf("installing %s %s into %s: %w", torchPin, torchvisionPin, venv, err)
	}
	ti, err := readTorchInfo(python)
	if err != nil {
		return "", ti, err
	}
	if !ti.wantVersions() {
		return "", ti, fmt.Errorf("%s has torch %s / torchvision %s after installing %s %s", venv, ti.Torch, ti.Torchvision, torchPin, torchvisionPin)
	}
	return python, ti, nil
}

// runLogged runs a command with its output on the bench's stderr.
func runLogged(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// describe is the RESULTS.md line saying which PyTorch ran.
func (ti torchInfo) describe(python string) string {
	return fmt.Sprintf("PyTorch: torch %s, torchvision %s (`%s`), CPU capability %s; built with: %s.",
		ti.Torch, ti.Torchvision, python, ti.CPUCapability, strings.Join(ti.Config, "; "))
}
