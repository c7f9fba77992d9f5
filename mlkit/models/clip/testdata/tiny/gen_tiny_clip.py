"""Builds the tiny random-weight CLIP used by the Go parity tests, and records its outputs.

Hugging Face transformers (4.36.2, torch 1.13 CPU) CLIPModel with a tiny config, seed 0; the vocabulary
stays at CLIP's 49,408 tokens so real tokenizer ids can be fed. The token embedding is stored as F16 (to
stay small and to exercise the F16 reader); every reference output is computed with those F16-rounded
weights, in float32. Writes, in this folder:
  config.json, preprocessor_config.json, model.safetensors       the model (HF layout)
  img_*.png                                                       raw test images (RGB, various sizes)
  expected.json                                                   inputs and reference outputs
  preprocess_224_*.bin                                            CLIPImageProcessor (default 224 config)
                                                                  output for img_large.png, float32 CHW
Usage: python gen_tiny_clip.py /path/to/shared/models/clip_tokenizer
"""
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tokenizer"))
from gen_tokenizer_fixture import SimpleTokenizer  # noqa: E402  (the OpenAI reference tokenizer)

torch.manual_seed(0)
np.random.seed(0)

text_cfg = dict(vocab_size=49408, hidden_size=24, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                max_position_embeddings=77, hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=16,
                bos_token_id=49406, eos_token_id=49407, pad_token_id=1)
vision_cfg = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=32,
                  patch_size=8, num_channels=3, hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=16)
config = CLIPConfig(text_config=text_cfg, vision_config=vision_cfg, projection_dim=16)
model = CLIPModel(config).eval()
# Random init of HF keeps LayerNorms at 1/0 and some biases at 0: perturb everything so each weight matters.
with torch.no_grad():
    for name, p in model.named_parameters():
        if name == "logit_scale":
            continue
        p.add_(torch.randn_like(p) * 0.05)
    emb = model.text_model.embeddings.token_embedding.weight
    emb.copy_(emb.half().float())

model.save_pretrained(here, safe_serialization=True)
sd = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items() if not k.endswith("position_ids")}
sd["text_model.embeddings.token_embedding.weight"] = sd["text_model.embeddings.token_embedding.weight"].half()
save_file(sd, os.path.join(here, "model.safetensors"), metadata={"format": "pt"})

proc = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
proc.save_pretrained(here)


def make_image(w, h, seed):
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w]
    r = 127 + 120 * np.sin(x / (3 + seed) + y / 7.0)
    g = 255 * x / max(w - 1, 1)
    b = 255 * ((x // 4 + y // 5) % 2)
    arr = np.stack([r, g, b], -1) + rng.randint(-30, 31, size=(h, w, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


images = {"img_a.png": make_image(50, 40, 1), "img_b.png": make_image(37, 61, 2), "img_c.png": make_image(32, 32, 3),
          "img_large.png": make_image(300, 241, 4)}
for name, im in images.items():
    im.save(os.path.join(here, name))

# 224-pixel preprocessing of the large image with the default (ViT-B/32) processor settings.
big = CLIPImageProcessor()(images=[Image.open(os.path.join(here, "img_large.png"))], return_tensors="np")["pixel_values"][0]
big.astype("<f4").tofile(os.path.join(here, "preprocess_224_img_large.bin"))

tok = SimpleTokenizer(os.path.join(sys.argv[1], "bpe_simple_vocab_16e6.txt.gz"))
sot, eot = tok.encoder["<|startoftext|>"], tok.encoder["<|endoftext|>"]
prompts = ["a photo of a cat", "a photo of a dog", "an elephant standing in tall grass at sunset",
           "butterfly!", "", "a very " + "very " * 90 + "long prompt that gets truncated"]
ids = []
for p in prompts:
    t = [sot] + tok.encode(p) + [eot]
    if len(t) > 77:
        t = t[:77]
        t[-1] = eot
    ids.append(t + [0] * (77 - len(t)))

raw_names = ["img_a.png", "img_b.png", "img_c.png"]
raw = [Image.open(os.path.join(here, n)).convert("RGB") for n in raw_names]
pix_raw = proc(images=raw, return_tensors="pt")["pixel_values"]
g = torch.Generator().manual_seed(1)
pix_float = torch.randn(3, 3, 32, 32, generator=g)

with torch.no_grad():
    input_ids = torch.tensor(ids)
    out_f = model(input_ids=input_ids, pixel_values=pix_float)
    out_r = model(input_ids=input_ids, pixel_values=pix_raw)
    img_feat_f = model.get_image_features(pixel_values=pix_float)
    img_feat_r = model.get_image_features(pixel_values=pix_raw)
    txt_feat = model.get_text_features(input_ids=input_ids)

tl = lambda t: t.detach().float().numpy().tolist()  # noqa: E731
exp = {
    "transformers": __import__("transformers").__version__,
    "torch": torch.__version__,
    "prompts": prompts,
    "input_ids": ids,
    "text_features": tl(txt_feat),
    "text_embeds": tl(out_f.text_embeds),
    "float_pixels_nchw": tl(pix_float),
    "float_image_features": tl(img_feat_f),
    "float_image_embeds": tl(out_f.image_embeds),
    "float_logits_per_image": tl(out_f.logits_per_image),
    "raw_images": raw_names,
    "raw_pixels_nchw": tl(pix_raw),
    "raw_image_features": tl(img_feat_r),
    "raw_image_embeds": tl(out_r.image_embeds),
    "raw_logits_per_image": tl(out_r.logits_per_image),
    "logit_scale": float(model.logit_scale.item()),
}
with open(os.path.join(here, "expected.json"), "w") as fh:
    json.dump(exp, fh)
print("ok", {k: os.path.getsize(os.path.join(here, k)) for k in os.listdir(here)})
