"""Direct preference optimization (DPO): teach a model which of two answers people prefer.

RLHF, the method that made ChatGPT a polite chat partner, has people compare two answers,
trains a reward model on their choices and then tunes the language model (the policy) to
earn a high reward. DPO (Rafailov et al., 2023, https://arxiv.org/abs/2305.18290) gets
there without the reward model: for each pair it raises the probability of the preferred
(chosen) answer and lowers that of the rejected one, both measured against a frozen copy
of the model before tuning (the reference), so that the model does not drift far from it.

The loss of one pair, with log-probabilities of the whole answer after its prompt::

    margin = (log p(chosen) - log ref(chosen)) - (log p(rejected) - log ref(rejected))
    loss = -log sigmoid(beta * margin)

At the start policy and reference agree, the margin is 0 and the loss is log 2.

    >>> from lessons import course, dpo
    >>> gpt = course.load_small()  # doctest: +SKIP
    >>> pairs = dpo.load_preferences()["de"].train
    >>> result = dpo.train(gpt.model, gpt.tokenizer, pairs, dpo.DPOConfig())  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from lessons.gpt import GPT
from lessons.neural_torch import one_thread
from lessons.tokenizer import Tokenizer

DATA_FILE = Path(__file__).parent / "data" / "preferences.json"
LANGS = ("de", "en")
SPLITS = ("train", "held_out")


class PreferenceError(ValueError):
    """A preference set that cannot be trained on; the message says what to fix."""


@dataclass(frozen=True)
class PreferencePair:
    """A prompt and two answers to it: the one people preferred and the one they rejected."""

    prompt: str
    chosen: str
    rejected: str


@dataclass(frozen=True)
class PreferenceSet:
    """One language's pairs: those to train on and those kept back to test on."""

    train: list[PreferencePair]
    held_out: list[PreferencePair]


@dataclass
class DPOConfig:
    """How to tune: beta (how far from the reference the policy may go), the optimizer's
    learning rate, the number of steps (each over all training pairs) and the seed."""

    beta: float = 0.1
    learning_rate: float = 1e-4
    steps: int = 60
    eval_every: int = 5
    seed: int = 0


@dataclass
class DPORecord:
    """The state after ``step`` steps: the loss, and how the log-probabilities of the chosen
    and the rejected answers moved away from the reference (means over the pairs)."""

    step: int
    loss: float
    chosen: float
    rejected: float
    accuracy: float  # share of the pairs where the chosen answer gained more than the rejected
    held_out_chosen: float | None = None
    held_out_rejected: float | None = None
    held_out_accuracy: float | None = None


@dataclass
class DPOResult:
    """The tuned policy (the reference stays as it was) and the records of the run."""

    policy: GPT
    records: list[DPORecord] = field(default_factory=list)


def load_preferences(path: Path = DATA_FILE) -> dict[str, PreferenceSet]:
    """The preference sets per language from ``path`` (default: the course's own, in
    ``lessons/data/preferences.json``), checked."""
    return parse_preferences(json.loads(Path(path).read_text(encoding="utf-8")))


def parse_preferences(data: dict) -> dict[str, PreferenceSet]:
    """Preference sets from the JSON structure of a preference file.

    The languages translate each other, so each split must have as many pairs in German as
    in English; every pair needs a question and two different, non-empty answers.
    """
    sets = {}
    for lang in LANGS:
        if lang not in data or lang not in data.get("prompt", {}):
            raise PreferenceError(f"The preference set has no pairs or no prompt for {lang!r}.")
        template = data["prompt"][lang]
        splits = {}
        for split in SPLITS:
            records = data[lang].get(split, [])
            pairs = []
            for number, record in enumerate(records, start=1):
                missing = [k for k in ("question", "chosen", "rejected") if not record.get(k)]
                if missing:
                    raise PreferenceError(
                        f"Pair {number} of {lang}/{split} lacks {', '.join(missing)}: every "
                        "pair needs a question, a chosen and a rejected answer."
                    )
                prompt = template.format(question=record["question"])
                answers = (" " + record["chosen"], " " + record["rejected"])  # after "Answer:"
                pairs.append(PreferencePair(prompt, *answers))
            splits[split] = check_pairs(pairs, f"{lang}/{split}")
        sets[lang] = PreferenceSet(**splits)
    for split in SPLITS:
        sizes = {lang: len(getattr(sets[lang], split)) for lang in LANGS}
        if len(set(sizes.values())) > 1:
            raise PreferenceError(
                f"The split {split!r} is unbalanced: {sizes} pairs. The languages translate "
                "each other, so give each the same pairs."
            )
    return sets


def check_pairs(pairs: list[PreferencePair], name: str = "the preference set") -> list:
    """``pairs`` if they can be trained on; else a ``PreferenceError`` that says why."""
    if not pairs:
        raise PreferenceError(f"{name} is empty: DPO needs at least one preference pair.")
    for number, pair in enumerate(pairs, start=1):
        if not (pair.prompt.strip() and pair.chosen.strip() and pair.rejected.strip()):
            raise PreferenceError(f"Pair {number} of {name} has an empty prompt or answer.")
        if pair.chosen.strip() == pair.rejected.strip():
            raise PreferenceError(
                f"Pair {number} of {name} prefers an answer to itself ({pair.chosen.strip()!r}):"
                " the chosen and the rejected answer must differ."
            )
    return pairs


@dataclass
class Batch:
    """Prompts with answers as one padded tensor, and which positions predict the answer."""

    ids: Tensor  # (N, T): prompt + answer tokens, padded at the end
    answer_mask: Tensor  # (N, T - 1): True where the next token belongs to the answer


