package clip

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// Tokenizer constants of CLIP's BPE vocabulary.
const (
	// ContextLength is the number of token positions of CLIP's text tower.
	ContextLength = 77
	// VocabSize is the number of tokens of the OpenAI BPE vocabulary.
	VocabSize = 49408
	// StartOfText is the id of "<|startoftext|>".
	StartOfText = 49406
	// EndOfText is the id of "<|endoftext|>".
	EndOfText = 49407
	// BPEVocabFile is the OpenAI vocabulary file name.
	BPEVocabFile = "bpe_simple_vocab_16e6.txt.gz"
	// TokenizerJSONFile is the Hugging Face tokenizers file name.
	TokenizerJSONFile = "tokenizer.json"
)

// numMerges is how many merges of bpe_simple_vocab_16e6.txt the reference uses: 49152-256-2.
const numMerges = 49152 - 256 - 2

// splitPattern is the reference pre-tokenization regex (OpenAI simple_tokenizer.py, re.IGNORECASE).
var splitPattern = regexp.MustCompile(`(?i)<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`)

type pair struct{ a, b string }

// Tokenizer is CLIP's byte-level BPE tokenizer, the same as OpenAI's simple_tokenizer.py with
// clip.tokenize. It is safe for concurrent use.
type Tokenizer struct {
	encoder   map[string]int
	decoder   []string
	ranks     map[pair]int
	byteEnc   [256]string
	byteDec   map[rune]byte
	sot, eot  int
	mu        sync.Mutex
	cache     map[string][]int
	maxCached int
}

// LoadTokenizer loads a CLIP tokenizer from path: a bpe_simple_vocab_16e6.txt.gz file, a Hugging Face
// tokenizer.json, or a folder holding one of them or Hugging Face's vocab.json + merges.txt (tried in
// that order). Whatever the files, text is cleaned and split the OpenAI way (see CleanText).
func LoadTokenizer(path string) (*Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("clip: tokenizer: %w", err)
	}
	if st.IsDir() {
		for _, name := range []string{BPEVocabFile, TokenizerJSONFile} {
			p := filepath.Join(path, name)
			if _, err := os.Stat(p); err == nil {
				return LoadTokenizer(p)
			}
		}
		vocab, merges := filepath.Join(path, "vocab.json"), filepath.Join(path, "merges.txt")
		if _, err := os.Stat(vocab); err == nil {
			return loadVocabMerges(vocab, merges)
		}
		return nil, fmt.Errorf("clip: tokenizer: folder %s has no %s, %s or vocab.json + merges.txt", path, BPEVocabFile, TokenizerJSONFile)
	}
	if strings.HasSuffix(path, ".json") {
		return loadTokenizerJSON(path)
	}
	return loadBPEVocab(path)
}

func newTokenizer() *Tokenizer {
	t := &Tokenizer{encoder: map[string]int{}, ranks: map[pair]int{}, byteDec: map[rune]byte{}, cache: map[string][]int{}, maxCached: 1 << 16}
	for b, r := range bytesToUnicode() {
		t.byteEnc[b] = string(r)
		t.byteDec[r] = byte(b)
	}
	return t
}

// bytesToUnicode is the reference bytes_to_unicode(): printable Latin-1 bytes map to themselves, the
// others to U+0100 upwards, in byte order.
func bytesToUnicode() [256]rune {
	var out [256]rune
	n := 0
	for b := range 256 {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			out[b] = rune(b)
		} else {
			out[b] = rune(256 + n)
			n++
		}
	}
	return out
}

// byteOrder lists the bytes in the reference's vocabulary order: printable ranges first, then the rest.
func byteOrder() []int {
	var printable, rest []int
	for b := range 256 {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			printable = append(printable, b)
		} else {
			rest = append(rest, b)
		}
	}
	return append(printable, rest...)
}

