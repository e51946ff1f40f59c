import doctest
from pathlib import Path

import pytest
import torch

from logbert.config import ModelConfig, TrainConfig
from logbert.errors import UnknownArtifact
from logbert.model import kernels
from logbert.model.encoder import LogBertEncoder
from logbert.parsing.vocab import Vocab
from logbert.training import trainer
from logbert.training.trainer import EpochStats, TrainResult, lr_factor, train_encoder
from logbert.windowing.dataset import MaskedKeyDataset, encode_sequences

torch.set_num_threads(1)
CYCLE = [10, 11, 12, 13, 14, 15]
SEQS = [[CYCLE[(s + i) % 6] for i in range(4 + s % 5)] for s in range(48)]
VOCAB = Vocab.fit(SEQS)
MODEL = ModelConfig(vocab_size=len(VOCAB), max_len=8, d_model=16, d_ff=32, n_heads=2, n_layers=1)
TRAIN = TrainConfig(epochs=3, batch_size=8, lr=5e-3, seed=7)


def _train(tmp: Path | None = None, config: TrainConfig = TRAIN, **kw: object) -> TrainResult:
    return train_encoder(MODEL, config, VOCAB, SEQS[:40], SEQS[40:], checkpoint_dir=tmp, progress=False, **kw)  # type: ignore[arg-type]


def _same_weights(a: TrainResult, b: TrainResult) -> bool:
    sa, sb = a.model.state_dict(), b.model.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_same_seed_gives_identical_weights_and_the_caller_rng_is_untouched() -> None:
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a, b = _train(), _train()
    assert torch.equal(torch.get_rng_state(), before)
    assert _same_weights(a, b) and torch.equal(a.center, b.center)
    assert len(a.history) == 3 and a.epochs_run == 3 and a.resumed_from == 0
    assert a.history[-1].train_loss < a.history[0].train_loss
    assert not a.model.training and a.center.shape == (16,)


@pytest.mark.parametrize(("center_from", "center_rows"), [("steps", 1024), ("pass", 1024), ("pass", 16)])
def test_resume_after_interruption_ends_like_an_uninterrupted_run(
    tmp_path: Path, center_from: str, center_rows: int
) -> None:
    config = TRAIN.model_copy(update={"center_from": center_from, "center_rows": center_rows})
    reference = _train(config=config)

    def interrupt(stats: EpochStats) -> None:
        if stats.epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path, config, on_epoch_end=interrupt)
    resumed = _train(tmp_path, config)  # "steps": the next epoch's centre comes back from the checkpoint
    assert resumed.resumed_from == 1 and resumed.epochs_run == 3
    assert [h.epoch for h in resumed.history] == [1, 2, 3]
    assert _same_weights(resumed, reference) and torch.equal(resumed.center, reference.center)
    again = _train(tmp_path, config)  # a finished checkpoint: nothing left to train
    assert again.resumed_from == 3 and _same_weights(again, reference)


def test_each_epochs_centre_is_the_mean_of_the_previous_epochs_step_embeddings(monkeypatch: pytest.MonkeyPatch) -> None:
    """train.center_from = "steps": one eval pass before the first epoch and one of the final model, none between;
    epoch e + 1 pulls towards the mean DIST embedding of epoch e's training steps. "pass": a pass before every epoch."""
    passes: list[int] = []
    real_pass = trainer.compute_center

    def counted_pass(*args: object, **kwargs: object) -> torch.Tensor:
        passes.append(1)
        return real_pass(*args, **kwargs)  # type: ignore[arg-type]

    centres: list[torch.Tensor] = []  # the centre of every training step's VHM term, in order
    added: list[torch.Tensor] = []  # every training step's DIST embeddings, in order
    real_vhm, real_add = trainer.hypersphere_loss, trainer.CenterSum.add

    def vhm(
        dist_embedding: torch.Tensor, center: torch.Tensor, n_rows: int | None = None, *, per_dimension: bool = False
    ) -> torch.Tensor:
        if torch.is_grad_enabled():  # a training step, not the validation pass
            centres.append(center.detach().clone())
        return real_vhm(dist_embedding, center, n_rows, per_dimension=per_dimension)

    def add(self: trainer.CenterSum, dist_embedding: torch.Tensor) -> None:
        added.append(dist_embedding.detach().clone())
        real_add(self, dist_embedding)

    monkeypatch.setattr(trainer, "compute_center", counted_pass)
    monkeypatch.setattr(trainer, "hypersphere_loss", vhm)
    monkeypatch.setattr(trainer.CenterSum, "add", add)
    result = _train(config=TRAIN.model_copy(update={"min_steps": 0, "center_from": "steps"}))  # 5 steps an epoch
    steps = len(centres) // 3
    assert len(passes) == 2 and len(centres) == len(added) == 3 * steps
    for epoch in (1, 2):
        expected = torch.cat(added[(epoch - 1) * steps : epoch * steps]).double().mean(dim=0).float()
        for c in centres[epoch * steps : (epoch + 1) * steps]:
            assert torch.allclose(c, expected, atol=1e-6)
    assert not torch.allclose(centres[0], centres[steps], atol=1e-3)  # the centre does move with the model
    assert result.center.shape == (16,)

    passes.clear()
    _train(config=TRAIN.model_copy(update={"min_steps": 0, "center_from": "pass"}))
    assert len(passes) == 3 + 1


