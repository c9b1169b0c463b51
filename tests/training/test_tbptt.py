import torch
from training_helpers import TinyGRU, ragged_dataset

from rnnkit.data.collate import PaddedBatch, pad_collate
from rnnkit.training import Trainer, TrainerConfig, default_chunk, seed_everything


def train(tbptt=None, stateful=False, record=False, epochs=2):
    seed_everything(0)
    model = TinyGRU()
    model.record = record
    cfg = TrainerConfig(epochs=epochs, batch_size=4, lr=1e-2, tbptt_steps=tbptt,
                        stateful=stateful, drop_last=stateful, shuffle=not stateful,
                        progress="none")
    t = Trainer(cfg, collate_fn=pad_collate)
    val = None if record else ragged_dataset(4, seed=2)  # recording counts training calls only
    t.fit(model, ragged_dataset(16, T=9), val)
    return model, t


def params(m):
    return torch.cat([p.detach().flatten() for p in m.parameters()])


def test_one_chunk_covering_the_sequence_equals_full_bptt():
    full, _ = train(tbptt=None)
    one_chunk, t = train(tbptt=9)
    torch.testing.assert_close(params(one_chunk), params(full), rtol=0, atol=0)
    truncated, t3 = train(tbptt=3)
    assert not torch.allclose(params(truncated), params(full), atol=1e-4)
    assert t3.global_step == 3 * t.global_step  # one optimiser step per chunk


def test_default_chunk_makes_lengths_chunk_local():
    b = PaddedBatch(torch.randn(2, 7, 3), torch.randn(2, 7, 1), torch.tensor([7, 3]))
    c = default_chunk(b, 4, 7)
    assert c.inputs.shape == (2, 3, 3) and torch.equal(c.inputs, b.inputs[:, 4:7])
    assert c.lengths.tolist() == [3, 0]
    assert default_chunk(b, 0, 4).lengths.tolist() == [4, 3]
    d = default_chunk({"x": b.inputs, "label": torch.tensor([1, 0]), "lengths": b.lengths}, 2, 5)
    assert d["x"].shape == (2, 3, 3) and d["label"].tolist() == [1, 0]
    assert d["lengths"].tolist() == [3, 1]


def test_state_is_carried_detached_across_chunks_and_reset_per_batch():
    model, _ = train(tbptt=4, record=True, epochs=1)
    seen = model.seen_states
    assert seen[0] is None and seen[1] is not None and not seen[1].requires_grad
    # With T<=9 and k=4 a batch has 1-3 chunks and each batch starts again from None.
    starts = [i for i, s in enumerate(seen) if s is None]
    assert len(starts) == 4  # 16 items / batch 4
    assert all(b - a <= 3 for a, b in zip(starts, [*starts[1:], len(seen)]))


def test_ragged_sequences_keep_their_final_state_across_chunks():
    seed_everything(0)
    model = TinyGRU()
    items = [(torch.randn(7, 2), torch.randn(7, 1)), (torch.randn(3, 2), torch.randn(3, 1))]
    batch = pad_collate(items)
    _, _, h_full = model.training_step(batch)
    h = None
    for start in range(0, 7, 2):
        _, _, h = model.training_step(default_chunk(batch, start, min(start + 2, 7)), h)
    torch.testing.assert_close(h, h_full)


def test_stateful_carries_state_across_consecutive_batches():
    model, _ = train(tbptt=20, stateful=True, record=True, epochs=2)
    seen = model.seen_states
    assert len(seen) == 8  # 4 batches x 2 epochs, one chunk each
    assert seen[0] is None and seen[4] is None  # reset at each epoch start
    assert all(s is not None and not s.requires_grad for s in seen[1:4] + seen[5:])
