package kernel

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readFixture(t *testing.T, name string) *Notebook {
	t.Helper()
	nb, err := ReadNotebook(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return nb
}

func TestScanFixtures(t *testing.T) {
	for _, tc := range []struct {
		file    string
		kinds   []ProblemKind
		cells   []int
		excerpt string // must appear in the first problem's excerpt
	}{
		{file: "clean.ipynb"},
		{file: "panic.ipynb", kinds: []ProblemKind{ProblemPanic}, cells: []int{1}, excerpt: "panic: deliberate failure"},
		{file: "exit_status.ipynb", kinds: []ProblemKind{ProblemExitStatus}, cells: []int{1}, excerpt: "exit status 2"},
		{file: "error_output.ipynb", kinds: []ProblemKind{ProblemError}, cells: []int{1}, excerpt: "undefined: undefinedThing"},
		{file: "unfinished.ipynb", kinds: []ProblemKind{ProblemNotFinished}, cells: []int{1}, excerpt: "never finished"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			problems := Scan(readFixture(t, tc.file))
			if len(problems) != len(tc.kinds) {
				t.Fatalf("got %d problems, want %d: %v", len(problems), len(tc.kinds), problems)
			}
			for i, p := range problems {
				if p.Kind != tc.kinds[i] || p.Cell != tc.cells[i] {
					t.Errorf("problem %d: got %s in cell %d, want %s in cell %d", i, p.Kind, p.Cell, tc.kinds[i], tc.cells[i])
				}
			}
			if len(problems) == 0 {
				return
			}
			joined := strings.Join(problems[0].Excerpt, "\n")
			if !strings.Contains(joined, tc.excerpt) {
				t.Errorf("excerpt %q does not contain %q", joined, tc.excerpt)
			}
			if strings.Contains(joined, "\x1b[") {
				t.Errorf("excerpt keeps ANSI escapes: %q", joined)
			}
			if len(problems[0].Excerpt) > ExcerptLines {
				t.Errorf("excerpt has %d lines, want at most %d", len(problems[0].Excerpt), ExcerptLines)
			}
			if s := problems[0].String(); !strings.Contains(s, "cell 1 (In [2])") {
				t.Errorf("String() = %q, want it to name cell 1 (In [2])", s)
			}
		})
	}
}

func TestScanStderrSplitAcrossOutputs(t *testing.T) {
	nb, err := ParseNotebook([]byte(`{"nbformat": 4, "cells": [{"cell_type": "code", "execution_count": 1,
		"metadata": {}, "source": "", "outputs": [
		{"output_type": "stream", "name": "stderr", "text": "goroutine 7 [runn"},
		{"output_type": "stream", "name": "stdout", "text": "ok\n"},
		{"output_type": "stream", "name": "stderr", "text": "ing]:\nmain.f()\n"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	problems := Scan(nb)
	if len(problems) != 1 || problems[0].Kind != ProblemGoroutineDump {
		t.Fatalf("got %v, want one goroutine dump", problems)
	}
}

func TestParseNotebookRejects(t *testing.T) {
	for name, data := range map[string]string{
		"not json":   `{"cells": [`,
		"nbformat 3": `{"nbformat": 3, "worksheets": []}`,
		"bad source": `{"nbformat": 4, "cells": [{"cell_type": "code", "source": 3}]}`,
	} {
		if _, err := ParseNotebook([]byte(data)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestTimings(t *testing.T) {
	timings := Timings(readFixture(t, "clean.ipynb"))
	if len(timings) != 2 {
		t.Fatalf("got %d timings, want 2 (the unexecuted cell has none): %+v", len(timings), timings)
	}
	if timings[0].Cell != 1 || timings[0].Duration != time.Second || !timings[0].Finished {
		t.Errorf("cell 1 timing = %+v, want 1s finished", timings[0])
	}
	if timings[1].Duration != 2250*time.Millisecond || timings[1].FirstLine != `import "github.com/visionnb/visionnb/mlkit/assets"` {
		t.Errorf("cell 2 timing = %+v, want 2.25s and the import line", timings[1])
	}
	table := FormatTimings(timings)
	if !strings.Contains(table, "3.25") || !strings.Contains(table, "(2 cells)") {
		t.Errorf("table lacks the 3.25 s total:\n%s", table)
	}

	unfinished := Timings(readFixture(t, "unfinished.ipynb"))
	if len(unfinished) != 2 || unfinished[1].Finished || unfinished[1].FirstLine != "select {}" {
		t.Errorf("unfinished timings = %+v, want the second unfinished with first line after %%%%", unfinished)
	}
	if !strings.Contains(FormatTimings(unfinished), "unfinished") {
		t.Errorf("table does not mark the unfinished cell:\n%s", FormatTimings(unfinished))
	}
}

func TestShebangPython(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := writeFile(p, content); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if got := shebangPython(write("a", "#!/usr/bin/python3\nimport sys\n")); got != "/usr/bin/python3" {
		t.Errorf("plain shebang: got %q", got)
	}
	if got := shebangPython(write("b", "#!/bin/sh\necho\n")); got != "" {
		t.Errorf("shell shebang: got %q, want empty", got)
	}
	if got := shebangPython(write("c", "no shebang\n")); got != "" {
		t.Errorf("no shebang: got %q, want empty", got)
	}
}