func loadBPEVocab(path string) (*Tokenizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("clip: tokenizer: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("clip: tokenizer: %s is not gzip: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	var merges []pair
	line := 0
	for sc.Scan() {
		line++
		if line == 1 { // version header.
			continue
		}
		if len(merges) == numMerges {
			break
		}
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			return nil, fmt.Errorf("clip: tokenizer: %s line %d: want two symbols, got %q", path, line, sc.Text())
		}
		merges = append(merges, pair{fields[0], fields[1]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("clip: tokenizer: reading %s: %w", path, err)
	}
	if len(merges) != numMerges {
		return nil, fmt.Errorf("clip: tokenizer: %s has %d merges, want %d", path, len(merges), numMerges)
	}
	t := newTokenizer()
	var vocab []string
	order := byteOrder()
	for _, b := range order {
		vocab = append(vocab, t.byteEnc[b])
	}
	for _, b := range order {
		vocab = append(vocab, t.byteEnc[b]+"</w>")
	}
	for i, m := range merges {
		vocab = append(vocab, m.a+m.b)
		t.ranks[m] = i
	}
	vocab = append(vocab, "<|startoftext|>", "<|endoftext|>")
	t.decoder = vocab
	for i, v := range vocab {
		t.encoder[v] = i
	}
	return t, t.finish(path)
}

func loadTokenizerJSON(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("clip: tokenizer: %w", err)
	}
	var tj struct {
		AddedTokens []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
		} `json:"added_tokens"`
		Model struct {
			Type   string          `json:"type"`
			Vocab  map[string]int  `json:"vocab"`
			Merges json.RawMessage `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(data, &tj); err != nil {
		return nil, fmt.Errorf("clip: tokenizer: %s is not a tokenizer.json: %w", path, err)
	}
	if tj.Model.Type != "" && tj.Model.Type != "BPE" {
		return nil, fmt.Errorf("clip: tokenizer: %s has a %q model, want BPE", path, tj.Model.Type)
	}
	t := newTokenizer()
	// Merges are either "a b" strings (tokenizers < 0.20) or ["a", "b"] pairs.
	var asStrings []string
	var asPairs [][]string
	if err := json.Unmarshal(tj.Model.Merges, &asStrings); err == nil {
		for i, s := range asStrings {
			f := strings.Split(s, " ")
			if len(f) != 2 {
				return nil, fmt.Errorf("clip: tokenizer: %s merge %d %q is not two symbols", path, i, s)
			}
			t.ranks[pair{f[0], f[1]}] = i
		}
	} else if err := json.Unmarshal(tj.Model.Merges, &asPairs); err == nil {
		for i, p := range asPairs {
			if len(p) != 2 {
				return nil, fmt.Errorf("clip: tokenizer: %s merge %d %v is not two symbols", path, i, p)
			}
			t.ranks[pair{p[0], p[1]}] = i
		}
	} else {
		return nil, fmt.Errorf("clip: tokenizer: %s: model.merges is neither strings nor pairs: %w", path, err)
	}
	maxID := -1
	for tok, id := range tj.Model.Vocab {
		t.encoder[tok] = id
		maxID = max(maxID, id)
	}
	for _, at := range tj.AddedTokens {
		t.encoder[at.Content] = at.ID
		maxID = max(maxID, at.ID)
	}
	if maxID < 0 || maxID > 10_000_000 {
		return nil, fmt.Errorf("clip: tokenizer: %s: bad vocabulary (max id %d)", path, maxID)
	}
	t.decoder = make([]string, maxID+1)
	for tok, id := range t.encoder {
		if id < 0 {
			return nil, fmt.Errorf("clip: tokenizer: %s: token %q has negative id %d", path, tok, id)
		}
		t.decoder[id] = tok
	}
	return t, t.finish(path)
}

// loadVocabMerges reads Hugging Face's slow-tokenizer files: vocab.json (token -> id) and merges.txt
// ("#version" line, then one "a b" merge per line, in rank order).
func loadVocabMerges(vocabPath, mergesPath string) (*Tokenizer, error) {
	data, err := os.ReadFile(vocabPath)
	if err != nil {
		return nil, fmt.Errorf("clip: tokenizer: %w", err)
	}
	t := newTokenizer()
	if err := json.Unmarshal(data, &t.encoder); err != nil {
		return nil, fmt.Errorf("clip: tokenizer: %s is not a token -> id map: %w", vocabPath, err)
	}
	f, err := os.Open(mergesPath)
	if err != nil {
		return nil, fmt.Errorf("clip: tokenizer: vocab.json needs merges.txt: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if strings.HasPrefix(text, "#version") || strings.TrimSpace(text) == "" {
			continue
		}
		fields := strings.Split(text, " ")
		if len(fields) != 2 {
			return nil, fmt.Errorf("clip: tokenizer: %s line %d: want two symbols, got %q", mergesPath, line, text)
		}
		t.ranks[pair{fields[0], fields[1]}] = len(t.ranks)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("clip: tokenizer: reading %s: %w", mergesPath, err)
	}
	maxID := -1
	for _, id := range t.encoder {
		maxID = max(maxID, id)
	}
	if maxID < 0 || maxID > 10_000_000 || maxID >= 2*len(t.encoder) {
		return nil, fmt.Errorf("clip: tokenizer: %s: bad vocabulary (%d tokens, max id %d)", vocabPath, len(t.encoder), maxID)
	}
	t.decoder = make([]string, maxID+1)
	for tok, id := range t.encoder {
		if id < 0 {
			return nil, fmt.Errorf("clip: tokenizer: %s: token %q has negative id %d", vocabPath, tok, id)
		}
		t.decoder[id] = tok
	}
	return t, t.finish(vocabPath)
}

func (t *Tokenizer) finish(path string) error {
	var ok1, ok2 bool
	t.sot, ok1 = t.encoder["<|startoftext|>"]
	t.eot, ok2 = t.encoder["<|endoftext|>"]
	if !ok1 || !ok2 {
		return fmt.Errorf("clip: tokenizer: %s lacks <|startoftext|> or <|endoftext|>", path)
	}
	for b := range 256 {
		if _, ok := t.encoder[t.byteEnc[b]+"</w>"]; !ok {
			return fmt.Errorf("clip: tokenizer: %s lacks the byte token %q", path, t.byteEnc[b]+"</w>")
		}
	}
	return nil
}

// VocabSize returns the number of token ids.
func (t *Tokenizer) VocabSize() int { return len(t.decoder) }

// StartID returns the id of "<|startoftext|>".
func (t *Tokenizer) StartID() int { return t.sot }

// EndID returns the id of "<|endoftext|>".
func (t *Tokenizer) EndID() int { return t.eot }

// Encode returns the BPE ids of text after CleanText, without start/end tokens or truncation.
func (t *Tokenizer) Encode(text string) []int {
	text = CleanText(text)
	var ids []int
	for _, word := range splitPattern.FindAllString(text, -1) {
		ids = append(ids, t.bpe(word)...)
	}
	return ids
}

// Tokenize is clip.tokenize(text, truncate=True) without padding: start token, Encode(text), end token,
// cut to contextLength (ContextLength when <= 0) keeping the end token last.
func (t *Tokenizer) Tokenize(text string, contextLength int) []int {
	if contextLength <= 0 {
		contextLength = ContextLength
	}
	ids := append([]int{t.sot}, t.Encode(text)...)
	ids = append(ids, t.eot)
	if len(ids) > contextLength {
		ids = ids[:contextLength]
		ids[contextLength-1] = t.eot
	}
	return ids
}

// TokenizePadded is clip.tokenize with padding: Tokenize, then zeros up to contextLength.
func (t *Tokenizer) TokenizePadded(text string, contextLength int) []int {
	if contextLength <= 0 {
		contextLength = ContextLength
	}
	ids := t.Tokenize(text, contextLength)
	out := make([]int, contextLength)
	copy(out, ids)
	return out
}

// Decode turns ids back into text (end-of-word markers become spaces; special tokens are kept).
func (t *Tokenizer) Decode(ids []int) string {
	var raw strings.Builder
	for _, id := range ids {
		if id < 0 || id >= len(t.decoder) {
			continue
		}
		raw.WriteString(t.decoder[id])
	}
	var out []byte
	for _, r := range raw.String() {
		if b, ok := t.byteDec[r]; ok {
			out = append(out, b)
		} else {
			out = append(out, string(r)...)
		}
	}
	return strings.TrimSpace(strings.ReplaceAll(string(out), "</w>", " "))
}

// bpe returns the ids of one pre-tokenized word.
func (t *Tokenizer) bpe(word string) []int {
	if word == "<|startoftext|>" {
		return []int{t.sot}
	}
	if word == "<|endoftext|>" {
		return []int{t.eot}
	}
	t.mu.Lock()
	if ids, ok := t.cache[word]; ok {
		t.mu.Unlock()
		return ids
	}
	t.mu.Unlock()
	bs := []byte(word)
	syms := make([]string, len(bs))
	for i, b := range bs {
		syms[i] = t.byteEnc[b]
	}
	syms[len(syms)-1] += "</w>"
	for len(syms) > 1 {
		best, bestRank := -1, int(^uint(0)>>1)
		for i := 0; i+1 < len(syms); i++ {
			if r, ok := t.ranks[pair{syms[i], syms[i+1]}]; ok && r < bestRank {
				best, bestRank = i, r
			}
		}
		if best < 0 {
			break
		}
		// Merge every occurrence of the best pair, left to right, as the reference does.
		first, second := syms[best], syms[best+1]
		merged := syms[:0:0]
		for i := 0; i < len(syms); {
			if i+1 < len(syms) && syms[i] == first && syms[i+1] == second {
				merged = append(merged, first+second)
				i += 2
			} else {
				merged = append(merged, syms[i])
				i++
			}
		}
		syms = merged
	}
	ids := make([]int, 0, len(syms))
	for _, s := range syms {
		id, ok := t.encoder[s]
		if !ok { // cannot happen with a consistent vocabulary; fall back to bytes.
			for _, r := range s {
				if id, ok := t.encoder[string(r)]; ok {
					ids = append(ids, id)
				}
			}
			continue
		}
		ids = append(ids, id)
	}
	t.mu.Lock()
	if len(t.cache) < t.maxCached {
		t.cache[word] = ids
	}
	t.mu.Unlock()
	return ids
}
