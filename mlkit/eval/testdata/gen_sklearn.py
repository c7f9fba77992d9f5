"""Generates sklearn_reference.json: random 5-class predictions and the metrics scikit-learn computes
for them, so mlkit/eval is checked against a reference. Run: python3 gen_sklearn.py (needs numpy and
scikit-learn). CI only compares against the committed JSON."""
import json
import numpy as np
from sklearn.metrics import (accuracy_score, average_precision_score, confusion_matrix, f1_score,
                             precision_score, recall_score, roc_auc_score)

rng = np.random.default_rng(7)
k, n = 5, 300
labels = rng.integers(0, k, n)
logits = rng.normal(size=(n, k)) + 2.0 * np.eye(k)[labels] * rng.uniform(0, 1.5, size=(n, 1))
logits = np.round(logits, 1)  # creates ties, which ROC AUC must count as one half
probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
probs = probs.astype(np.float32)
p64 = probs.astype(np.float64)
onehot = np.eye(k)[labels]
thr = 0.4
pred_thr = (p64 >= thr).astype(int)
out = {
    "classes": ["horse", "dog", "elephant", "sheep", "butterfly"],
    "labels": labels.tolist(),
    "probs": probs.tolist(),
    "threshold": thr,
    "accuracy": accuracy_score(labels, p64.argmax(1)),
    "confusion": confusion_matrix(labels, p64.argmax(1), labels=list(range(k))).tolist(),
    "roc_auc": [roc_auc_score(onehot[:, c], p64[:, c]) for c in range(k)],
    "macro_roc_auc": roc_auc_score(labels, p64, multi_class="ovr", average="macro"),
    "average_precision": [average_precision_score(onehot[:, c], p64[:, c]) for c in range(k)],
    "precision": [precision_score(onehot[:, c], pred_thr[:, c], zero_division=0) for c in range(k)],
    "recall": [recall_score(onehot[:, c], pred_thr[:, c], zero_division=0) for c in range(k)],
    "f1": [f1_score(onehot[:, c], pred_thr[:, c], zero_division=0) for c in range(k)],
}
with open("sklearn_reference.json", "w") as f:
    json.dump(out, f)
print("wrote sklearn_reference.json", out["accuracy"], out["macro_roc_auc"])
