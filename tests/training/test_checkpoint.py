import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn
from training_helpers import resume_run

from rnnkit.training import CheckpointError, Trainer, TrainerConfig, load_weights, read_checkpoint
from rnnkit.training.checkpoint import CheckpointWarning

HERE = Path(__file__).resolve().parent


def fit_small(ckpt_dir, epochs=2):
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    x = torch.randn(16, 3)
    cfg = TrainerConfig(epochs=epochs, batch_size=4, checkpoint_dir=str(ckpt_dir), optimizer="adam",
                        checkpoint_every_steps=2, keep_last=2, progress="none")
    trainer = Trainer(cfg)
    trainer.fit(model, list(zip(x, x.sum(1, keepdim=True))), loss_fn=nn.functional.mse_loss)
    return model, trainer


def test_checkpoint_layout_and_round_trip(tmp_path):
    model, _ = fit_small(tmp_path)
    latest = (tmp_path / "latest").read_text().strip()
    assert latest == "epoch0002-batch000000"
    d = tmp_path / latest
    assert sorted(p.name for p in d.iterdir()) == [
        "model.safetensors", "optimizer.safetensors", "state.safetensors", "trainer_state.json"]
    assert not list(tmp_path.glob(".tmp-*"))
    # keep_last=2 step checkpoints plus best
    kept = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert len(kept) <= 3 and latest in kept
    tensors, meta = read_checkpoint(tmp_path)
    assert meta["global_step"] == 8 and meta["config"]["optimizer"] == "adam"
    assert "state.0.exp_avg" in "".join(tensors["optimizer.safetensors"])
    fresh = nn.Linear(3, 1)
    load_weights(fresh, tmp_path)
    assert torch.equal(fresh.weight, model.weight)


def test_corrupt_checkpoint_is_a_clear_error_and_previous_survives(tmp_path):
    fit_small(tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    latest = tmp_path / (tmp_path / "latest").read_text().strip()
    previous = tmp_path / [n for n in names if n != latest.name][-1]
    data = (latest / "model.safetensors").read_bytes()
    (latest / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"is corrupt: model\.safetensors does not match"):
        read_checkpoint(latest)
    read_checkpoint(previous)  # still intact
    # the root falls back to the newest complete checkpoint, and says so
    with pytest.warns(CheckpointWarning, match="previous complete one"):
        _, meta = read_checkpoint(tmp_path)
    assert meta["path"] == str(previous)
    (latest / "optimizer.safetensors").unlink()
    with pytest.raises(CheckpointError, match="is partial: missing"):
        read_checkpoint(latest)
    (previous / "trainer_state.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"trainer_state\.json is corrupt"):
        read_checkpoint(previous)


def test_interrupted_write_leaves_previous_checkpoint(tmp_path):
    fit_small(tmp_path)
    before = (tmp_path / "latest").read_text()
    # A crash mid-write leaves only a temp dir behind; latest still names a complete checkpoint.
    tmp = tmp_path / ".tmp-epoch0003-batch000000-123"
    tmp.mkdir()
    (tmp / "model.safetensors").write_bytes(b"\x00" * 10)
    assert (tmp_path / "latest").read_text() == before
    read_checkpoint(tmp_path)


def test_pickle_files_are_refused(tmp_path):
    model = nn.Linear(2, 1)
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    (tmp_path / "weights.pkl").write_bytes(pickle.dumps({"a": 1}))
    (tmp_path / "sneaky.safetensors").write_bytes(pickle.dumps({"a": 1}))
    for name in ("weights.pt", "weights.pkl", "sneaky.safetensors"):
        with pytest.raises(CheckpointError, match=r"Refusing to load .*pickle"):
            load_weights(model, tmp_path / name)
        with pytest.raises(CheckpointError, match="Refusing to load"):
            Trainer(TrainerConfig(progress="none")).fit(
                model, [(torch.zeros(2), torch.zeros(1))], loss_fn=nn.functional.mse_loss,
                resume=tmp_path / name)


def test_bare_safetensors_weights_load(tmp_path):
    model = nn.Linear(2, 1)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, tmp_path / "w.safetensors")
    other = nn.Linear(2, 1)
    load_weights(other, tmp_path / "w.safetensors")
    assert torch.equal(other.weight, model.weight)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_weights(other, tmp_path / "nope")


def test_resume_after_sigkill_equals_uninterrupted_run(tmp_path):
    full_model, full_trainer, full_hist = resume_run(str(tmp_path / "full"))
    crash_dir = tmp_path / "crash"
    proc = subprocess.run([sys.executable, str(HERE / "scripts" / "resume_train.py"),
                           str(crash_dir), "9"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    meta = json.loads((crash_dir / (crash_dir / "latest").read_text().strip()
                       / "trainer_state.json").read_text())
    assert meta["global_step"] == 8 and meta["position"] == [1, 2]  # mid-epoch checkpoint
    model, trainer, hist = resume_run(str(crash_dir), resume=str(crash_dir))
    assert trainer.global_step == full_trainer.global_step == 18
    for (k, a), b in zip(full_model.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), k
    def strip(history):
        return [{k: v for k, v in row.items() if k != "time_s"} for row in history]

    assert strip(hist) == strip(full_hist) and len(hist) == 3


@pytest.mark.gpu
def test_gpu_fp16_checkpoint_loads_and_resumes_on_cpu(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(16, 3)
    data = list(zip(x, x.sum(1, keepdim=True)))
    base = dict(batch_size=4, checkpoint_dir=str(tmp_path), optimizer="adam", progress="none")
    gpu_model = nn.Linear(3, 1)
    Trainer(TrainerConfig(epochs=1, device="cuda", precision="fp16", **base)).fit(
        gpu_model, data, loss_fn=nn.functional.mse_loss)
    cpu_model = nn.Linear(3, 1)
    load_weights(cpu_model, tmp_path)
    assert torch.equal(cpu_model.weight, gpu_model.weight.cpu())
    t = Trainer(TrainerConfig(epochs=2, device="cpu", **base))
    t.fit(cpu_model, data, loss_fn=nn.functional.mse_loss, resume=tmp_path)
    assert t.global_step == 8 and cpu_model.weight.device.type == "cpu"
