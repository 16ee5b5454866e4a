"""The default precision: bf16 only where the CPU computes it natively (dcgan_keras/precision.py)."""

import keras
import pytest

from dcgan_keras import precision


def test_native_bf16_is_read_from_the_cpu_flags(tmp_path):
    with_bf16, without = tmp_path / "amx", tmp_path / "old"
    with_bf16.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 amx_tile\n")
    without.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n")
    assert precision.native_bf16(with_bf16) and not precision.native_bf16(without)
    assert not precision.native_bf16(tmp_path / "missing")  # not Linux: cannot tell, so float32


@pytest.mark.parametrize("native", [True, False])
def test_auto_picks_bf16_only_for_tensorflow_on_a_native_bf16_cpu(monkeypatch, native):
    monkeypatch.setattr(precision, "native_bf16", lambda: native)
    monkeypatch.setattr(precision, "device_kind", lambda: "cpu")
    expected = "mixed_bfloat16" if native and keras.backend.backend() == "tensorflow" else "float32"
    assert precision.resolve("auto") == expected
    monkeypatch.setattr(precision, "device_kind", lambda: "gpu")
    assert precision.resolve("auto") == "float32"  # bf16 quality on a GPU was not measured
    assert precision.resolve("float32") == "float32"
