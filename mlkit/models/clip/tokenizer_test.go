package clip

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/visionnb/visionnb/mlkit/internal/testshared"
)

type tokenizerFixture struct {
	Meta  map[string]any `json:"meta"`
	Cases []struct {
		Text string `json:"text"`
		IDs  []int  `json:"ids"`
	} `json:"cases"`
}

func loadTokenizerFixture(t *testing.T) tokenizerFixture {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "tokenizer", "tokenizer_fixture.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx tokenizerFixture
	if err := json.Unmarshal(data, &fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.Cases) < 200 {
		t.Fatalf("fixture has only %d cases", len(fx.Cases))
	}
	return fx
}

func testTokenizerAgainstFixture(t *testing.T, file string) {
	tok, err := LoadTokenizer(filepath.Join(testshared.CLIPTokenizer(t), file))
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != VocabSize || tok.StartID() != StartOfText || tok.EndID() != EndOfText {
		t.Fatalf("vocab %d, sot %d, eot %d", tok.VocabSize(), tok.StartID(), tok.EndID())
	}
	if got := tok.Tokenize("a photo of a cat", 0); !reflect.DeepEqual(got, []int{49406, 320, 1125, 539, 320, 2368, 49407}) {
		t.Errorf("a photo of a cat -> %v", got)
	}
	if got := tok.Encode("dog"); !reflect.DeepEqual(got, []int{1929}) {
		t.Errorf("dog -> %v", got)
	}
	fx := loadTokenizerFixture(t)
	bad := 0
	for _, c := range fx.Cases {
		got := tok.Tokenize(c.Text, ContextLength)
		if !reflect.DeepEqual(got, c.IDs) {
			bad++
			t.Errorf("%q:\n got %v\nwant %v\n(clean %q)", c.Text, got, c.IDs, CleanText(c.Text))
		}
	}
	t.Logf("%s: %d/%d fixture strings match", file, len(fx.Cases)-bad, len(fx.Cases))
}

func TestTokenizerBPEVocab(t *testing.T) { testTokenizerAgainstFixture(t, BPEVocabFile) }

func TestTokenizerJSON(t *testing.T) { testTokenizerAgainstFixture(t, TokenizerJSONFile) }

func TestTokenizePaddedAndDecode(t *testing.T) {
	tok, err := LoadTokenizer(testshared.CLIPTokenizer(t))
	if err != nil {
		t.Fatal(err)
	}
	ids := tok.TokenizePadded("A photo of a DOG!", 0)
	if len(ids) != ContextLength || ids[0] != StartOfText {
		t.Fatalf("padded = %v", ids)
	}
	end := 0
	for i, id := range ids {
		if id == EndOfText {
			end = i
			break
		}
	}
	for _, id := range ids[end+1:] {
		if id != 0 {
			t.Fatalf("padding is not zeros: %v", ids)
		}
	}
	if got := tok.Decode(ids[1:end]); got != "a photo of a dog !" {
		t.Errorf("decode = %q", got)
	}
	long := tok.Tokenize("word "+string(make([]byte, 0))+repeat("cat ", 200), 16)
	if len(long) != 16 || long[15] != EndOfText {
		t.Errorf("truncated = %v", long)
	}
}

func repeat(s string, n int) string { return strings.Repeat(s, n) }

// TestTokenizerVocabMerges checks the vocab.json + merges.txt layout of Hugging Face model folders,
// written to a temporary folder from the shared tokenizer.json.
func TestTokenizerVocabMerges(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testshared.CLIPTokenizer(t), TokenizerJSONFile))
	if err != nil {
		t.Fatal(err)
	}
	var tj struct {
		AddedTokens []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
		} `json:"added_tokens"`
		Model struct {
			Vocab  map[string]int `json:"vocab"`
			Merges []any          `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(data, &tj); err != nil {
		t.Fatal(err)
	}
	for _, at := range tj.AddedTokens {
		tj.Model.Vocab[at.Content] = at.ID
	}
	dir := t.TempDir()
	vb, _ := json.Marshal(tj.Model.Vocab)
	if err := os.WriteFile(filepath.Join(dir, "vocab.json"), vb, 0o644); err != nil {
		t.Fatal(err)
	}
	var merges strings.Builder
	merges.WriteString("#version: 0.2\n")
	for _, m := range tj.Model.Merges {
		switch x := m.(type) {
		case string:
			merges.WriteString(x + "\n")
		case []any:
			merges.WriteString(x[0].(string) + " " + x[1].(string) + "\n")
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "merges.txt"), []byte(merges.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	fx := loadTokenizerFixture(t)
	for _, c := range fx.Cases {
		if got := tok.Tokenize(c.Text, ContextLength); !reflect.DeepEqual(got, c.IDs) {
			t.Errorf("%q: got %v, want %v", c.Text, got, c.IDs)
		}
	}
}