def encode(tokenizer: Tokenizer, prompts: list[str], answers: list[str], limit: int) -> Batch:
    """Each prompt followed by its answer as token ids; an error if one is longer than
    ``limit`` (the model's context length)."""
    rows, masks = [], []
    for prompt, answer in zip(prompts, answers, strict=True):
        prompt_ids, answer_ids = tokenizer.encode(prompt), tokenizer.encode(answer)
        ids = prompt_ids + answer_ids
        if len(ids) > limit:
            raise PreferenceError(
                f"{prompt + answer!r} has {len(ids)} tokens; the model reads at most {limit}. "
                "Shorten the question or the answer."
            )
        rows.append(ids)
        masks.append([False] * (len(prompt_ids) - 1) + [True] * len(answer_ids))
    width = max(len(ids) for ids in rows)
    ids = torch.tensor([row + [0] * (width - len(row)) for row in rows])
    mask = torch.tensor([m + [False] * (width - 1 - len(m)) for m in masks])
    return Batch(ids, mask)


def answer_logprobs(model: GPT, batch: Batch) -> Tensor:
    """log p(answer | prompt) for each row: the sum of the answer tokens' log-probabilities.

    Padding sits after the answer, and a GPT reads only leftwards, so it changes nothing.
    """
    logits, _ = model(batch.ids)
    logp = F.log_softmax(logits[:, :-1], dim=-1)
    token_logp = logp.gather(-1, batch.ids[:, 1:, None]).squeeze(-1)
    return (token_logp * batch.answer_mask).sum(dim=-1)


def dpo_loss(
    policy_chosen: Tensor,
    policy_rejected: Tensor,
    reference_chosen: Tensor,
    reference_rejected: Tensor,
    beta: float,
) -> Tensor:
    """The DPO loss, averaged over the pairs: -log sigmoid(beta * margin), with the margin
    how much more the chosen answer gained against the reference than the rejected one."""
    margin = (policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)
    return -F.logsigmoid(beta * margin).mean()


class _Pairs:
    """The chosen and rejected answers of some pairs, encoded, with the reference's scores."""

    def __init__(self, reference: GPT, tokenizer: Tokenizer, pairs: list[PreferencePair]):
        prompts = [pair.prompt for pair in pairs]
        limit = reference.config.context_length
        self.chosen = encode(tokenizer, prompts, [pair.chosen for pair in pairs], limit)
        self.rejected = encode(tokenizer, prompts, [pair.rejected for pair in pairs], limit)
        with torch.no_grad():
            self.reference_chosen = answer_logprobs(reference, self.chosen)
            self.reference_rejected = answer_logprobs(reference, self.rejected)

    def score(self, policy: GPT, beta: float) -> tuple[Tensor, Tensor, Tensor]:
        """The loss, and each pair's change of log p(chosen) and log p(rejected)."""
        chosen = answer_logprobs(policy, self.chosen)
        rejected = answer_logprobs(policy, self.rejected)
        loss = dpo_loss(chosen, rejected, self.reference_chosen, self.reference_rejected, beta)
        return loss, chosen - self.reference_chosen, rejected - self.reference_rejected


def train(
    model: GPT,
    tokenizer: Tokenizer,
    pairs: list[PreferencePair],
    config: DPOConfig,
    held_out: list[PreferencePair] | None = None,
) -> DPOResult:
    """Tune a copy of ``model`` (the policy) with DPO on ``pairs``; ``model`` is the reference
    and stays unchanged. Records the state every ``config.eval_every`` steps (and at 0),
    also on ``held_out`` pairs if given."""
    check_pairs(pairs, "the training pairs")
    if config.steps < 0 or config.beta <= 0 or config.learning_rate <= 0:
        raise ValueError("steps must be at least 0, beta and the learning rate above 0.")
    with one_thread():  # a model this small runs fastest on one thread
        torch.manual_seed(config.seed)
        reference = model.eval()
        policy = copy.deepcopy(model).eval()  # eval: no dropout, the same numbers every time
        train_set = _Pairs(reference, tokenizer, pairs)
        test_set = (
            _Pairs(reference, tokenizer, check_pairs(held_out, "held_out")) if held_out else None
        )
        optimizer = torch.optim.AdamW(
            policy.parameters(), lr=config.learning_rate, weight_decay=0.0
        )
        result = DPOResult(policy)
        for step in range(config.steps + 1):
            loss, chosen, rejected = train_set.score(policy, config.beta)
            if step % config.eval_every == 0 or step == config.steps:
                record = _record(step, loss, chosen, rejected, policy, test_set, config)
                result.records.append(record)
            if step == config.steps:
                break
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return result


def answer_changes(
    policy: GPT, reference: GPT, tokenizer: Tokenizer, pairs: list[PreferencePair]
) -> list[tuple[float, float]]:
    """For each pair, how much log p(chosen) and log p(rejected) changed from ``reference``
    to ``policy``: exp of a change is the factor by which the answer became more likely."""
    scored = _Pairs(reference, tokenizer, check_pairs(pairs))
    with torch.no_grad():
        _, chosen, rejected = scored.score(policy, beta=1.0)
    return list(zip(chosen.tolist(), rejected.tolist(), strict=True))


def _record(step, loss, chosen, rejected, policy, test_set, config) -> DPORecord:
    record = DPORecord(
        step=step,
        loss=loss.item(),
        chosen=chosen.mean().item(),
        rejected=rejected.mean().item(),
        accuracy=(chosen > rejected).float().mean().item(),
    )
    if test_set is not None:
        with torch.no_grad():
            _, test_chosen, test_rejected = test_set.score(policy, config.beta)
        record.held_out_chosen = test_chosen.mean().item()
        record.held_out_rejected = test_rejected.mean().item()
        record.held_out_accuracy = (test_chosen > test_rejected).float().mean().item()
    return record
