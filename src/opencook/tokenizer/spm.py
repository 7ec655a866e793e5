"""A SentencePiece ``tokenizer.model`` as a ``tokenizers.Tokenizer`` that encodes and decodes as
SentencePiece does.

OpenCoder's released models (and LLaMA-1/2-era models) ship ``tokenizer.model`` and no ``tokenizer.json``;
everything in opencook (generation, the server, the importer) speaks ``tokenizers``. The model file is read
with the ``sentencepiece`` package's own protobuf schema and rebuilt from its settings: the BPE merges are
ranked by the merged piece's score (SentencePiece merges the adjacent pair whose union scores highest),
Unigram keeps the scores; the normalizer spec (precompiled charsmap, extra-whitespace removal, whitespace
escaping, dummy prefix) becomes a normalizer; user-defined pieces are split
off whole (SentencePiece never merges across them); control pieces (``<s>``, ``</s>``, chat markers) are
special added tokens, so ``decode(..., skip_special_tokens=True)`` drops them as SentencePiece does.
"""

from __future__ import annotations

import re
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import BPE, Unigram

SPM_FILE = "tokenizer.model"
_NORMAL, _UNKNOWN, _CONTROL, _USER, _UNUSED, _BYTE = 1, 2, 3, 4, 5, 6
_UNIGRAM, _BPE = 1, 2


def read_model_proto(path: str | Path):
    """The parsed ``ModelProto`` of a SentencePiece model file (needs the ``sentencepiece`` package)."""
    try:
        from sentencepiece import sentencepiece_model_pb2
    except ImportError:
        raise ImportError(f"{path} is a SentencePiece model: pip install -e '.[lm]' (it brings sentencepiece)") \
            from None
    proto = sentencepiece_model_pb2.ModelProto()
    try:
        proto.ParseFromString(Path(path).read_bytes())
    except Exception as e:  # protobuf's DecodeError
        raise ValueError(f"{path} is not a SentencePiece model ({e}): pass the tokenizer.model a model ships") \
            from None
    if not proto.pieces:
        raise ValueError(f"{path} holds no pieces: is it a SentencePiece tokenizer.model?")
    return proto


def _bpe_merges(pieces) -> list[tuple[str, str]]:
    """Every split of a normal piece into two normal pieces, best merged score first (ties: lower id)."""
    normal = {p.piece: (p.score, i) for i, p in enumerate(pieces) if p.type == _NORMAL}
    ranked = []
    for piece, (score, i) in normal.items():
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in normal and right in normal:
                ranked.append((-score, i, left, right))
    return [(left, right) for _, _, left, right in sorted(ranked)]


def sentencepiece_tokenizer(path: str | Path) -> Tokenizer:
    """Convert the SentencePiece model at ``path`` (BPE or Unigram) into a ``tokenizers.Tokenizer``."""
    proto = read_model_proto(path)
    spec, norm, pieces = proto.trainer_spec, proto.normalizer_spec, proto.pieces
    user = [p.piece for p in pieces if p.type == _USER]
    if spec.model_type == _BPE:
        vocab = {p.piece: i for i, p in enumerate(pieces)}
        model = BPE(vocab=vocab, merges=_bpe_merges(pieces), unk_token=spec.unk_piece, fuse_unk=True,
                    byte_fallback=spec.byte_fallback, ignore_merges=bool(user))
    elif spec.model_type == _UNIGRAM:
        model = Unigram([(p.piece, p.score) for p in pieces], unk_id=spec.unk_id, byte_fallback=spec.byte_fallback)
    else:
        kinds = {3: "word", 4: "char"}
        raise ValueError(f"{path} is a SentencePiece {kinds.get(spec.model_type, spec.model_type)} model: only BPE "
                         "and Unigram models (what LLaMA-style and OpenCoder tokenizers use) are supported")
    tok = Tokenizer(model)
    steps = []
    if norm.precompiled_charsmap:
        steps.append(normalizers.Precompiled(norm.precompiled_charsmap))
    if norm.remove_extra_whitespaces:  # spaces only: newlines and tabs stay, as in SentencePiece
        steps += [normalizers.Replace(Regex(r"\A +| +\z"), ""), normalizers.Replace(Regex(" {2,}"), " ")]
    if norm.escape_whitespaces:
        steps.append(normalizers.Replace(" ", "▁"))
    if norm.add_dummy_prefix:  # to every stretch between special tokens (SentencePiece never sees those)
        steps.append(normalizers.Prepend("▁"))
    tok.normalizer = normalizers.Sequence(steps)
    if user:
        pattern = "|".join(re.escape(u) for u in sorted(user, key=len, reverse=True))
        tok.pre_tokenizer = pre_tokenizers.Split(Regex(pattern), behavior="isolated")
    steps = [decoders.Replace("▁", " ")]
    if spec.byte_fallback:
        steps.append(decoders.ByteFallback())
    steps.append(decoders.Fuse())
    if norm.add_dummy_prefix:
        steps.append(decoders.Strip(content=" ", left=1))
    tok.decoder = decoders.Sequence(steps)
    tok.add_special_tokens([AddedToken(p.piece, special=True, normalized=False)
                            for p in pieces if p.type == _CONTROL])
    return tok
