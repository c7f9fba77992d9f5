"""Generates tiny WebP fixtures for mlkit/ingest tests (run: /usr/bin/python3 gen_webp.py).

lossless.webp: 12x8 pixels, left half red (255,0,0), right half blue (0,0,255), VP8L lossless.
lossy.webp:    16x16 pixels, solid green (0,200,0), VP8 lossy quality 90.
"""
from PIL import Image

img = Image.new("RGB", (12, 8), (0, 0, 255))
for x in range(6):
    for y in range(8):
        img.putpixel((x, y), (255, 0, 0))
img.save("lossless.webp", lossless=True)
Image.new("RGB", (16, 16), (0, 200, 0)).save("lossy.webp", quality=90)
