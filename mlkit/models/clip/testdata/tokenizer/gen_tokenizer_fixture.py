"""Generates tokenizer_fixture.json: CLIP token ids for a few hundred varied strings.

Reference: OpenAI CLIP's own tokenizer (clip/simple_tokenizer.py + clip.tokenize, MIT), reproduced below
line for line, run on the same files Go reads (bpe_simple_vocab_16e6.txt.gz). It uses PyPI `ftfy` and
`regex`. For comparison the fixture also records what Hugging Face's CLIPTokenizerFast gives with the shared
tokenizer.json (it skips ftfy and HTML unescaping; see "hf_fast").

Usage (venv with ftfy, regex, transformers, tokenizers):
    python gen_tokenizer_fixture.py /path/to/shared/models/clip_tokenizer
"""
import gzip
import html
import json
import os
import random
import sys
from functools import lru_cache

import ftfy
import regex as re


@lru_cache()
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b)
            cs.append(2**8 + n)
            n += 1
    cs = [chr(n) for n in cs]
    return dict(zip(bs, cs))


def get_pairs(word):
    pairs = set()
    prev_char = word[0]
    for char in word[1:]:
        pairs.add((prev_char, char))
        prev_char = char
    return pairs


def basic_clean(text):
    text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text))
    return text.strip()


def whitespace_clean(text):
    text = re.sub(r"\s+", " ", text)
    text = text.strip()
    return text


