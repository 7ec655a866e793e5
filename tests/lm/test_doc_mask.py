"""Document-masked attention: a packed row gives every document the logits it gets alone."""

from __future__ import annotations

import torch

from opencook.lm.model import Llama, document_ids, model_config

EOS = 7


def test_packed_batch_gives_each_document_its_own_logits():
    torch.manual_seed(0)
    cfg = model_config("tiny", vocab_size=300, max_seq_len=128)
    model = Llama(cfg).eval()
    g = torch.Generator().manual_seed(1)
    docs = [torch.randint(10, 300, (n,), generator=g) for n in (11, 25, 6, 20)]
    with_eos = [torch.cat([d, torch.tensor([EOS])]) for d in docs]
    row0 = torch.cat(with_eos[:3])  # 3 documents
    row1 = torch.cat([with_eos[3], with_eos[1]])[: len(row0)]  # 2 documents, the second cut short
    packed = torch.stack([row0, row1])
    ids = document_ids(packed, EOS)
    assert ids[0].tolist() == [0] * 12 + [1] * 26 + [2] * 7
    with torch.no_grad():
        logits = model(packed, doc_ids=ids)
        plain = model(packed)
        start = 0
        for doc in with_eos[:3]:
            alone = model(doc[None])[0]
            torch.testing.assert_close(logits[0, start:start + len(doc)], alone, rtol=1e-5, atol=1e-5)
            start += len(doc)
        alone = model(with_eos[3][None])[0]
        torch.testing.assert_close(logits[1, : len(with_eos[3])], alone, rtol=1e-5, atol=1e-5)
        cut = len(row0) - len(with_eos[3])
        torch.testing.assert_close(logits[1, len(with_eos[3]):], model(with_eos[1][None, :cut])[0], rtol=1e-5,
                                   atol=1e-5)
    # Without the mask the later documents see the earlier ones: the option changes what is computed.
    assert not torch.allclose(plain[0, 12:38], logits[0, 12:38], atol=1e-3)
    torch.testing.assert_close(plain[0, :12], logits[0, :12], rtol=1e-5, atol=1e-5)


def test_document_mask_trains_through_backward():
    torch.manual_seed(0)
    cfg = model_config("tiny", vocab_size=64, n_layers=2, max_seq_len=32)
    model = Llama(cfg)
    x = torch.randint(0, 64, (2, 32))
    x[:, 9] = EOS
    loss = model(x, doc_ids=document_ids(x, EOS)).logsumexp(-1).mean()
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
