import numpy as np
import pytest
import torch

from rnnkit.data.collate import BucketBatchSampler, PaddedBatch, SeededBatchSampler, pad_collate


def test_pad_collate_pads_inputs_and_sequence_targets():
    items = [(torch.ones(3, 2), torch.ones(3)), (torch.ones(1, 2) * 2, torch.ones(1))]
    b = pad_collate(items, target_padding_value=-100)
    assert isinstance(b, PaddedBatch)
    assert b.inputs.shape == (2, 3, 2) and b.lengths.tolist() == [3, 1]
    assert b.inputs[1, 1:].abs().sum() == 0 and b.inputs[1, 0].tolist() == [2.0, 2.0]
    assert b.targets.tolist() == [[1, 1, 1], [1, -100, -100]]


def test_pad_collate_stacks_label_targets_and_bare_inputs():
    b = pad_collate([(torch.zeros(4, 1), 1), (torch.zeros(2, 1), 0)])
    assert b.targets.tolist() == [1, 0]
    b = pad_collate([torch.zeros(4), torch.zeros(2)])
    assert b.inputs.shape == (2, 4) and b.targets is None
    with pytest.raises(ValueError, match="trailing shape"):
        pad_collate([torch.zeros(2, 3), torch.zeros(2, 4)])


def test_seeded_sampler_order_depends_only_on_seed_and_epoch():
    s = SeededBatchSampler(10, 3, seed=4)
    s.set_epoch(1)
    first = list(s)
    s.set_epoch(0)
    s.set_epoch(1)
    assert list(s) == first and len(first) == len(s) == 4
    s.set_epoch(2)
    assert list(s) != first
    s.set_epoch(1)
    s.skip(2)
    assert list(s) == first[2:]
    assert sorted(i for b in first for i in b) == list(range(10))


def test_shards_union_equals_global_batch():
    single = SeededBatchSampler(16, 4, seed=1)
    ranks = [SeededBatchSampler(16, 2, seed=1, rank=r, world_size=2) for r in range(2)]
    for b, (r0, r1) in zip(single, zip(*ranks)):
        assert b == r0 + r1
    odd = [list(SeededBatchSampler(7, 2, rank=r, world_size=2)) for r in range(2)]
    assert len(odd[0]) == len(odd[1])


def test_bucketing_reduces_padding_and_covers_everything():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 100, size=200).tolist()

    def padding(sampler):
        return sum(len(b) * max(lengths[i] for i in b) - sum(lengths[i] for i in b)
                   for b in sampler)

    bucket = BucketBatchSampler(lengths, 8, seed=0, pool_factor=10)
    plain = SeededBatchSampler(200, 8, seed=0)
    assert padding(bucket) < 0.3 * padding(plain)
    assert sorted(i for b in bucket for i in b) == list(range(200))