class SimpleTokenizer(object):
    def __init__(self, bpe_path):
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        merges = gzip.open(bpe_path).read().decode("utf-8").split("\n")
        merges = merges[1 : 49152 - 256 - 2 + 1]
        merges = [tuple(merge.split()) for merge in merges]
        vocab = list(bytes_to_unicode().values())
        vocab = vocab + [v + "</w>" for v in vocab]
        for merge in merges:
            vocab.append("".join(merge))
        vocab.extend(["<|startoftext|>", "<|endoftext|>"])
        self.encoder = dict(zip(vocab, range(len(vocab))))
        self.decoder = {v: k for k, v in self.encoder.items()}
        self.bpe_ranks = dict(zip(merges, range(len(merges))))
        self.cache = {"<|startoftext|>": "<|startoftext|>", "<|endoftext|>": "<|endoftext|>"}
        self.pat = re.compile(
            r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
            re.IGNORECASE,
        )

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        pairs = get_pairs(word)
        if not pairs:
            return token + "</w>"
        while True:
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except ValueError:
                    new_word.extend(word[i:])
                    break
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            new_word = tuple(new_word)
            word = new_word
            if len(word) == 1:
                break
            else:
                pairs = get_pairs(word)
        word = " ".join(word)
        self.cache[token] = word
        return word

    def encode(self, text):
        bpe_tokens = []
        text = whitespace_clean(basic_clean(text)).lower()
        for token in re.findall(self.pat, text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            bpe_tokens.extend(self.encoder[bpe_token] for bpe_token in self.bpe(token).split(" "))
        return bpe_tokens


def tokenize(tok, text, context_length=77):
    """clip.tokenize(text, truncate=True) without padding."""
    sot, eot = tok.encoder["<|startoftext|>"], tok.encoder["<|endoftext|>"]
    tokens = [sot] + tok.encode(text) + [eot]
    if len(tokens) > context_length:
        tokens = tokens[:context_length]
        tokens[-1] = eot
    return tokens


def strings():
    base = [
        "a photo of a cat", "dog", "A Photo Of A DOG", "", "   ", "a photo of a horse.", "an elephant in the wild",
        "sheep!!!", "butterfly?", "It's a dog's life", "they're here, we've gone, I'm done, you'll see, he'd go",
        "DON'T SHOUT", "can't won't shan't", "rock 'n' roll", "l'été à paris", "‘curly’ “quotes”",
        "numbers 12345 and 3.14159 and 1,000,000", "2024-11-29T04:13:39Z", "#hashtag @user http://example.com/x?y=1&z=2",
        "email: someone@example.org", "C++ and C# and F#", "e = mc^2", "x_1 + y_2 = z_3", "100% sure", "$9.99 / €8,50 / £7",
        "café naïve résumé façade coöperate", "Ærøskøbing Łódź Straße", "ÉCOLE ÉLÉMENTAIRE", "İstanbul", "ΣΊΣΥΦΟΣ ΟΔΥΣΣΕΥΣ",
        "Привет, мир", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก", "你好，世界", "一只猫的照片",
        "日本語のテキスト、カタカナ", "한국어 문장입니다", "🐶🐱🐭🐹", "I ❤️ NY", "👨‍👩‍👧‍👦 family", "flag 🇫🇷", "thumbs 👍🏽",
        "&amp; &lt;b&gt; &quot;quoted&quot; &#39;apos&#39; &#x263a; &eacute;", "Tom &amp;amp; Jerry", "5 &lt; 6 &gt; 4",
        "a <b>bold</b> &amp; move", "&nbsp;non&nbsp;breaking", "&copy; 2024 &mdash; all rights", "fish &amp chips",
        "tabs\tand\nnewlines\r\nand  many     spaces", "\u00a0nbsp\u00a0inside\u2003em space", "zero\u200bwidth", "soft\u00adhyphen",
        "ﬁne ﬂower ligatures", "ＦＵＬＬＷＩＤＴＨ　ｔｅｘｔ１２３", "ｶﾀｶﾅ halfwidth", "e\u0301 combining acute", "Å vs A\u030a",
        "mojibake: cafÃ©", "â€œbrokenâ€\x9d", "control\x07bell\x1bchars", "\x1b[31mred\x1b[0m text", "<|startoftext|>",
        "hello <|endoftext|> world", "<|ENDOFTEXT|>", "supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "....!!!???---___***", "'''", "'s", "'s's't", "..'re",
        "snake_case camelCase PascalCase kebab-case", "http://www.t.co/abc123", "iPhone13 Pro Max", "3D render", "4k HDR 1080p",
        "o'clock", "ma'am", "y'all'd've", "1st 2nd 3rd 4th", "½ ⅓ ¼ ² ³ ①②③ Ⅻ", "٣ ٤ ٥ arabic digits", "mixed漢字and english",
        "ǅ ǈ titlecase", "ẞ capital sharp s", "Ω ohm Å angstrom K kelvin", "™ ® ©", "→ ← ↑ ↓ ⇒", "∑∫∂√∞≈≠", "♠♣♥♦",
        "a" + " b" * 100, " ".join(["word"] * 80), "the quick brown fox jumps over the lazy dog " * 6,
        ("photo of a " + "very " * 90 + "big elephant"), "x" * 300, "🐘" * 100, "大象" * 60,
    ]
    rnd = random.Random(1234)
    words = ["a", "photo", "of", "the", "dog", "cat", "horse", "sheep", "elephant", "butterfly", "in", "on", "grass",
             "field", "sky", "blue", "red", "small", "big", "cute", "wild", "running", "sleeping", "two", "three", "black",
             "white", "brown", "zoo", "farm", "close-up", "blurry", "painting", "drawing", "sketch", "of", "with", "and"]
    extras = ["!", "?", ",", ".", "'s", "'ll", "123", "42", "😀", "é", "ü", "ß", "中", "&amp;", "&lt;", "  ", "\t", "-", "(", ")", "\"", "…", "—"]
    out = list(base)
    while len(out) < 300:
        n = rnd.randint(1, 14)
        parts = []
        for _ in range(n):
            w = rnd.choice(words)
            r = rnd.random()
            if r < 0.15:
                w = w.upper()
            elif r < 0.25:
                w = w.capitalize()
            if rnd.random() < 0.25:
                w += rnd.choice(extras)
            parts.append(w)
        out.append(" ".join(parts))
    return out


def main():
    shared = sys.argv[1]
    tok = SimpleTokenizer(os.path.join(shared, "bpe_simple_vocab_16e6.txt.gz"))
    assert tokenize(tok, "a photo of a cat") == [49406, 320, 1125, 539, 320, 2368, 49407]
    hf = None
    try:
        from transformers import CLIPTokenizerFast

        hf = CLIPTokenizerFast(tokenizer_file=os.path.join(shared, "tokenizer.json"))
    except Exception as e:  # recorded, not fatal: the OpenAI ids are the reference.
        print("no HF fast tokenizer:", e, file=sys.stderr)
    cases = []
    ndiff = 0
    for s in strings():
        ids = tokenize(tok, s)
        case = {"text": s, "ids": ids}
        if hf is not None:
            h = hf(s, truncation=True, max_length=77)["input_ids"]
            if h != ids:
                case["hf_fast"] = h
                ndiff += 1
        cases.append(case)
    meta = {"reference": "openai/CLIP simple_tokenizer + clip.tokenize(truncate=True), ftfy %s" % ftfy.__version__,
            "context_length": 77, "hf_fast_differs": ndiff}
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "tokenizer_fixture.json"), "w") as fh:
        json.dump({"meta": meta, "cases": cases}, fh, ensure_ascii=True, indent=0)
    print(len(cases), "cases;", ndiff, "differ from HF fast")


if __name__ == "__main__":
    main()
