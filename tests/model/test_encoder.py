import pytest
import torch

from logbert.config import ModelConfig
from logbert.model.encoder import EncoderOutput, LogBertEncoder

torch.set_num_threads(1)
CONFIG = ModelConfig(vocab_size=11, max_len=6, d_model=16, d_ff=32, n_heads=2, n_layers=1)


def test_shapes_and_typed_output() -> None:
    torch.manual_seed(0)
    model = LogBertEncoder(CONFIG).eval()
    token_ids = torch.tensor([[1, 4, 5, 6, 0], [1, 7, 0, 0, 0]])  # (B, T)
    out = model(token_ids, token_ids == 0)
    assert isinstance(out, EncoderOutput)
    assert out.logits.shape == (2, 5, 11) and out.dist_embedding.shape == (2, 16)


def test_padding_does_not_change_real_positions_and_no_state_is_kept() -> None:
    torch.manual_seed(0)
    model = LogBertEncoder(CONFIG).eval()
    short = torch.tensor([[1, 4, 5]])
    padded = torch.tensor([[1, 4, 5, 0, 0, 0, 0]])
    with torch.no_grad():
        a = model(short, short == 0)
        b = model(padded, padded == 0)
        c = model(short, short == 0)
    torch.testing.assert_close(a.logits, b.logits[:, :3])
    torch.testing.assert_close(a.dist_embedding, b.dist_embedding)
    assert torch.equal(a.logits, c.logits)


def test_vocab_size_must_be_set() -> None:
    with pytest.raises(ValueError, match="vocab_size"):
        LogBertEncoder(ModelConfig())
