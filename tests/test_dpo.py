"""DPO: the loss on hand-computed cases, answer log-probabilities, a tiny tuning run, and the
course's preference set (well-formed in both languages) with clear messages for bad sets."""

import copy
import json
import math

import pytest
import torch
import torch.nn.functional as F

from lessons import dpo
from lessons.dpo import DPOConfig, PreferenceError, PreferencePair
from lessons.gpt import GPT, GPTConfig
from lessons.tokenizer import CharTokenizer

PAIRS = [
    PreferencePair("Q: hi\nA:", " hello there", " go away"),
    PreferencePair("Q: tea?\nA:", " yes, thanks", " no"),
]


@pytest.fixture(scope="module")
def tokenizer() -> CharTokenizer:
    return CharTokenizer.train("".join(p.prompt + p.chosen + p.rejected for p in PAIRS))


def tiny_gpt(tokenizer) -> GPT:
    torch.manual_seed(0)
    config = GPTConfig(tokenizer.vocab_size, context_length=32, n_layer=1, n_head=2, n_embd=16)
    return GPT(config).eval()


def test_loss_is_log_2_when_policy_and_reference_agree():
    scores = torch.tensor([-3.0, -10.0])
    loss = dpo.dpo_loss(scores, scores - 1, scores, scores - 1, beta=0.1)
    assert loss.item() == pytest.approx(math.log(2))


def test_loss_for_known_margins():
    zero = torch.zeros(2)
    # the chosen answer gained 2 and the rejected lost 1 (margin 3), then the reverse
    chosen, rejected = torch.tensor([2.0, -1.0]), torch.tensor([-1.0, 2.0])
    loss = dpo.dpo_loss(chosen, rejected, zero, zero, beta=0.5)
    expected = (math.log(1 + math.exp(-1.5)) + math.log(1 + math.exp(1.5))) / 2
    assert loss.item() == pytest.approx(expected)
    # only the differences to the reference count, not the log-probabilities themselves
    shifted = dpo.dpo_loss(chosen - 7, rejected + 4, zero - 7, zero + 4, beta=0.5)
    assert shifted.item() == pytest.approx(expected)
    assert dpo.dpo_loss(chosen[:1], rejected[:1], zero[:1], zero[:1], 0.5) < math.log(2)


def test_answer_logprobs_sum_the_answer_tokens_only(tokenizer):
    model = tiny_gpt(tokenizer)
    prompts, answers = [PAIRS[0].prompt, PAIRS[1].prompt], [" hello there", " no"]
    batch = dpo.encode(tokenizer, prompts, answers, limit=32)
    assert batch.ids.shape[0] == 2 and batch.answer_mask.sum(dim=1).tolist() == [12, 3]
    got = dpo.answer_logprobs(model, batch)
    for row, (prompt, answer) in enumerate(zip(prompts, answers, strict=True)):
        prompt_ids, answer_ids = tokenizer.encode(prompt), tokenizer.encode(answer)
        ids = torch.tensor([prompt_ids + answer_ids])  # unpadded, one at a time
        logp = F.log_softmax(model(ids)[0][0], dim=-1)
        start = len(prompt_ids)
        expected = sum(logp[start + i - 1, t].item() for i, t in enumerate(answer_ids))
        assert got[row].item() == pytest.approx(expected, abs=1e-4)


def test_tuning_prefers_the_chosen_answers_and_keeps_the_reference(tokenizer):
    model = tiny_gpt(tokenizer)
    before = copy.deepcopy(model.state_dict())
    config = DPOConfig(beta=0.5, learning_rate=1e-2, steps=10, eval_every=5)
    result = dpo.train(model, tokenizer, PAIRS, config, held_out=PAIRS[:1])
    first, last = result.records[0], result.records[-1]
    assert [r.step for r in result.records] == [0, 5, 10]
    assert first.loss == pytest.approx(math.log(2), abs=1e-5)
    assert first.chosen == first.rejected == 0 and first.held_out_chosen == 0
    assert last.loss < first.loss
    assert last.chosen - last.rejected > 0 and last.accuracy == 1.0
    assert last.held_out_accuracy == 1.0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    again = dpo.train(model, tokenizer, PAIRS, config, held_out=PAIRS[:1])
    assert again.records == result.records  # seeded: the same run twice
    changes = dpo.answer_changes(result.policy, model, tokenizer, PAIRS)
    means = [sum(column) / len(changes) for column in zip(*changes, strict=True)]
    assert means == pytest.approx([last.chosen, last.rejected], abs=1e-4)


def test_the_course_preference_set_is_well_formed_in_both_languages():
    sets = dpo.load_preferences()
    assert set(sets) == {"de", "en"}
    assert len(sets["de"].train) == len(sets["en"].train) >= 12
    assert len(sets["de"].held_out) == len(sets["en"].held_out) >= 4
    for lang, words in [("de", "Frage"), ("en", "Question")]:
        pairs = sets[lang].train + sets[lang].held_out
        assert all(p.prompt.startswith(words) for p in pairs)
        assert all(len(p.prompt + max(p.chosen, p.rejected, key=len)) < 100 for p in pairs)
        # held out means held out: no answer of a held-out pair is trained on
        trained = {p.chosen for p in sets[lang].train} | {p.rejected for p in sets[lang].train}
        assert not trained & {a for p in sets[lang].held_out for a in (p.chosen, p.rejected)}


def data() -> dict:
    return json.loads(dpo.DATA_FILE.read_text(encoding="utf-8"))


def test_an_empty_set_is_explained(tokenizer):
    with pytest.raises(PreferenceError, match="empty"):
        dpo.train(tiny_gpt(tokenizer), tokenizer, [], DPOConfig())
    broken = data()
    broken["de"]["held_out"] = []
    with pytest.raises(PreferenceError, match="de/held_out is empty"):
        dpo.parse_preferences(broken)


def test_an_unbalanced_set_is_explained():
    broken = data()
    broken["en"]["train"].pop()
    with pytest.raises(PreferenceError, match="unbalanced"):
        dpo.parse_preferences(broken)
    broken = data()
    del broken["en"]["train"][0]["rejected"]
    with pytest.raises(PreferenceError, match="Pair 1 of en/train lacks rejected"):
        dpo.parse_preferences(broken)
    broken = data()
    broken["de"]["train"][1]["rejected"] = broken["de"]["train"][1]["chosen"]
    with pytest.raises(PreferenceError, match="must differ"):
        dpo.parse_preferences(broken)


def test_a_pair_too_long_for_the_model_is_explained(tokenizer):
    long = [PreferencePair("Q: hi\nA:", " hello" * 10, " no")]
    with pytest.raises(PreferenceError, match="at most 32"):
        dpo.train(tiny_gpt(tokenizer), tokenizer, long, DPOConfig(steps=1))
