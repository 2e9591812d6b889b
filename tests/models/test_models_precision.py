"""precision: auto picks bf16 mixed precision on CPUs that multiply bf16 natively."""

from __future__ import annotations

from pathlib import Path

import pytest

from xrayssl.models.precision import auto_precision, cpu_flags, cpu_has_native_bf16

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
flags\t\t: fpu sse2 avx2 avx512f avx512bw {extra}
bogomips\t: 4800.00
"""


@pytest.mark.parametrize(("extra", "native"), [("avx512_bf16", True), ("amx_bf16 amx_tile", True),
                                               ("avx512_vnni", False), ("", False)])
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path: Path, extra: str, native: bool) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(CPUINFO.format(extra=extra))
    assert ("avx512f" in cpu_flags(info)) is True
    assert cpu_has_native_bf16(info) is native
    assert auto_precision(False, info) == ("bf16-mixed" if native else "32-true")


def test_unreadable_cpuinfo_means_fp32(tmp_path: Path) -> None:
    assert cpu_flags(tmp_path / "missing") == set()
    assert auto_precision(False, tmp_path / "missing") == "32-true"
