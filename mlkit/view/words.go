package view

import (
	"strconv"
	"strings"
)

// Count writes a count with its noun in the right number: Count(1, "image") is "1 image",
// Count(3, "image") "3 images", Count(2, "class") "2 classes", Count(0, "entry") "0 entries". noun is the
// singular; a multi-word noun ("near-duplicate pair") takes the plural on its last word.
func Count(n int, noun string) string {
	return strconv.Itoa(n) + " " + Noun(n, noun)
}

// Noun is noun in the number that n calls for (see Count), without the number.
func Noun(n int, noun string) string {
	if n == 1 || n == -1 || noun == "" {
		return noun
	}
	return pluralize(noun)
}

// pluralize applies English's regular plural to the last letters of a singular noun.
func pluralize(noun string) string {
	switch {
	case strings.HasSuffix(noun, "epoch"), strings.HasSuffix(noun, "stomach"), strings.HasSuffix(noun, "monarch"):
		return noun + "s" // "ch" said as "k"
	case strings.HasSuffix(noun, "s"), strings.HasSuffix(noun, "x"), strings.HasSuffix(noun, "z"),
		strings.HasSuffix(noun, "ch"), strings.HasSuffix(noun, "sh"):
		return noun + "es"
	case strings.HasSuffix(noun, "y") && len(noun) > 1 && !strings.ContainsRune("aeiou", rune(noun[len(noun)-2])):
		return noun[:len(noun)-1] + "ies"
	}
	return noun + "s"
}
