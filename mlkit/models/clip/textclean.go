package clip

import (
	"html"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// CleanText applies the text clean-up of OpenAI's CLIP tokenizer before BPE: basic_clean
// (ftfy.fix_text, then html.unescape twice, strip), whitespace_clean (every run of white space becomes one
// space, strip), and Python's str.lower().
//
// ftfy is reproduced for everything its default configuration does, with a simpler fix_encoding: HTML entities are
// unescaped to a fixed point when the text has no '<' (ftfy's "auto" rule), C1 controls become their
// Windows-1252 characters, Latin ligatures are split, full-width/half-width forms are narrowed (NFKC of
// U+FF01..U+FFEF, U+3000 to a space), curly quotes are uncurled, line breaks unified, terminal escape
// sequences and control characters removed, and the text is NFC-normalised. Mojibake is repaired only when
// the whole text, re-encoded as Latin-1 or Windows-1252, is valid UTF-8 with at least one multi-byte
// character ("cafÃ©" -> "café"); ftfy's statistical repair of partly broken text and of other code pages
// (MacRoman, cp437, Windows-1250/1251...) is not reproduced. Python's lower() is matched for the
// two full case mappings Go's unicode.ToLower lacks: 'İ' -> "i̇" and the final sigma rule.
func CleanText(text string) string {
	text = ftfyFix(text)
	text = html.UnescapeString(html.UnescapeString(text))
	text = strings.TrimFunc(text, unicode.IsSpace)
	text = whitespaceClean(text)
	return pyLower(text)
}

func whitespaceClean(text string) string {
	var b strings.Builder
	b.Grow(len(text))
	inSpace := false
	for _, r := range text {
		if unicode.IsSpace(r) {
			if !inSpace {
				b.WriteByte(' ')
			}
			inSpace = true
			continue
		}
		inSpace = false
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

var terminalEscapeRE = regexp.MustCompile(`\x1b\[((?:\d|;)*)([a-zA-Z])`)

// ftfyFix mirrors ftfy.fix_text with the default TextFixerConfig, less fix_encoding (see CleanText).
func ftfyFix(text string) string {
	unescape := !strings.Contains(text, "<")
	for range 16 { // ftfy repeats its fixes until nothing changes.
		orig := text
		if unescape {
			text = ftfyUnescapeHTML(text)
		}
		text = fixWholeMojibake(text)
		text = mapRunes(text, fixRune)
		text = strings.NewReplacer("\r\n", "\n", "\r", "\n", "\u2028", "\n", "\u2029", "\n", "\u0085", "\n").Replace(text)
		text = terminalEscapeRE.ReplaceAllString(text, "")
		text = mapRunes(text, removeControl)
		text = norm.NFC.String(text)
		if text == orig {
			break
		}
	}
	return text
}

var htmlEntityRE = regexp.MustCompile(`&#?[0-9A-Za-z]{1,24};`)

// ftfyUnescapeHTML replaces only complete entities ending in ';' (ftfy's unescape_html); an all-caps named
// entity such as "&EACUTE;" gives the upper-case character, as in ftfy.
func ftfyUnescapeHTML(text string) string {
	if !strings.Contains(text, "&") {
		return text
	}
	return htmlEntityRE.ReplaceAllStringFunc(text, func(ent string) string {
		u := html.UnescapeString(ent)
		if u != ent {
			if strings.Contains(u, ";") {
				return ent
			}
			return u
		}
		if ent[1] != '#' && ent == strings.ToUpper(ent) {
			if low := html.UnescapeString(strings.ToLower(ent)); low != strings.ToLower(ent) {
				return strings.ToUpper(low)
			}
		}
		return ent
	})
}

func mapRunes(text string, f func(r rune, b *strings.Builder)) string {
	var b strings.Builder
	b.Grow(len(text))
	for _, r := range text {
		f(r, &b)
	}
	return b.String()
}

var ligatures = map[rune]string{
	'Ĳ': "IJ", 'ĳ': "ij", 'ŉ': "ʼn", 'Ǳ': "DZ", 'ǲ': "Dz", 'ǳ': "dz", 'Ǆ': "DŽ", 'ǅ': "Dž", 'ǆ': "dž",
	'Ǉ': "LJ", 'ǈ': "Lj", 'ǉ': "lj", 'Ǌ': "NJ", 'ǋ': "Nj", 'ǌ': "nj",
	'ﬀ': "ff", 'ﬁ': "fi", 'ﬂ': "fl", 'ﬃ': "ffi", 'ﬄ': "ffl", 'ﬅ': "ſt", 'ﬆ': "st",
}

// cp1252C1 maps C1 control characters to the Windows-1252 characters they stand for (ftfy fix_c1_controls).
var cp1252C1 = map[rune]rune{
	0x80: '€', 0x82: '‚', 0x83: 'ƒ', 0x84: '„', 0x85: '…', 0x86: '†', 0x87: '‡', 0x88: 'ˆ', 0x89: '‰',
	0x8A: 'Š', 0x8B: '‹', 0x8C: 'Œ', 0x8E: 'Ž', 0x91: '‘', 0x92: '’', 0x93: '“', 0x94: '”', 0x95: '•',
	0x96: '–', 0x97: '—', 0x98: '˜', 0x99: '™', 0x9A: 'š', 0x9B: '›', 0x9C: 'œ', 0x9E: 'ž', 0x9F: 'Ÿ',
}

// fixRune applies, per character, ftfy's fix_c1_controls, fix_latin_ligatures, fix_character_width and
// uncurl_quotes, in that order.
func fixRune(r rune, b *strings.Builder) {
	if r >= 0x80 && r <= 0x9f {
		if c, ok := cp1252C1[r]; ok {
			r = c
		}
	}
	if s, ok := ligatures[r]; ok {
		b.WriteString(s)
		return
	}
	if r == 0x3000 {
		r = ' '
	} else if r >= 0xFF01 && r <= 0xFFEF {
		if n := []rune(norm.NFKC.String(string(r))); len(n) == 1 {
			r = n[0]
		}
	}
	switch {
	case r == 0x02BC || (r >= 0x2018 && r <= 0x201B):
		r = '\''
	case r >= 0x201C && r <= 0x201F:
		r = '"'
	}
	b.WriteRune(r)
}

// removeControl drops the characters ftfy's remove_control_chars removes.
func removeControl(r rune, b *strings.Builder) {
	switch {
	case r <= 0x08, r == 0x0B, r >= 0x0E && r <= 0x1F, r == 0x7F, r >= 0x206A && r <= 0x206F, r == 0xFEFF,
		r >= 0xFFF9 && r <= 0xFFFC:
		return
	}
	b.WriteRune(r)
}

// pyLower is Python's str.lower(): unicode.ToLower plus the full mapping of 'İ' and the final-sigma rule.
func pyLower(text string) string {
	rs := []rune(text)
	var b strings.Builder
	b.Grow(len(text))
	for i, r := range rs {
		switch r {
		case 'İ':
			b.WriteString("i\u0307")
		case 'Σ':
			if finalSigma(rs, i) {
				b.WriteRune('ς')
			} else {
				b.WriteRune('σ')
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

func isCased(r rune) bool {
	return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r)
}

func isCaseIgnorable(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk) || r == '\'' || r == '.' || r == ':' || r == '^' || r == '`' || r == 0x2019
}

// finalSigma reports whether the capital sigma at i ends a word (Unicode's Final_Sigma condition).
func finalSigma(rs []rune, i int) bool {
	j := i - 1
	for j >= 0 && isCaseIgnorable(rs[j]) {
		j--
	}
	if j < 0 || !isCased(rs[j]) {
		return false
	}
	k := i + 1
	for k < len(rs) && isCaseIgnorable(rs[k]) {
		k++
	}
	return k >= len(rs) || !isCased(rs[k])
}

// cp1252Byte maps the Windows-1252 characters of bytes 0x80..0x9F back to their byte.
var cp1252Byte = func() map[rune]byte {
	m := make(map[rune]byte, len(cp1252C1))
	for b, r := range cp1252C1 {
		m[r] = byte(b)
	}
	return m
}()

// fixWholeMojibake undoes UTF-8 text that was decoded as Latin-1 or (sloppy) Windows-1252, when the whole
// text re-encodes to valid UTF-8 holding at least one multi-byte character.
func fixWholeMojibake(text string) string {
	hasHigh := false
	for _, r := range text {
		if r >= 0x80 {
			hasHigh = true
			break
		}
	}
	if !hasHigh {
		return text
	}
	for _, sloppy := range []bool{false, true} {
		buf := make([]byte, 0, len(text))
		ok := true
		for _, r := range text {
			switch {
			case r < 0x80:
				buf = append(buf, byte(r))
			case sloppy && cp1252Byte[r] != 0:
				buf = append(buf, cp1252Byte[r])
			case r < 0x100 && (!sloppy || r > 0x9f || cp1252C1[r] == 0):
				buf = append(buf, byte(r))
			default:
				ok = false
			}
			if !ok {
				break
			}
		}
		if ok && utf8.Valid(buf) && utf8.RuneCount(buf) < len(buf) {
			return string(buf)
		}
	}
	return text
}
