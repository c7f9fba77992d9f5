// Package csvsafe writes CSV files that are safe to open in a spreadsheet: every cell that a spreadsheet
// would run as a formula (CSV injection) is neutralised, following the OWASP rule. Every CSV the project
// writes (predictions, dataset exports) goes through it, since file names, labels and sources are chosen
// by whoever supplied the images.
package csvsafe

import (
	"encoding/csv"
	"io"
	"strconv"
)

// Cell returns s made inert for spreadsheets: when it starts with '=', '+', '-', '@', a tab or a carriage
// return it gets a leading single quote, which spreadsheets show as text and never evaluate. A plain number
// (e.g. "-0.5", which parses with strconv.ParseFloat) is left as it is, so numeric columns stay numeric.
func Cell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '@', '\t', '\r':
		return "'" + s
	case '+', '-':
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return s
		}
		return "'" + s
	}
	return s
}

// Writer is a csv.Writer whose Write neutralises every cell with Cell.
type Writer struct {
	w   *csv.Writer
	buf []string
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: csv.NewWriter(w)} }

// Write writes one record, each cell passed through Cell.
func (w *Writer) Write(record []string) error {
	w.buf = w.buf[:0]
	for _, s := range record {
		w.buf = append(w.buf, Cell(s))
	}
	return w.w.Write(w.buf)
}

// Flush writes any buffered data to the underlying writer.
func (w *Writer) Flush() { w.w.Flush() }

// Error reports any error of a previous Write or Flush.
func (w *Writer) Error() error { return w.w.Error() }
