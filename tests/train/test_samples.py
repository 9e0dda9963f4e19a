import torch

from turngym.core.episode import Episode, Turn
from turngym.train.samples import build_samples, collate, length_buckets, padded_batches


def _turn(i, prompt, resp, adv, logps=None):
    return Turn(index=i, prompt_token_ids=prompt, response_token_ids=resp, loss_mask=[1] * len(resp), rollout_logprobs=logps or [-0.5] * len(resp), advantage=adv)


def test_step_rows_align_predictions_with_response_tokens():
    ep = Episode(env_id="x", turns=[_turn(0, [5, 6, 7], [8, 9], 1.5), _turn(1, [5, 6], [4], 0.0)])
    (s,) = build_samples([ep], layout="step", drop_zero_advantage=True)
    assert s.input_ids == [5, 6, 7, 8, 9]
    # position t predicts token t+1: positions 2 and 3 predict 8 and 9
    assert s.loss_mask == [0, 0, 1, 1]
    assert s.advantages == [0.0, 0.0, 1.5, 1.5]
    assert s.spans == [(0, 0, 2, 2)]
    assert len(build_samples([ep], layout="step")) == 2


def test_concat_layout_locates_each_turn():
    t0 = _turn(0, [1, 2], [3, 4], 1.0)
    t1 = _turn(1, [1, 2, 3, 4, 50, 51], [6], -1.0, [-0.25])
    ep = Episode(env_id="x", layout="concat", turns=[t0, t1])
    (s,) = build_samples([ep], layout="concat")
    assert s.input_ids == [1, 2, 3, 4, 50, 51, 6]
    assert s.loss_mask == [0, 1, 1, 0, 0, 1]
    assert s.advantages == [0, 1.0, 1.0, 0, 0, -1.0]
    assert s.old_logprobs[-1] == -0.25


def test_concat_rejects_a_transcript_that_does_not_extend():
    import pytest

    from turngym.train.samples import SampleError

    ep = Episode(env_id="x", turns=[_turn(0, [1, 2], [3], 1.0), _turn(1, [1, 9, 8, 7], [6], 1.0)])
    with pytest.raises(SampleError, match="not at position"):
        build_samples([ep], layout="concat")


def test_length_buckets_cut_padding():
    eps = [Episode(env_id="x", turns=[_turn(0, list(range(n)), [1], 1.0)]) for n in [3, 40, 4, 38, 5, 41, 2, 39]]
    samples = build_samples(eps)
    buckets = length_buckets(samples, token_budget=100)
    assert sorted(i for b in buckets for i in b) == list(range(8))
    padded = sum(collate(samples, b, 0).padded_tokens for b in buckets)
    naive = sum(collate(samples, b, 0).padded_tokens for b in padded_batches(samples, 2))
    assert padded < naive
    for b in buckets:
        batch = collate(samples, b, 0)
        assert batch.padded_tokens <= max(100, max(len(samples[i]) for i in b))
        assert torch.equal(batch.attention_mask.sum(1), torch.tensor([len(samples[i]) for i in b]))
