"""Generate the PDF and DOCX documents of the bundled demo corpus.

The text of every document lives inline in this file. Running the script
(re)writes the five PDFs and four DOCX files under ``data/corpus/``; the
Markdown, plain-text and HTML documents of the corpus are hand-written files
and are not touched.

Re-run from the repository root with::

    python3 -m venv /tmp/corpus-venv
    /tmp/corpus-venv/bin/pip install fpdf2 python-docx
    /tmp/corpus-venv/bin/python data/tools/make_binary_docs.py

Optional: ``--out DIR`` writes to another corpus directory (default: the
``data/corpus`` folder next to this ``tools`` folder).

Output is deterministic: fixed creation/modification dates and metadata,
fixed PDF file ids, and fixed timestamps inside the DOCX zip archives, so a
re-run produces the same text (and, with the same library versions, the same
bytes). Only fpdf2 and python-docx are required.

PDFs use the core Helvetica/Courier fonts, so all PDF text must be latin-1;
every top-level section starts on a new page so page numbers are meaningful.
DOCX files use the built-in "Title", "Heading 1", "Heading 2" and
"List Bullet" styles and set ``core_properties.title``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import zipfile
from pathlib import Path
from typing import Any

FIXED_DATE = dt.datetime(2024, 1, 15, 12, 0, 0, tzinfo=dt.UTC)
AUTHOR = "rag_app demo corpus"

# ---------------------------------------------------------------------------
# Content.
#
# Each document: path (relative to data/corpus), title, subject, and a list of
# sections (heading, blocks).  A block is one of:
#   "text"              -> a normal paragraph
#   ["a", "b"]          -> a bulleted list
#   ("h2", "heading")   -> a second-level heading
#   ("eq", "formula")   -> a formula on its own line
# ---------------------------------------------------------------------------

PDF_DOCS: list[dict[str, Any]] = [
    {
        "path": "linear-algebra/eigenvalues-svd-and-low-rank.pdf",
        "title": "Eigenvalues, SVD and Low-Rank Approximation",
        "subject": "Eigen-decomposition, singular value decomposition, matrix rank",
        "sections": [
            (
                "Eigenvalues and eigenvectors",
                [
                    "Most vectors change direction when a square matrix is applied to them. "
                    "An eigenvector of a square matrix A is a non-zero vector v whose direction "
                    "does not change: A only stretches or shrinks it. The stretch factor is the "
                    "eigenvalue lambda:",
                    ("eq", "A v = lambda v"),
                    "A negative eigenvalue flips the vector, and an eigenvalue of 0 means the "
                    "matrix squashes that direction completely. For a diagonal matrix the "
                    "eigenvalues are simply the diagonal entries: the matrix [[2, 0], [0, 3]] has "
                    "eigenvalues 2 and 3, with eigenvectors along the two coordinate axes.",
                    "The eigenvalues are the solutions of the characteristic equation "
                    "det(A - lambda I) = 0. Worked example: for A = [[2, 1], [1, 2]] the "
                    "equation is (2 - lambda)^2 - 1 = 0, so the eigenvalues are 3 and 1. The "
                    "eigenvector for 3 is (1, 1), because A (1, 1) = (3, 3), and the "
                    "eigenvector for 1 is (1, -1), because A (1, -1) = (1, -1).",
                    ("h2", "Symmetric matrices"),
                    "A symmetric matrix (A equal to its transpose) has only real eigenvalues, "
                    "and its eigenvectors can be chosen to be orthogonal unit vectors. It can "
                    "therefore be written as the eigendecomposition",
                    ("eq", "A = Q Lambda Q^T"),
                    "where the columns of Q are the eigenvectors and Lambda is a diagonal "
                    "matrix of eigenvalues. Covariance matrices and Hessians of loss functions "
                    "are symmetric, which is why eigenvalues appear in principal component "
                    "analysis and in the study of optimisation: the largest eigenvalue of the "
                    "Hessian limits the largest stable learning rate.",
                    "The eigenvalues of a matrix also govern repeated multiplication. Applying "
                    "A many times multiplies each eigen-direction by lambda again and again, so "
                    "directions with |lambda| > 1 blow up and directions with |lambda| < 1 die "
                    "out. This is the linear-algebra view of exploding and vanishing gradients "
                    "in recurrent networks.",
                ],
            ),
            (
                "Singular value decomposition (SVD)",
                [
                    "Eigendecomposition only applies to some square matrices. The singular "
                    "value decomposition works for every matrix, of any shape. Any m x n matrix "
                    "A can be written as",
                    ("eq", "A = U Sigma V^T"),
                    [
                        "U is an m x m orthogonal matrix; its columns are the left singular vectors.",
                        "Sigma is an m x n diagonal matrix whose diagonal entries, the singular "
                        "values, are non-negative and sorted from largest to smallest.",
                        "V is an n x n orthogonal matrix; its columns are the right singular vectors.",
                    ],
                    "Geometrically, every linear map is a rotation (V^T), followed by a scaling "
                    "along the coordinate axes (Sigma), followed by another rotation (U). The "
                    "singular values are the square roots of the eigenvalues of A^T A, and the "
                    "right singular vectors are the eigenvectors of A^T A.",
                    "The singular values describe how much the matrix stretches space in each "
                    "direction. The largest singular value is the spectral norm of the matrix, "
                    "its maximum stretch factor. The ratio of the largest to the smallest "
                    "singular value is the condition number; a large condition number means "
                    "the matrix is nearly singular and computations with it are numerically "
                    "sensitive.",
                    "In practice the SVD is computed with library routines such as "
                    "numpy.linalg.svd or torch.linalg.svd. A full SVD of a large matrix is "
                    "expensive, roughly O(m n min(m, n)) operations, so randomised and "
                    "truncated algorithms that compute only the top singular values are used "
                    "for big matrices.",
                ],
            ),
            (
                "Rank and low-rank approximation",
                [
                    "The rank of a matrix is the number of linearly independent rows (equal to "
                    "the number of linearly independent columns). It also equals the number of "
                    "non-zero singular values. An m x n matrix has rank at most min(m, n); if "
                    "its rank is lower than that, it is called rank-deficient or low-rank.",
                    "A matrix of rank r can always be written as the product of an m x r matrix "
                    "and an r x n matrix. Storing the two factors takes r (m + n) numbers "
                    "instead of m n. A 1000 x 1000 matrix has 1,000,000 entries, while a "
                    "rank-10 factorisation needs only 10 x (1000 + 1000) = 20,000 numbers, "
                    "2 percent of the original.",
                    ("h2", "The Eckart-Young theorem"),
                    "Truncated SVD gives the best low-rank approximation. Keep only the k "
                    "largest singular values and their singular vectors:",
                    ("eq", "A_k = U_k Sigma_k V_k^T"),
                    "The Eckart-Young theorem states that A_k is the closest rank-k matrix to A, "
                    "measured in both the Frobenius norm and the spectral norm. The error in the "
                    "Frobenius norm is the square root of the sum of the squares of the discarded "
                    "singular values, so if the singular values decay quickly, a small k "
                    "captures almost all of the matrix.",
                    ("h2", "Applications in machine learning"),
                    [
                        "Principal component analysis (PCA): the principal components of a "
                        "centred data matrix are its top right singular vectors, and the squared "
                        "singular values are proportional to the variance explained.",
                        "Compression: large weight matrices and embedding tables can be replaced "
                        "by two thin factors, reducing memory and compute.",
                        "Latent semantic analysis: a truncated SVD of a term-document matrix "
                        "gives dense vectors for words and documents, an early form of text "
                        "embeddings.",
                        "Analysis: the singular value spectrum of a trained weight matrix shows "
                        "how many directions actually carry information.",
                    ],
                ],
            ),
        ],
    },
    {
        "path": "neural-networks/normalisation-and-residual-connections.pdf",
        "title": "Normalisation and Residual Connections",
        "subject": "BatchNorm, LayerNorm, RMSNorm, residual connections, pre-norm and post-norm",
        "sections": [
            (
                "Why networks need normalisation",
                [
                    "As data flows through many layers, the scale of the activations can drift: "
                    "values may grow or shrink layer after layer, and the distribution seen by "
                    "each layer keeps changing as earlier layers are updated. This makes "
                    "training slow and unstable and forces small learning rates. Normalisation "
                    "layers rescale activations to a standard range at every layer, which "
                    "smooths the loss landscape and permits larger, more stable updates.",
                    ("h2", "Batch normalisation"),
                    "Batch normalisation (BatchNorm, Ioffe and Szegedy, 2015) normalises each "
                    "feature using the mean and variance computed over the examples in the "
                    "current mini-batch, then applies a learned scale gamma and shift beta. At "
                    "inference time it uses running averages collected during training. "
                    "BatchNorm was a key ingredient of convolutional networks such as ResNet. "
                    "It works poorly for transformers and language models: statistics depend "
                    "on the batch, which is awkward for small batches, variable-length "
                    "sequences with padding, and token-by-token generation.",
                    ("h2", "Layer normalisation"),
                    "Layer normalisation (LayerNorm, Ba, Kiros and Hinton, 2016) normalises "
                    "each token vector on its own, across its d_model features, so it does not "
                    "depend on the batch at all. For a vector x with mean mu and variance "
                    "sigma^2 over its features:",
                    ("eq", "LayerNorm(x) = gamma * (x - mu) / sqrt(sigma^2 + eps) + beta"),
                    "gamma and beta are learned vectors of size d_model, and eps is a small "
                    "constant such as 1e-5 that prevents division by zero. LayerNorm is the "
                    "normalisation used in the original Transformer, BERT and GPT-2.",
                    ("h2", "RMSNorm"),
                    "RMSNorm (Zhang and Sennrich, 2019) simplifies LayerNorm by skipping the "
                    "mean subtraction and the bias. It divides by the root mean square of the "
                    "features:",
                    ("eq", "RMSNorm(x) = gamma * x / sqrt(mean(x^2) + eps)"),
                    "It is cheaper to compute and works as well in practice. LLaMA, Mistral, "
                    "Gemma and most recent open language models use RMSNorm.",
                ],
            ),
            (
                "Residual connections",
                [
                    "A residual connection (also called a skip connection) adds the input of a "
                    "block to its output:",
                    ("eq", "y = x + F(x)"),
                    "The block F only has to learn a correction, the residual, to its input "
                    "rather than a complete new representation. Residual connections were "
                    "introduced in ResNet (He et al., 2015), which used them to train image "
                    "networks with 152 layers; before that, adding layers beyond about 20 often "
                    "made accuracy worse, even on the training set.",
                    "The main benefit is for gradients. The derivative of x + F(x) with respect "
                    "to x is 1 plus the derivative of F, so during backpropagation the gradient "
                    "always has a direct identity path back through every block. Even if F has "
                    "tiny gradients, the signal reaches the early layers undiminished, which "
                    "prevents vanishing gradients in very deep networks. A block can also "
                    "easily learn to do nothing by setting F close to zero, so extra depth does "
                    "not hurt.",
                    ("h2", "The residual stream in transformers"),
                    "In a transformer every attention sub-layer and every feed-forward "
                    "sub-layer is wrapped in a residual connection. The sequence of token "
                    "vectors that runs from the embedding layer to the output head is often "
                    "called the residual stream: each sub-layer reads from it and adds its "
                    "contribution back to it. Because all layers write into the same shared "
                    "vector space, information written by an early layer can be read directly "
                    "by a much later one. Interpretability research uses this view to trace "
                    "how individual attention heads and feed-forward layers contribute to a "
                    "prediction.",
                ],
            ),
            (
                "Pre-norm versus post-norm transformers",
                [
                    "Where the normalisation layer sits relative to the residual connection "
                    "matters a great deal for training stability.",
                    ("h2", "Post-norm (the original Transformer)"),
                    "The 2017 Transformer normalised after adding the residual:",
                    ("eq", "x = LayerNorm(x + Sublayer(x))"),
                    "Post-norm models can reach good quality, but they are hard to train when "
                    "deep: gradients near the output are large, so they need a careful "
                    "learning-rate warmup and often diverge without it.",
                    ("h2", "Pre-norm (GPT-2 and later)"),
                    "Pre-norm applies the normalisation to the input of each sub-layer and "
                    "leaves the residual path untouched:",
                    ("eq", "x = x + Sublayer(LayerNorm(x))"),
                    "Because the residual stream is never normalised, there is a clean "
                    "identity path from the output to the input, and training is much more "
                    "stable. Pre-norm models add one final normalisation layer after the last "
                    "block, before the language-model head. GPT-2, GPT-3, LLaMA and almost all "
                    "modern large language models use pre-norm, usually with RMSNorm.",
                    ("h2", "Further stabilisation tricks"),
                    [
                        "QK-norm: normalising queries and keys before the attention dot product "
                        "prevents attention logits from growing too large.",
                        "DeepNorm: scales the residual branch and the initialisation so that "
                        "post-norm transformers with hundreds of layers can be trained.",
                        "Small initialisation of the output projections of each residual "
                        "branch, as in GPT-2, which scales them by 1/sqrt(number of layers).",
                    ],
                ],
            ),
        ],
    },
    {
        "path": "transformers/positional-encodings.pdf",
        "title": "Positional Encodings: Sinusoidal, Learned, ALiBi and RoPE",
        "subject": "How transformers represent token order, including rotary position embeddings",
        "sections": [
            (
                "Why transformers need position information",
                [
                    "Attention compares every token with every other token through dot "
                    "products, and nothing in that computation depends on where the tokens "
                    "are. Without extra information a transformer would treat its input as an "
                    'unordered set: "the dog bit the man" and "the man bit the dog" would '
                    "produce the same representations. Positional encodings inject word order "
                    "into the model.",
                    ("h2", "Sinusoidal absolute encodings"),
                    "The original Transformer (Vaswani et al., 2017) added a fixed vector to "
                    "each token embedding. For position pos and dimension pair i of a model "
                    "with width d_model:",
                    ("eq", "PE(pos, 2i)   = sin(pos / 10000^(2i / d_model))"),
                    ("eq", "PE(pos, 2i+1) = cos(pos / 10000^(2i / d_model))"),
                    "Each pair of dimensions oscillates at a different frequency, from fast "
                    "(the first dimensions) to very slow (the last), so every position gets a "
                    "unique pattern, a little like the hands of a clock. The encoding of "
                    "position pos + k is a fixed linear function of the encoding of pos, "
                    "which was meant to make relative offsets easy to learn.",
                    ("h2", "Learned absolute position embeddings"),
                    "BERT and GPT-2 instead learn a position embedding table with one trainable "
                    "vector per position, added to the token embeddings. BERT has 512 "
                    "positions and GPT-2 has 1,024. Learned tables are simple and work well, "
                    "but they have a hard limit: a position beyond the table size has no "
                    "embedding at all, so the model cannot process longer inputs without "
                    "further training.",
                ],
            ),
            (
                "Relative position methods and ALiBi",
                [
                    "What usually matters in language is not the absolute position of a word "
                    "but how far apart two words are. Relative position methods give attention "
                    "information about the offset i - j between the query position i and the "
                    "key position j.",
                    ("h2", "Relative position bias (T5)"),
                    "T5 adds a learned scalar bias to each attention score depending on the "
                    "offset between the two tokens. Offsets are grouped into buckets, with "
                    "exact buckets for small distances and logarithmically wider buckets for "
                    "large distances, and the biases are shared across layers.",
                    ("h2", "ALiBi"),
                    "ALiBi (Attention with Linear Biases, Press, Smith and Lewis, 2021) uses no "
                    "position embeddings at all. It subtracts a penalty proportional to the "
                    "distance from every attention score:",
                    ("eq", "score(i, j) = q_i . k_j / sqrt(d) - m * (i - j)"),
                    "The slope m is fixed, not learned, and differs per head (a geometric "
                    "sequence such as 1/2, 1/4, 1/8, ... for 8 heads), so some heads focus "
                    "locally and others look far back. ALiBi models trained on short sequences "
                    "extrapolate reasonably well to longer ones. BLOOM and MPT use ALiBi.",
                ],
            ),
            (
                "Rotary position embeddings (RoPE)",
                [
                    "Rotary position embeddings, or RoPE, were introduced by Su et al. in 2021 "
                    "in the RoFormer paper and are now the most common positional method in "
                    "large language models. LLaMA, Mistral, Qwen, Gemma, GPT-NeoX, PaLM and "
                    "SmolLM all use RoPE.",
                    ("h2", "How RoPE works"),
                    "RoPE does not add anything to the token embeddings. Instead, inside every "
                    "attention layer, it rotates the query and key vectors by an angle that "
                    "depends on the token's position. The d dimensions of each query or key "
                    "are split into d/2 pairs, and pair i is treated as a point in a 2D plane "
                    "and rotated by the angle pos * theta_i, where",
                    ("eq", "theta_i = base^(-2i / d),  with base = 10000 by default"),
                    "Early pairs rotate quickly with position and later pairs rotate slowly. "
                    "Values are not rotated; only queries and keys are.",
                    ("h2", "Why rotation encodes relative position"),
                    "Rotating two vectors changes their dot product only through the "
                    "difference of their rotation angles. If the query at position m is "
                    "rotated by m * theta and the key at position n by n * theta, their dot "
                    "product depends only on the offset m - n, not on m and n separately. "
                    "RoPE therefore injects absolute positions but makes attention scores "
                    "depend on relative position, which is exactly what language needs. It "
                    "also adds no parameters and works with efficient attention kernels.",
                    "A side effect is a gentle long-range decay: for large offsets the "
                    "contributions of the rotated pairs tend to cancel, so very distant tokens "
                    "interact somewhat less by default.",
                ],
            ),
            (
                "Extending the context window",
                [
                    "A model trained with RoPE on sequences of, say, 4,096 tokens sees rotation "
                    "angles beyond its training range when given longer inputs, and quality "
                    "falls sharply. Several methods extend the usable context with little or "
                    "no extra training:",
                    [
                        "Position interpolation (Chen et al., 2023): scale positions down by "
                        "L_train / L_target, so a 16,384-token input is squeezed into the "
                        "rotation angles seen for 4,096 tokens. A short fine-tuning run then "
                        "adapts the model.",
                        "NTK-aware scaling: increase the RoPE base instead of scaling positions, "
                        "which stretches the slow, low-frequency pairs more than the fast ones "
                        "and keeps local word order sharp.",
                        "YaRN: combines per-frequency interpolation with a temperature "
                        "adjustment of the attention logits, reaching long contexts with a "
                        "small amount of fine-tuning.",
                        "Training with a larger base from the start: Llama 3 uses a RoPE base of "
                        "500,000 instead of 10,000 to support longer contexts.",
                    ],
                    "Whatever the method, quality on long inputs should be checked directly, "
                    "for example by hiding a fact at different depths of a long document.",
                ],
            ),
        ],
    },
    {
        "path": "training/scaling-laws.pdf",
        "title": "Scaling Laws for Language Models",
        "subject": "Kaplan and Chinchilla scaling laws, compute budgets, tokens per parameter",
        "sections": [
            (
                "Loss follows power laws",
                [
                    "Scaling laws are empirical formulas that predict how the loss of a "
                    "language model improves as it gets more parameters, more training data "
                    "and more compute. They let researchers plan an expensive training run "
                    "from a series of cheap small ones.",
                    "Kaplan et al. (OpenAI, 2020) trained many transformer language models and "
                    "found that the test loss L falls as a power law in each of three "
                    "quantities when the other two are not limiting:",
                    [
                        "model size N (non-embedding parameters): L(N) = (N_c / N)^0.076",
                        "dataset size D (tokens): L(D) = (D_c / D)^0.095",
                        "training compute C: L(C) proportional to C^(-0.050)",
                    ],
                    "N_c and D_c are fitted constants. These trends held smoothly over more than "
                    "six orders of magnitude. On a log-log plot a power law is a straight "
                    "line, so a fit on small models can be extrapolated to large ones. A key "
                    "finding was that architectural details such as depth versus width matter "
                    "much less than total scale, within a reasonable range.",
                    "Kaplan et al. concluded that, for a fixed compute budget, model size should "
                    "grow faster than dataset size. Models such as GPT-3 (175 billion "
                    "parameters trained on about 300 billion tokens) followed this advice.",
                ],
            ),
            (
                "Compute budgets and the Chinchilla result",
                [
                    ("h2", "Estimating training compute"),
                    "The compute needed to train a dense transformer is well approximated by",
                    ("eq", "C = 6 * N * D   (floating-point operations)"),
                    "where N is the number of parameters and D the number of training tokens: "
                    "about 2 N D operations for the forward passes and 4 N D for the backward "
                    "passes. For example, a 7-billion-parameter model trained on 2 trillion "
                    "tokens needs 6 x 7e9 x 2e12 = 8.4e22 FLOPs.",
                    ("h2", "Chinchilla: compute-optimal training"),
                    "Hoffmann et al. (DeepMind, 2022) revisited the question with better-tuned "
                    "learning-rate schedules and found a different answer: for compute-optimal "
                    "training, model size and the number of training tokens should be scaled "
                    "up in equal proportion. Doubling the compute budget should roughly "
                    "multiply both N and D by sqrt(2). The practical rule of thumb from this "
                    "work is about 20 training tokens per parameter.",
                    "They demonstrated it with Chinchilla, a 70-billion-parameter model trained "
                    "on 1.4 trillion tokens (20 tokens per parameter). With the same compute as "
                    "their earlier 280-billion-parameter Gopher model, which saw only 300 "
                    "billion tokens, Chinchilla performed better on nearly every benchmark and "
                    "was four times cheaper to run. The result implied that models like GPT-3 "
                    "and Gopher were considerably undertrained.",
                    "Hoffmann et al. fitted the loss as a function of both N and D:",
                    ("eq", "L(N, D) = E + A / N^alpha + B / D^beta"),
                    "with E = 1.69 (the irreducible loss of natural text), A = 406.4, "
                    "B = 410.7, alpha = 0.34 and beta = 0.28. The second and third terms are "
                    "the penalties for having a finite model and finite data.",
                ],
            ),
            (
                "Beyond compute-optimal training",
                [
                    ("h2", "Training small models for longer"),
                    "Chinchilla's rule minimises training compute for a target loss, but a "
                    "model is trained once and then used for inference millions of times. A "
                    "smaller model trained on far more tokens than the compute-optimal amount "
                    "is cheaper to serve and still keeps improving. This over-training is now "
                    "standard: LLaMA 7B was trained on 1 trillion tokens (about 140 tokens per "
                    "parameter), and Llama 3 8B on about 15 trillion tokens (about 1,900 tokens "
                    "per parameter). Small models such as SmolLM are likewise trained on "
                    "hundreds of billions to trillions of tokens.",
                    ("h2", "Running out of data"),
                    "High-quality text is finite. Muennighoff et al. (2023) found that repeating "
                    "the same data for up to about 4 epochs is almost as good as using fresh "
                    "data, but the value of further repetition drops quickly. Synthetic data, "
                    "better filtering and multilingual and code data are used to stretch the "
                    "supply.",
                    ("h2", "What scaling laws do not predict"),
                    [
                        "They predict the average loss, not when a specific ability will "
                        "appear. Some benchmarks show sudden jumps with scale, often called "
                        "emergent abilities; Schaeffer et al. (2023) argued that many such jumps "
                        "come from using all-or-nothing metrics such as exact match, and look "
                        "smooth under continuous metrics.",
                        "The fitted constants depend on the data, the tokeniser and the "
                        "architecture, so they must be re-estimated for each new setup.",
                        "They assume good hyperparameters at every scale; a badly tuned "
                        "learning rate breaks the trend.",
                    ],
                ],
            ),
        ],
    },
    {
        "path": "rag/embeddings-and-vector-search.pdf",
        "title": "Embeddings and Vector Search: Exact Search, HNSW and IVF",
        "subject": "Text embeddings, bi-encoders, approximate nearest neighbour indexes",
        "sections": [
            (
                "Text embeddings",
                [
                    "A text embedding is a fixed-length vector of numbers that represents the "
                    "meaning of a piece of text. An embedding model is trained so that texts "
                    "with similar meaning get vectors that point in similar directions, even "
                    'when they share no words, such as "reset my password" and "forgot my '
                    "login\". Semantic search finds the stored vectors nearest to a query's "
                    "embedding.",
                    ("h2", "Bi-encoders"),
                    "Embedding models used for retrieval are bi-encoders: the query and each "
                    "document are encoded independently by a transformer, usually followed by "
                    "mean pooling over the token vectors or taking the [CLS] token, and "
                    "optionally normalised to unit length. Because documents are encoded "
                    "without seeing the query, all document vectors can be computed once at "
                    "indexing time.",
                    "Bi-encoders are trained with contrastive learning: the InfoNCE loss pushes "
                    "each query towards its relevant passage and away from the other passages "
                    "in the batch (in-batch negatives) and from hard negatives that look "
                    "relevant but are not.",
                    ("h2", "Example models"),
                    [
                        "all-MiniLM-L6-v2 (sentence-transformers): 384 dimensions, small and fast.",
                        "BGE and E5 families: 384 to 1,024 dimensions. E5 expects the prefixes "
                        '"query: " and "passage: " on its inputs.',
                        "OpenAI text-embedding-3-small: 1,536 dimensions.",
                    ],
                    "Queries and documents must be embedded with the same model, and changing "
                    "the model means re-embedding the whole collection. Vectors are compared "
                    "with cosine similarity or, after normalisation, the dot product.",
                ],
            ),
            (
                "Exact search and the need for approximation",
                [
                    "The simplest index is a flat (brute-force) index: compare the query with "
                    "every stored vector and keep the k best. Its cost is O(N * d) for N "
                    "vectors of dimension d, and its recall is perfect. For collections of up "
                    "to a few hundred thousand vectors it is fast enough and the best choice: "
                    "no training, no tuning, exact results.",
                    "For millions or billions of vectors, scanning everything for every query "
                    "becomes too slow. Approximate nearest neighbour (ANN) indexes search only "
                    "a small, promising part of the collection. They trade a little accuracy "
                    "for large speed-ups, and their quality is measured as recall@k relative "
                    "to exact search: the fraction of the true k nearest neighbours that the "
                    "index returns. Well-tuned indexes typically reach 0.95 to 0.99 recall.",
                    "Memory matters too: one million 768-dimensional float32 vectors take "
                    "about 3 GB, so large indexes often quantise vectors.",
                ],
            ),
            (
                "HNSW: hierarchical navigable small world graphs",
                [
                    "HNSW (Malkov and Yashunin, 2016) is the most widely used ANN index in "
                    "vector databases. It builds a graph in which every vector is a node "
                    "connected to some of its nearest neighbours, organised in layers:",
                    [
                        "The bottom layer contains every vector.",
                        "Each higher layer contains a random, exponentially smaller subset of "
                        "the nodes, like the levels of a skip list.",
                        "Upper layers have long-range links for fast travel; lower layers have "
                        "short links for fine search.",
                    ],
                    "A search starts at an entry point in the top layer and greedily moves to "
                    "the neighbour closest to the query. When no neighbour is closer, it drops "
                    "to the next layer; at the bottom layer it keeps a list of the best "
                    "candidates found. Search time grows roughly logarithmically with the "
                    "collection size.",
                    ("h2", "HNSW parameters"),
                    [
                        "M: the maximum number of links per node, typically 16 to 64. Higher M "
                        "gives better recall but more memory.",
                        "efConstruction: the candidate list size while building, for example "
                        "200. Higher values build a better graph more slowly.",
                        "efSearch (often just ef): the candidate list size at query time. It is "
                        "the main speed-recall knob and must be at least k.",
                    ],
                    "HNSW gives excellent recall and speed and supports adding vectors one at "
                    "a time, but it keeps the full vectors and the graph in memory, and "
                    "deletions are usually handled by marking nodes as deleted.",
                ],
            ),
            (
                "IVF: inverted file indexes",
                [
                    "An IVF index partitions the vector space into clusters. At build time, "
                    "k-means clustering finds nlist centroids, and every vector is stored in "
                    'the list of its nearest centroid, which is the "inverted file". At query '
                    "time the query is compared with the centroids, and only the vectors in "
                    "the nprobe closest lists are scanned.",
                    [
                        "nlist: the number of clusters. A common heuristic is a few times the "
                        "square root of N, for example 4096 lists for about a million vectors.",
                        "nprobe: the number of lists searched per query. nprobe = 1 is fastest "
                        "and least accurate; raising it improves recall at the cost of speed.",
                    ],
                    "Unlike HNSW, an IVF index must be trained on a sample of vectors before data is added.",
                    ("h2", "IVF with product quantisation"),
                    "IVF is often combined with product quantisation (IVF-PQ). Product "
                    "quantisation splits each vector into m sub-vectors and replaces each "
                    "sub-vector by the id of its nearest entry in a small codebook of 256 "
                    "entries, so each sub-vector costs one byte. A 768-dimensional float32 "
                    "vector (3,072 bytes) compressed with m = 64 takes only 64 bytes. This "
                    "makes billion-scale search fit in memory, at some loss of accuracy.",
                    ("h2", "Libraries and databases"),
                    "FAISS (Meta) implements flat, IVF, PQ and HNSW indexes; hnswlib is a "
                    "compact HNSW library; Annoy uses random projection trees; ScaNN is "
                    "Google's library. Vector databases such as Qdrant, Milvus, Weaviate, "
                    "Chroma and the pgvector extension for PostgreSQL wrap these indexes with "
                    "storage, metadata filtering and APIs.",
                ],
            ),
        ],
    },
]

DOCX_DOCS: list[dict[str, Any]] = [
    {
        "path": "calculus-optimisation/gradient-descent-and-sgd.docx",
        "title": "Gradient Descent and Stochastic Gradient Descent",
        "subject": "Gradient descent, learning rate, mini-batches, momentum",
        "sections": [
            (
                "Gradient descent",
                [
                    "Training a neural network is an optimisation problem: find the "
                    "parameters theta that make the loss L(theta) as small as possible. "
                    "Gradient descent is the basic algorithm for this. The gradient of the "
                    "loss points in the direction in which the loss increases fastest, so "
                    "taking a small step in the opposite direction decreases it. The update "
                    "rule is:",
                    ("eq", "theta_new = theta - learning_rate * gradient of L(theta)"),
                    "The learning rate (often written eta or lr) sets the step size. Training "
                    "repeats this update many thousands of times.",
                    ("h2", "A worked example"),
                    "Take the loss L(w) = w^2, whose minimum is at w = 0. Its gradient is 2w. "
                    "Starting at w = 1 with a learning rate of 0.1, each step computes "
                    "w = w - 0.1 * 2w = 0.8w. The weight goes 1, 0.8, 0.64, 0.512, and so on, "
                    "shrinking towards the minimum by a factor of 0.8 per step.",
                    ("h2", "Choosing the learning rate"),
                    "In the same example the update is w = (1 - 2 * lr) * w. With lr = 0.5 the "
                    "weight jumps to the minimum in one step; with lr = 1.0 it bounces between "
                    "1 and -1 forever; with any lr above 1.0 it grows each step and training "
                    "diverges. With lr = 0.001 it moves only 0.2 percent of the way per step "
                    "and needs thousands of steps. Real losses behave the same way: a learning "
                    "rate that is too large makes the loss oscillate or explode, and one that "
                    "is too small wastes compute. The learning rate is usually the most "
                    "important hyperparameter to tune.",
                ],
            ),
            (
                "Batch, stochastic and mini-batch gradient descent",
                [
                    "The loss of a model is an average over the training examples, so the "
                    "exact gradient requires a pass over the whole dataset. There are three "
                    "ways to handle this:",
                    [
                        "Full-batch gradient descent computes the gradient on the entire "
                        "training set before each update. It is accurate but far too slow for "
                        "large datasets.",
                        "Stochastic gradient descent (SGD) in its original form uses a single "
                        "randomly chosen example per update. Updates are cheap but very noisy.",
                        "Mini-batch gradient descent uses a small random batch, for example 32 "
                        "to 512 examples, per update. This is what is used in practice, and in "
                        "deep learning it is usually simply called SGD.",
                    ],
                    "The mini-batch gradient is an unbiased but noisy estimate of the full "
                    "gradient. Larger batches reduce the noise and use GPUs efficiently; "
                    "smaller batches give more updates for the same compute. The noise is not "
                    "all bad: it helps the optimiser escape saddle points and sharp minima, "
                    "which is thought to improve generalisation.",
                    "One full pass over the training data is called an epoch. LLM pre-training "
                    "measures batch size in tokens rather than examples, often several million "
                    "tokens per batch, and usually runs for about one epoch over its data.",
                    ("h2", "Gradient accumulation"),
                    "When a large batch does not fit in GPU memory, gradient accumulation "
                    "computes gradients for several smaller micro-batches one after another, "
                    "adds them up, and applies a single update. Accumulating 8 micro-batches "
                    "of 4 examples behaves like one batch of 32.",
                ],
            ),
            (
                "Momentum and the shape of the loss surface",
                [
                    "Plain SGD can be slow in long, narrow valleys of the loss surface, where "
                    "the gradient mostly points across the valley and the updates zig-zag. "
                    "Momentum fixes this by keeping a running velocity v of past gradients:",
                    ("eq", "v = beta * v + gradient;   theta = theta - learning_rate * v"),
                    "With beta = 0.9, a typical value, consistent gradient directions build up "
                    "speed while oscillating components cancel out, much like a ball rolling "
                    "downhill. Nesterov momentum is a variant that evaluates the gradient at "
                    "the look-ahead position theta - learning_rate * beta * v and often "
                    "converges slightly faster.",
                    ("h2", "Convex and non-convex losses"),
                    "For a convex loss, such as that of linear regression, every local minimum "
                    "is the global minimum and gradient descent with a suitable learning rate "
                    "is guaranteed to find it. Neural network losses are non-convex: they have "
                    "many local minima and saddle points. In the very high-dimensional spaces "
                    "of large networks, most critical points are saddle points rather than bad "
                    "local minima, and many different minima reach similarly low loss, which "
                    "is why simple gradient methods work so well in practice.",
                    "Adaptive optimisers such as Adam build on momentum by also scaling each "
                    "parameter's step by the size of its recent gradients; they are described "
                    "in the document on Adam and learning-rate schedules.",
                ],
            ),
        ],
    },
    {
        "path": "neural-networks/perceptron-and-mlp.docx",
        "title": "The Perceptron and the Multi-Layer Perceptron",
        "subject": "Perceptron learning rule, MLPs, universal approximation, parameter counts",
        "sections": [
            (
                "The perceptron",
                [
                    "The perceptron, introduced by Frank Rosenblatt in 1958, is the simplest "
                    "artificial neuron and the ancestor of modern neural networks. It takes an "
                    "input vector x, computes a weighted sum with weights w plus a bias b, and "
                    "outputs 1 if the sum is positive and 0 otherwise:",
                    ("eq", "output = step(w . x + b)"),
                    "The weights say how important each input is, and the bias shifts the "
                    "threshold. The set of points where w . x + b = 0 is a straight line in 2D "
                    "(a hyperplane in general) that splits the input space into two classes.",
                    ("h2", "The perceptron learning rule"),
                    "The perceptron is trained one example at a time. For an example with "
                    "true label y and prediction y_hat, each weight is updated as",
                    ("eq", "w = w + learning_rate * (y - y_hat) * x"),
                    "If the prediction is correct nothing changes; if it is wrong, the weights "
                    "move towards or away from the input. The perceptron convergence theorem "
                    "guarantees that this rule finds a separating hyperplane in a finite number "
                    "of steps whenever the two classes are linearly separable.",
                    ("h2", "The XOR problem"),
                    "A single perceptron can only draw one straight boundary, so it cannot "
                    "learn functions whose classes are not linearly separable. The classic "
                    "example is XOR, which outputs 1 when exactly one of two binary inputs is "
                    "1. Minsky and Papert highlighted this limitation in their 1969 book "
                    "Perceptrons, which contributed to a long slowdown in neural network "
                    "research.",
                ],
            ),
            (
                "The multi-layer perceptron",
                [
                    "A multi-layer perceptron (MLP), also called a feed-forward network, "
                    "stacks layers of neurons. Between the input layer and the output layer it "
                    "has one or more hidden layers, and each neuron uses a smooth non-linear "
                    "activation function such as ReLU, tanh or GELU instead of a hard step. A "
                    "network with one hidden layer computes",
                    ("eq", "h = activation(W1 x + b1);   y = W2 h + b2"),
                    "The hidden layer learns new features of the input, and the output layer "
                    "combines them. With a hidden layer, XOR becomes easy: two hidden units can "
                    "carve out the region where exactly one input is on. Because the "
                    "activation is differentiable, the whole network can be trained with "
                    "backpropagation and gradient descent, which made MLPs practical in the "
                    "1980s.",
                    ("h2", "Universal approximation"),
                    "The universal approximation theorem (Cybenko, 1989; Hornik, 1991) states "
                    "that an MLP with a single hidden layer and enough hidden units can "
                    "approximate any continuous function on a bounded region to any desired "
                    "accuracy. The theorem says nothing about how many units are needed or "
                    "whether training will find the right weights. In practice deeper "
                    "networks represent many functions far more efficiently than one very "
                    "wide layer, which is one reason deep learning uses many layers.",
                ],
            ),
            (
                "Counting parameters and MLPs in transformers",
                [
                    "A fully connected layer with n_in inputs and n_out outputs has "
                    "n_in * n_out weights plus n_out biases. For example, a classifier for "
                    "28 x 28 pixel images with layer sizes 784, 256 and 10 has:",
                    [
                        "input to hidden: 784 * 256 + 256 = 200,960 parameters;",
                        "hidden to output: 256 * 10 + 10 = 2,570 parameters;",
                        "a total of 203,530 parameters.",
                    ],
                    ("h2", "The feed-forward block of a transformer"),
                    "Every transformer layer contains an MLP, applied to each token position "
                    "separately and identically. In the classic design it expands the token "
                    "vector from d_model to 4 * d_model, applies an activation, and projects "
                    "back to d_model. In GPT-2 small this is 768 to 3,072 to 768, which is "
                    "768 * 3,072 * 2 weights plus 3,840 biases, or 4,722,432 parameters per "
                    "layer: about two thirds of the parameters of each transformer layer. "
                    "Modern models often use gated variants such as SwiGLU with three weight "
                    "matrices.",
                    "The attention sub-layer moves information between token positions, while "
                    "the MLP processes each position on its own. Research on interpretability "
                    "suggests that the MLP layers act partly as key-value memories that store "
                    "factual associations learned during training.",
                ],
            ),
        ],
    },
    {
        "path": "tokenisation/wordpiece-sentencepiece-unigram.docx",
        "title": "WordPiece, SentencePiece and the Unigram Tokeniser",
        "subject": "Subword tokenisation algorithms beyond BPE",
        "sections": [
            (
                "WordPiece",
                [
                    "WordPiece is the subword tokeniser used by BERT and its relatives such as "
                    "DistilBERT and ELECTRA. It was developed at Google by Schuster and "
                    "Nakajima in 2012 for Japanese and Korean voice search. Like byte-pair "
                    "encoding, it starts from single characters and repeatedly merges pairs of "
                    "symbols, but it chooses merges differently.",
                    ("h2", "How WordPiece chooses merges"),
                    "BPE merges the most frequent pair. WordPiece merges the pair that most "
                    "increases the likelihood of the training data, which in practice is "
                    "scored as",
                    ("eq", "score(a, b) = count(ab) / (count(a) * count(b))"),
                    "This prefers pairs whose parts rarely appear apart, rather than pairs "
                    "that are merely frequent because their parts are frequent.",
                    ("h2", "The ## prefix and encoding"),
                    "In BERT's vocabulary, a piece that continues a word rather than starting "
                    'it carries the prefix "##". For example, "tokenization" may be split '
                    'into "token" and "##ization", and "embeddings" into "em", "##bed", '
                    '"##ding" and "##s". The ## marker tells the model, and the detokeniser, '
                    "that there was no space before the piece. Encoding is greedy longest-"
                    "match-first: starting at the beginning of a word, take the longest "
                    "vocabulary entry that matches, then continue from where it ended. If a "
                    "word cannot be split into known pieces, the whole word becomes the "
                    "unknown token [UNK].",
                    "BERT-base uncased has a vocabulary of 30,522 entries, including special "
                    "tokens: [CLS] at the start of every input, [SEP] between segments, "
                    "[MASK] for masked language modelling, [PAD] for padding and [UNK].",
                ],
            ),
            (
                "The unigram language model tokeniser",
                [
                    "The unigram tokeniser (Kudo, 2018) works in the opposite direction from "
                    "BPE and WordPiece. Instead of growing a vocabulary by merging, it starts "
                    "with a very large set of candidate substrings and prunes it down.",
                    [
                        "Each piece in the vocabulary has a probability, and the probability of "
                        "a segmentation is the product of the probabilities of its pieces.",
                        "For a given word, the most likely segmentation is found with the Viterbi algorithm.",
                        "Training alternates between estimating piece probabilities with the "
                        "expectation-maximisation algorithm and removing the pieces whose "
                        "removal increases the total loss the least, for example dropping 20 "
                        "to 25 percent of the remaining pieces per round.",
                        "Pruning stops when the target vocabulary size is reached. Single "
                        "characters are always kept so that every word remains encodable.",
                    ],
                    ("h2", "Subword regularisation"),
                    "Because the unigram model defines a probability for every possible "
                    "segmentation, it can sample different segmentations of the same text "
                    "during training instead of always using the best one. This subword "
                    "regularisation acts as data augmentation and makes models more robust to "
                    "noise and spelling variation. BPE-dropout brings a similar idea to BPE by "
                    "randomly skipping merges.",
                    "The unigram tokeniser is used, through the SentencePiece library, by T5, "
                    "ALBERT, XLNet and mBART.",
                ],
            ),
            (
                "SentencePiece",
                [
                    "SentencePiece (Kudo and Richardson, 2018) is a tokenisation library from "
                    "Google rather than a new algorithm: it implements both BPE and the unigram "
                    "model. Its key design choice is to treat the input as a raw stream of "
                    "Unicode characters, spaces included, with no language-specific "
                    "pre-tokenisation.",
                    ("h2", "Handling spaces"),
                    "SentencePiece replaces each space with the visible symbol \u2581 (U+2581, "
                    '"lower one eighth block") and treats it as an ordinary character. The '
                    'sentence "Hello world" may become "\u2581Hello" and "\u2581world". '
                    "Because spaces are kept as part of the tokens, decoding is lossless: "
                    "concatenating the pieces and turning \u2581 back into spaces restores the "
                    "exact original text. This also makes SentencePiece work well for "
                    "languages such as Chinese and Japanese that do not put spaces between "
                    "words.",
                    ("h2", "Byte fallback and use in LLMs"),
                    "With byte fallback enabled, a character that is not in the vocabulary is "
                    "encoded as its UTF-8 bytes, using 256 byte tokens, instead of as an "
                    "unknown token. LLaMA 1 and LLaMA 2 use a SentencePiece BPE model with a "
                    "vocabulary of 32,000 and byte fallback; Mistral 7B uses a similar "
                    "32,000-token SentencePiece vocabulary.",
                    ("h2", "Summary of the main tokenisers"),
                    [
                        "BPE: merges the most frequent pair; used by GPT-2, GPT-4 and Llama 3 (byte-level).",
                        "WordPiece: merges the pair with the best likelihood score; ## marks "
                        "word-internal pieces; used by BERT.",
                        "Unigram: prunes a large vocabulary using piece probabilities; supports "
                        "sampling segmentations; used by T5 and ALBERT.",
                        "SentencePiece: a library implementing BPE and unigram on raw text with "
                        "\u2581 marking spaces; used by LLaMA 2, T5 and many multilingual models.",
                    ],
                ],
            ),
        ],
    },
    {
        "path": "training/rlhf-and-dpo.docx",
        "title": "Preference Tuning: RLHF and DPO",
        "subject": "Reinforcement learning from human feedback and direct preference optimisation",
        "sections": [
            (
                "Why preference tuning",
                [
                    "After instruction tuning, a model can follow requests, but its answers "
                    "may still be unhelpful, untruthful, overly long or unsafe. Writing ideal "
                    "answers for every case is expensive, while comparing two answers and "
                    "saying which is better is easy for people. Preference tuning uses such "
                    "comparisons to steer the model towards the answers people prefer. The two "
                    "best-known methods are reinforcement learning from human feedback (RLHF) "
                    "and direct preference optimisation (DPO).",
                    "A preference dataset consists of a prompt x and two responses, a chosen "
                    "(preferred) response y_w and a rejected response y_l. Public examples "
                    "include Anthropic's HH-RLHF and UltraFeedback.",
                ],
            ),
            (
                "RLHF",
                [
                    "RLHF was popularised by OpenAI's InstructGPT paper (Ouyang et al., 2022), "
                    "the method behind ChatGPT. It has three stages.",
                    ("h2", "Stage 1: supervised fine-tuning"),
                    "A pre-trained model is fine-tuned on human-written demonstrations of good "
                    "responses. This SFT model is the starting point and also serves as the "
                    "reference model.",
                    ("h2", "Stage 2: reward model"),
                    "Human labellers rank several responses to the same prompt. A reward model, "
                    "usually a copy of the language model with a scalar output head, is trained "
                    "to give the chosen response a higher score than the rejected one, using "
                    "the Bradley-Terry pairwise loss:",
                    ("eq", "loss = -log sigmoid( r(x, y_w) - r(x, y_l) )"),
                    ("h2", "Stage 3: reinforcement learning with PPO"),
                    "The policy (the model being tuned) generates responses, the reward model "
                    "scores them, and the policy is updated with the Proximal Policy "
                    "Optimisation (PPO) algorithm to maximise the reward. A KL-divergence "
                    "penalty, beta * KL(policy || reference), keeps the policy close to the "
                    "SFT model. Without it the policy drifts into reward hacking: producing "
                    "odd text that exploits weaknesses of the reward model and scores highly "
                    "without being better.",
                    "In the InstructGPT study, labellers preferred outputs of the 1.3-billion-"
                    "parameter InstructGPT model over those of the 175-billion-parameter GPT-3. "
                    "The drawback of RLHF is complexity: PPO needs four models at once (policy, "
                    "reference, reward model and a value model), many sampled generations, and "
                    "careful hyperparameter tuning.",
                ],
            ),
            (
                "Direct preference optimisation (DPO)",
                [
                    "DPO (Rafailov et al., 2023) reaches the same goal without a separate "
                    "reward model and without reinforcement learning. The authors showed that "
                    "the optimal policy of the KL-regularised reward objective can be written "
                    "in closed form, so the reward can be expressed through the policy itself: "
                    "the language model is secretly its own reward model. This turns "
                    "preference learning into a simple classification-style loss on the "
                    "preference pairs:",
                    (
                        "eq",
                        "loss = -log sigmoid( beta * [ log(pi(y_w|x) / pi_ref(y_w|x)) "
                        "- log(pi(y_l|x) / pi_ref(y_l|x)) ] )",
                    ),
                    "Here pi is the model being trained and pi_ref is the frozen SFT reference "
                    "model. The loss raises the probability of the chosen response and lowers "
                    "that of the rejected one, relative to the reference. beta controls how far "
                    "the model may move from the reference; values around 0.1 are common.",
                    "DPO only needs two models (policy and reference), no sampling during "
                    "training, and behaves like ordinary supervised training, which made it "
                    "very popular for open models such as Zephyr and many Llama fine-tunes.",
                    ("h2", "Related methods"),
                    [
                        "IPO, KTO and ORPO: variants of DPO; KTO works with single responses "
                        "labelled good or bad, and ORPO folds preference tuning into SFT "
                        "without a reference model.",
                        "RLAIF and Constitutional AI (Anthropic, 2022): an AI model, guided by a "
                        "written set of principles, produces the preference labels instead of "
                        "human annotators.",
                        "Online and iterative DPO: new responses are generated and labelled "
                        "between rounds, recovering some benefits of on-policy RL.",
                    ],
                ],
            ),
        ],
    },
]


# ---------------------------------------------------------------------------
# PDF rendering (fpdf2)
# ---------------------------------------------------------------------------


def _pdf_text_check(text: str, where: str) -> str:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError as exc:  # pragma: no cover - guard for editors
        raise SystemExit(f"non latin-1 text in PDF content ({where}): {exc}") from exc
    return text


def build_pdf(doc: dict[str, Any], out: Path) -> None:
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    title = doc["title"]

    class HandbookPDF(FPDF):  # type: ignore[misc]
        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("Helvetica", "I", 8)
            self.set_text_color(110, 110, 110)
            self.cell(0, 10, f"Page {self.page_no()}", align="C")
            self.set_text_color(0, 0, 0)

    pdf = HandbookPDF(format="A4")
    pdf.set_title(title)
    pdf.set_author(AUTHOR)
    pdf.set_subject(doc["subject"])
    pdf.set_creator("data/tools/make_binary_docs.py")
    pdf.set_producer("fpdf2")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(20, 20, 20)

    def para(
        text: str, size: float = 11, style: str = "", font: str = "Helvetica", indent: float = 0
    ) -> None:
        pdf.set_font(font, style, size)
        pdf.set_x(pdf.l_margin + indent)
        pdf.multi_cell(
            pdf.epw - indent,
            size * 0.5,
            _pdf_text_check(text, title),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        pdf.ln(2.5)

    for i, (heading, blocks) in enumerate(doc["sections"]):
        pdf.add_page()
        if i == 0:
            para(title, size=20, style="B")
            pdf.ln(2)
        para(heading, size=15, style="B")
        for block in blocks:
            if isinstance(block, str):
                para(block)
            elif isinstance(block, list):
                for item in block:
                    para("- " + item, indent=5)
            elif block[0] == "h2":
                pdf.ln(1)
                para(block[1], size=12.5, style="B")
            elif block[0] == "eq":
                para(block[1], size=10.5, font="Courier", indent=8)
            else:  # pragma: no cover
                raise ValueError(block)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(bytes(pdf.output()))


# ---------------------------------------------------------------------------
# DOCX rendering (python-docx)
# ---------------------------------------------------------------------------

_ZIP_DATE = (2024, 1, 15, 12, 0, 0)


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip archive with fixed timestamps so the bytes are reproducible."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            new = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            new.compress_type = zipfile.ZIP_DEFLATED
            new.external_attr = 0o644 << 16
            dst.writestr(new, src.read(info.filename))
    return buf.getvalue()


def build_docx(doc: dict[str, Any], out: Path) -> None:
    import docx

    d = docx.Document()
    props = d.core_properties
    props.title = doc["title"]
    props.subject = doc["subject"]
    props.author = AUTHOR
    props.last_modified_by = AUTHOR
    props.comments = "Generated by data/tools/make_binary_docs.py"
    props.keywords = "LLM fundamentals handbook"
    props.created = FIXED_DATE.replace(tzinfo=None)
    props.modified = FIXED_DATE.replace(tzinfo=None)
    props.last_printed = FIXED_DATE.replace(tzinfo=None)
    props.revision = 1

    d.add_heading(doc["title"], level=0)  # "Title" style
    for heading, blocks in doc["sections"]:
        d.add_heading(heading, level=1)
        for block in blocks:
            if isinstance(block, str):
                d.add_paragraph(block)
            elif isinstance(block, list):
                for item in block:
                    d.add_paragraph(item, style="List Bullet")
            elif block[0] == "h2":
                d.add_heading(block[1], level=2)
            elif block[0] == "eq":
                d.add_paragraph(block[1])
            else:  # pragma: no cover
                raise ValueError(block)
    buf = io.BytesIO()
    d.save(buf)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(_normalise_zip(buf.getvalue()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "corpus",
        help="corpus directory to write into (default: data/corpus)",
    )
    args = parser.parse_args(argv)
    for doc in PDF_DOCS:
        build_pdf(doc, args.out / doc["path"])
        print("wrote", doc["path"])
    for doc in DOCX_DOCS:
        build_docx(doc, args.out / doc["path"])
        print("wrote", doc["path"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