def test_the_centre_passes_read_a_fresh_sample_each_epoch_and_the_artifacts_centre_every_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """train.center_rows: the passes before the epochs read that many rows (another sample each epoch); the final
    centre, which scoring reads, every row; with as many rows as the limit or more, every pass reads them all."""
    seen: list[list[list[int]]] = []
    real_pass = trainer.compute_center

    def recorded_pass(model: object, rows: list[list[int]], *args: object) -> torch.Tensor:
        seen.append([list(r) for r in rows])
        return real_pass(model, rows, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(trainer, "compute_center", recorded_pass)
    result = _train(config=TRAIN.model_copy(update={"min_steps": 0, "center_rows": 16}))
    every = seen[-1]
    assert [len(rows) for rows in seen] == [16, 16, 16, len(every)] and len(every) > 16
    assert all(all(r in every for r in rows) for rows in seen[:3])
    assert seen[0] != seen[1] != seen[2]  # another sample each epoch
    assert torch.equal(result.center, real_pass(result.model, every, VOCAB.PAD))

    seen.clear()
    _train(config=TRAIN.model_copy(update={"min_steps": 0, "center_rows": len(every)}))
    assert [len(rows) for rows in seen] == [len(every)] * 4


def test_center_sample_is_seeded_sorted_and_off_when_the_rows_fit() -> None:
    assert trainer.center_sample(100, 0, 1) is None and trainer.center_sample(100, 100, 1) is None
    picked = trainer.center_sample(100, 10, 1)
    assert picked == trainer.center_sample(100, 10, 1) and picked == sorted(set(picked or []))
    assert picked is not None and len(picked) == 10 and picked != trainer.center_sample(100, 10, 2)


def test_a_checkpoint_of_another_run_is_refused(tmp_path: Path) -> None:
    _train(tmp_path, TRAIN.model_copy(update={"epochs": 1}))
    # the way out is named: there is no option for "an empty checkpoint directory", which the message asked for
    with pytest.raises(UnknownArtifact, match="other data: resume with the same ones, or drop --resume"):
        _train(tmp_path)


def test_ablations_and_a_config_with_no_loss() -> None:
    vhm_only = _train(config=TRAIN.model_copy(update={"use_mlkp": False, "alpha": 1.0, "epochs": 1}))
    mlkp_only = _train(config=TRAIN.model_copy(update={"alpha": 0.0, "epochs": 1}))
    assert vhm_only.history[0].train_loss >= 0 and mlkp_only.history[0].train_loss > 0
    with pytest.raises(ValueError, match="nothing to train"):
        _train(config=TRAIN.model_copy(update={"use_mlkp": False, "alpha": 0.0}))


def test_vocab_size_mismatch_is_refused() -> None:
    with pytest.raises(ValueError, match="vocab_size"):
        train_encoder(MODEL.model_copy(update={"vocab_size": 99}), TRAIN, VOCAB, SEQS, SEQS, progress=False)


def test_lr_factor_warms_up_then_decays_to_zero() -> None:
    factors = [lr_factor(s, 10, 100) for s in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert all(x >= y for x, y in zip(factors[9:], factors[10:], strict=False))
    assert lr_factor(100, 10, 100) == pytest.approx(0.0)


def test_early_stopping_keeps_the_best_epoch() -> None:
    # a learning rate far below float32 resolution leaves the weights, hence the val loss, unchanged (with the
    # centre from an eval pass, the default: the training steps' centre moves with dropout and masks even when the
    # weights do not)
    frozen = TRAIN.model_copy(update={"lr": 1e-12, "epochs": 5, "patience": 2})
    result = _train(config=frozen)
    assert result.stopped_early and result.epochs_run == 3 and result.best_epoch == 1
    assert len({h.val_loss for h in result.history}) == 1


def test_bf16_autocast_trains_to_about_the_fp32_loss_and_is_really_on() -> None:
    fp32, bf16 = _train(), _train(config=TRAIN.model_copy(update={"precision": "bf16"}))
    losses = [(a.val_loss, b.val_loss) for a, b in zip(fp32.history, bf16.history, strict=True)]
    assert all(abs(a - b) < 0.05 * a for a, b in losses)  # the same training, rounded differently
    assert any(a != b for a, b in losses)  # and rounded differently: autocast did run
    assert all(v.dtype == torch.float32 for v in bf16.model.state_dict().values() if v.is_floating_point())


@pytest.mark.skipif(kernels._LINEAR_POINTWISE is None, reason="this torch has no oneDNN")
def test_onednn_products_train_the_same_model_up_to_rounding_and_repeat_exactly() -> None:
    mkl = _train(config=TRAIN.model_copy(update={"cpu_matmul": "torch"}))
    onednn = _train(config=TRAIN.model_copy(update={"cpu_matmul": "onednn"}))
    for a, b in zip(mkl.history, onednn.history, strict=True):
        assert abs(a.val_loss - b.val_loss) < 1e-3 * a.val_loss
    assert _same_weights(onednn, _train(config=TRAIN.model_copy(update={"cpu_matmul": "onednn"})))


def test_bf16_on_a_cpu_without_bf16_units_is_warned_about() -> None:
    bf16 = TRAIN.model_copy(update={"precision": "bf16"})
    warning = trainer.precision_warning(bf16, has_bf16=False)
    assert warning is not None and "slower" in warning and "train.precision=fp32" in warning
    assert trainer.precision_warning(TRAIN, has_bf16=False) is None  # fp32: nothing to say
    assert trainer.precision_warning(bf16, has_bf16=True) is None  # the units do it
    # a GPU's precision is its own matter; a device this machine lacks is reported where training starts
    assert trainer.precision_warning(bf16.model_copy(update={"device": "cuda:7"}), has_bf16=False) is None


def test_compile_runs_the_same_steps_and_a_failing_compiler_only_costs_the_speed_up(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    reference = _train()
    real_compile = torch.compile
    calls: list[dict[str, object]] = []

    def eager_compile(model: torch.nn.Module, **kw: object) -> object:  # dynamo without inductor: seconds, not a minute
        calls.append(kw)
        return real_compile(model, backend="eager", **kw)  # type: ignore[call-overload]

    monkeypatch.setattr(torch, "compile", eager_compile)
    compiled = _train(config=TRAIN.model_copy(update={"compile": True}))
    assert calls == [{"dynamic": True}]
    for a, b in zip(reference.history, compiled.history, strict=True):
        assert abs(a.val_loss - b.val_loss) < 1e-5

    def broken_compile(model: torch.nn.Module, **kw: object) -> object:  # as torch 2.11's inductor on a CUDA GPU
        def step(*args: object, **kwargs: object) -> object:
            raise AssertionError("InductorError: AssertionError")

        return step

    monkeypatch.setattr(torch, "compile", broken_compile)
    with caplog.at_level("WARNING", logger="logbert.training.trainer"):
        fallback = _train(config=TRAIN.model_copy(update={"compile": True}))
    assert _same_weights(fallback, reference)  # the same steps, eagerly
    assert sum("torch.compile failed" in r.getMessage() for r in caplog.records) == 1  # said once, not per step


def test_a_compiled_cuda_step_asks_for_fixed_shapes_and_cuda_graphs(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch.compile is lazy: the options a CUDA run asks for can be read on this CPU-only machine."""
    calls: list[dict[str, object]] = []

    def record(model: torch.nn.Module, **kw: object) -> torch.nn.Module:
        calls.append(kw)
        return model

    monkeypatch.setattr(torch, "compile", record)
    model = LogBertEncoder(MODEL)
    assert trainer.CompiledStep(model, torch.device("cuda")).static
    assert not trainer.CompiledStep(model, torch.device("cpu")).static
    trainer.CompiledStep(model, torch.device("cuda"), distributed=True)  # DDP's hooks: no CUDA graphs
    assert calls == [{"dynamic": False, "mode": "reduce-overhead"}, {"dynamic": True}, {"dynamic": False}]


def test_the_fixed_width_of_a_compiled_cuda_step_trains_the_same_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CUDA path's padding to one width (masks drawn before it) run here on the CPU, eagerly: the same losses
    up to rounding, so the padding columns are neither attended to nor learnt from. (No dropout: its draws cover the
    padding columns too, so with dropout the padded run is another random draw.)"""
    model_config = MODEL.model_copy(update={"dropout": 0.0})

    def run(cfg: TrainConfig) -> TrainResult:
        return train_encoder(model_config, cfg, VOCAB, SEQS[:40], SEQS[40:], progress=False)

    reference = run(TRAIN)
    init = trainer.CompiledStep.__init__

    def static_on_cpu(self: trainer.CompiledStep, model: torch.nn.Module, device: torch.device, **kw: bool) -> None:
        init(self, model, device, **kw)
        self.compiled, self.static = model, True  # eager, but padded as on a GPU

    monkeypatch.setattr(trainer.CompiledStep, "__init__", static_on_cpu)
    widths: list[int] = []
    loss = trainer._loss

    def recording_loss(model: object, token_ids: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
        widths.append(token_ids.shape[1])
        return loss(model, token_ids, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(trainer, "_loss", recording_loss)
    padded = run(TRAIN.model_copy(update={"compile": True}))
    assert set(widths[:5]) == {MODEL.max_len + 1}  # the first epoch's 5 steps (validation is not padded)
    for a, b in zip(reference.history, padded.history, strict=True):
        assert a.train_loss == pytest.approx(b.train_loss, rel=1e-5)
        assert a.val_loss == pytest.approx(b.val_loss, rel=1e-5)


def test_a_compiled_step_that_fails_in_its_backward_is_made_again_eagerly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Inductor compiles a graph's backward at its first use: a failure there must cost the speed-up only, and the
    redone step must not count the failed try's DIST embeddings in the next centre (train.center_from = "steps")."""
    config = TRAIN.model_copy(update={"center_from": "steps"})
    model_config = MODEL.model_copy(update={"dropout": 0.0})  # the failed try draws no dropout the redo would not

    def run(cfg: TrainConfig) -> TrainResult:
        return train_encoder(model_config, cfg, VOCAB, SEQS[:40], SEQS[40:], progress=False)

    reference = run(config)

    class FailsBackward(torch.autograd.Function):
        @staticmethod
        def forward(ctx: object, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
            return x.clone()

        @staticmethod
        def backward(ctx: object, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
            raise RuntimeError("InductorError: the backward graph failed to compile")

    def compile_fails_backward(model: torch.nn.Module, **kw: object) -> object:
        def forward(*args: object, **kwargs: object) -> object:
            out = model(*args, **kwargs)
            return out._replace(logits=FailsBackward.apply(out.logits))

        return forward

    monkeypatch.setattr(torch, "compile", compile_fails_backward)
    with caplog.at_level("WARNING", logger="logbert.training.trainer"):
        fallback = run(config.model_copy(update={"compile": True}))
    assert sum("torch.compile failed" in r.getMessage() for r in caplog.records) == 1
    assert _same_weights(fallback, reference) and torch.equal(fallback.center, reference.center)


def test_a_checkpoint_of_one_model_shape_does_not_resume_into_another() -> None:
    """model.positions and model.mark_last are part of the checkpoint fingerprint (when not at their defaults, which
    are left out so that checkpoints from before the settings still resume)."""
    from logbert.training.checkpoint import fingerprint
    from logbert.windowing.dataset import MaskedKeyDataset

    train, val = MaskedKeyDataset(SEQS[:40], VOCAB, 8), MaskedKeyDataset(SEQS[40:], VOCAB, 8)

    def fp(model: ModelConfig) -> str:
        return fingerprint(model, TRAIN, len(VOCAB), train, val)

    marked, order_free = MODEL.model_copy(update={"mark_last": True}), MODEL.model_copy(update={"positions": False})
    both = order_free.model_copy(update={"mark_last": True})
    assert len({fp(MODEL), fp(marked), fp(order_free), fp(both)}) == 4


def test_the_hypersphere_term_per_dimension_is_the_summed_one_divided_by_the_width() -> None:
    """train.vhm_per_dimension: the same step's loss, its VHM part d_model times smaller."""
    model = LogBertEncoder(MODEL)
    ds = MaskedKeyDataset(SEQS[:8], VOCAB, MODEL.max_len)
    batch = ds.collate_index(list(range(8)), 0.5, torch.Generator().manual_seed(0))
    center = torch.randn(MODEL.d_model)

    def loss(**update: object) -> float:
        config = TRAIN.model_copy(update={"alpha": 1.0, **update})
        with torch.no_grad():
            return float(trainer._loss(model.eval(), batch.token_ids, batch.labels, batch.pad_mask, center, config))

    mlkp = loss(alpha=0.0)
    summed, per_dimension = loss() - mlkp, loss(vhm_per_dimension=True) - mlkp
    assert summed > 1.0
    assert per_dimension == pytest.approx(summed / MODEL.d_model, rel=1e-4)


@pytest.mark.parametrize(("field", "set_to"), [("vhm_per_dimension", True), ("pattern_power", 0.5)])
def test_a_setting_at_its_default_keeps_the_checkpoint_fingerprint_of_older_runs(
    monkeypatch: pytest.MonkeyPatch, field: str, set_to: object
) -> None:
    """A checkpoint made before the setting existed resumes: the field is hashed only when set."""
    from logbert.training import checkpoint

    hashed: list[object] = []
    real_dumps = checkpoint.json.dumps

    def recording_dumps(obj: object, **kw: object) -> str:
        hashed.append(obj)
        return real_dumps(obj, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(checkpoint.json, "dumps", recording_dumps)
    train, val = MaskedKeyDataset(SEQS[:40], VOCAB, 8), MaskedKeyDataset(SEQS[40:], VOCAB, 8)
    default = checkpoint.fingerprint(MODEL, TRAIN, len(VOCAB), train, val)
    train_dumps = [d for d in hashed if isinstance(d, dict) and "alpha" in d]
    assert train_dumps and all(field not in d for d in train_dumps)
    changed = checkpoint.fingerprint(MODEL, TRAIN.model_copy(update={field: set_to}), len(VOCAB), train, val)
    assert changed != default


def test_pattern_weights_draw_a_pattern_in_proportion_to_its_count_to_the_power() -> None:
    rows = [[1, 2], [1, 2], [1, 2], [2, 1], [3]]
    assert trainer.pattern_weights(rows, 1.0, order_free=False) is None  # the default: every row once a pass
    in_order = trainer.pattern_weights(rows, 0.5, order_free=False)
    assert in_order is not None
    assert in_order.tolist() == pytest.approx([3**-0.5] * 3 + [1.0, 1.0])  # (1, 2) met 3 times: sqrt(3) in all
    as_sets = trainer.pattern_weights(rows, 0.0, order_free=True)  # (1, 2) and (2, 1) are one multiset
    assert as_sets is not None and as_sets.tolist() == pytest.approx([0.25] * 4 + [1.0])


def test_an_epoch_draws_rows_with_replacement_by_weight_and_a_plain_one_permutes() -> None:
    gen = torch.Generator().manual_seed(0)
    assert sorted(trainer.epoch_order(5, 2, None, gen)) == sorted(list(range(5)) * 2)
    rows = [[7, 8]] * 900 + [[9]] * 100
    weights = trainer.pattern_weights(rows, 0.0, order_free=False)
    drawn = trainer.epoch_order(len(rows), 20, weights, torch.Generator().manual_seed(0))
    assert len(drawn) == 20 * len(rows)
    rare = sum(i >= 900 for i in drawn) / len(drawn)
    assert rare == pytest.approx(0.5, abs=0.02)  # each pattern half the draws, where it is 10 % of the rows
    again = trainer.epoch_order(len(rows), 20, weights, torch.Generator().manual_seed(0))
    assert drawn == again


def test_pattern_power_teaches_a_rare_normal_pattern_that_the_logged_frequencies_leave_unlearnt() -> None:
    """One row of 40 holds a pattern of its own: drawn as often as the common one, the model predicts it better."""
    common, rare = [10, 11, 12, 13, 14, 15], [10, 11, 16, 17, 14, 15]
    rows = [common] * 39 + [rare]
    vocab = Vocab.fit(rows)
    model_cfg = MODEL.model_copy(update={"vocab_size": len(vocab)})

    def rare_loss(power: float) -> float:
        config = TRAIN.model_copy(update={"epochs": 4, "pattern_power": power, "alpha": 0.0})
        result = train_encoder(model_cfg, config, vocab, rows, [common, rare], progress=False)
        ds = MaskedKeyDataset([rare], vocab, 8)
        tokens = ds.collate_index([0], 0.0, torch.Generator().manual_seed(0), None).token_ids
        masked = tokens.clone()
        masked[0, 3:5] = vocab.MASK  # the rare pattern's own keys, 16 and 17
        with torch.no_grad():
            logits = result.model(masked, masked == vocab.PAD).logits[0, 3:5]
        return float(torch.nn.functional.cross_entropy(logits, tokens[0, 3:5]))

    logged, balanced = rare_loss(1.0), rare_loss(0.0)
    assert balanced < 0.5 * logged


def test_pattern_power_changes_the_training() -> None:
    result = _train(config=TRAIN.model_copy(update={"pattern_power": 0.5}))
    assert not _same_weights(result, _train())  # the draws changed the training


def test_the_trainer_examples_hold() -> None:
    """The examples in the trainer's docstrings (passes an epoch, batch order) are run, not only read."""
    assert doctest.testmod(trainer).failed == 0


def test_the_centre_embeds_each_distinct_row_once_and_weighs_it_by_its_count() -> None:
    """Real logs repeat their sessions: the centre pass embeds a repeated row once and counts it as often as it
    occurs, which gives the mean over every row (up to float rounding)."""
    torch.manual_seed(0)
    model = LogBertEncoder(MODEL).eval()
    a, b, c = encode_sequences(SEQS[:3], VOCAB, MODEL.max_len)
    rows = [a] * 5 + [b, c] + [b] * 3  # 10 rows, 3 distinct
    embedded: list[int] = []
    real_forward = model.forward

    def counted(*args: object, **kwargs: object) -> object:
        embedded.append(len(args[0]))  # type: ignore[arg-type]
        return real_forward(*args, **kwargs)  # type: ignore[arg-type]

    model.forward = counted  # type: ignore[method-assign]
    center = trainer.compute_center(model, rows, VOCAB.PAD)
    assert sum(embedded) == 3
    with torch.no_grad():
        one_by_one = torch.stack([
            real_forward(*trainer.pad_tokens([r], VOCAB.PAD), predict_at=torch.zeros(1, 0, dtype=torch.long))
            .dist_embedding[0]
            for r in rows
        ]).double().mean(dim=0).float()
    assert torch.allclose(center, one_by_one, atol=1e-6)
    # signal rows are part of a row: the same keys with other signals are another row
    gaps = [[3] * (len(r) + 1) for r in rows]
    gaps[1] = [4] * (len(rows[1]) + 1)
    first, inverse = trainer.distinct_rows(rows, gaps, None)
    assert first == [0, 1, 5, 6] and inverse.tolist() == [0, 1, 0, 0, 0, 2, 3, 2, 2, 2]
