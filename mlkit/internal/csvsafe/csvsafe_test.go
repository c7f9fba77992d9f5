package csvsafe

import (
	"bytes"
	"encoding/csv"
	"testing"
)

func TestCell(t *testing.T) {
	cases := map[string]string{
		"=HYPERLINK(\"http://x\",\"y\")": "'=HYPERLINK(\"http://x\",\"y\")",
		"+1+cmd|' /C calc'!A0":           "'+1+cmd|' /C calc'!A0",
		"-2+3":                           "'-2+3",
		"@SUM(A1:A2)":                    "'@SUM(A1:A2)",
		"\t=1":                           "'\t=1",
		"\r=1":                           "'\r=1",
		"-0.25":                          "-0.25",
		"+3":                             "+3",
		"0.9876":                         "0.9876",
		"photos/dog=1.jpg":               "photos/dog=1.jpg",
		"":                               "",
		"dog":                            "dog",
	}
	for in, want := range cases {
		if got := Cell(in); got != want {
			t.Errorf("Cell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriterNeutralisesEveryCell(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	if err := w.Write([]string{"file", "=1+1", "@x"}); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(rows) != 1 || rows[0][1] != "'=1+1" || rows[0][2] != "'@x" || rows[0][0] != "file" {
		t.Fatalf("rows %q, %v", rows, err)
	}
}
